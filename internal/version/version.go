// Package version says which build of glb is running: the version and git
// revision the Makefile injects with -ldflags -X, or else what the Go
// toolchain stamped into the binary, and the Go version. All binaries print
// it for --version, and glbd and glbprobe export it as glb_build_info.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Set by the Makefile:
//
//	-ldflags "-X github.com/glb-dns/glb/internal/version.version=v0.1.0
//	          -X github.com/glb-dns/glb/internal/version.revision=1a2b3c4d5e6f"
//
// Build environments often turn Go's own VCS stamping off
// (GOFLAGS=-buildvcs=false), so the Makefile reads git itself; a plain
// go build falls back to the build info (see Get).
var (
	version  string
	revision string
)

// What Get reports when nothing recorded the version or the revision: a
// go build or go run outside the Makefile, from a tree without git.
const (
	Devel   = "devel"
	Unknown = "unknown"
)

// Info identifies a build.
type Info struct {
	Version   string // e.g. v0.2.0, v0.2.0-3-g1a2b3c4d5e6f, v0.0.0-dev; Devel when nothing recorded it
	Revision  string // git commit, 12 hex digits, "-dirty" when the tree had changes; Unknown when nothing recorded it
	GoVersion string // the toolchain that built the binary, e.g. go1.26.8
}

// Get returns this binary's build: the injected values first, then Go's
// build info (the module version of a go install, vcs.revision of a build
// in a git checkout).
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, revision, bi)
}

// resolve is Get with its inputs passed in, for tests.
func resolve(version, revision string, bi *debug.BuildInfo) Info {
	i := Info{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			i.GoVersion = bi.GoVersion
		}
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		if i.Revision == "" {
			var rev string
			var modified bool
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if rev != "" {
				i.Revision = shorten(rev)
				if modified {
					i.Revision += "-dirty"
				}
			}
		}
	}
	if i.Version == "" {
		i.Version = Devel
	}
	if i.Revision == "" {
		i.Revision = Unknown
	}
	return i
}

// shorten cuts a full commit hash to 12 hex digits, as the Makefile does.
func shorten(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// String is the one line --version prints, e.g.
// "glbd v0.2.0 (revision 1a2b3c4d5e6f, go1.26.8)".
func (i Info) String(program string) string {
	return fmt.Sprintf("%s %s (revision %s, %s)", program, i.Version, i.Revision, i.GoVersion)
}

// Short is the version and revision without the program name, for status
// pages: "v0.2.0 (revision 1a2b3c4d5e6f, go1.26.8)".
func (i Info) Short() string {
	return fmt.Sprintf("%s (revision %s, %s)", i.Version, i.Revision, i.GoVersion)
}

// Register adds glb_build_info{version,revision,goversion} 1 to reg, the
// usual way to put a build on dashboards and alert on mixed fleets.
func Register(reg prometheus.Registerer, i Info) {
	promauto.With(reg).NewGauge(prometheus.GaugeOpts{
		Namespace:   "glb",
		Name:        "build_info",
		Help:        "A constant 1, labelled with the version and git revision of this build and the Go version that built it.",
		ConstLabels: prometheus.Labels{"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion},
	}).Set(1)
}
