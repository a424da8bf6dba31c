package version

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestResolve(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified},
		}}
	}
	for _, tc := range []struct {
		name              string
		version, revision string
		bi                *debug.BuildInfo
		want              Info
	}{
		{"injected wins over build info", "v0.2.0", "1a2b3c4d5e6f", vcs("ffffffffffffffffffffffffffffffffffffffff", "false"),
			Info{"v0.2.0", "1a2b3c4d5e6f", "go1.26.8"}},
		{"vcs stamping, clean tree", "", "", vcs("0123456789abcdef0123456789abcdef01234567", "false"),
			Info{Devel, "0123456789ab", "go1.26.8"}},
		{"vcs stamping, modified tree", "", "", vcs("0123456789abcdef0123456789abcdef01234567", "true"),
			Info{Devel, "0123456789ab-dirty", "go1.26.8"}},
		{"go install of a tagged module", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.1"}},
			Info{"v0.3.1", Unknown, "go1.26.8"}},
		{"-buildvcs=false without the Makefile", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			Info{Devel, Unknown, "go1.26.8"}},
		{"injected version, revision from vcs", "v0.2.0", "", vcs("0123456789abcdef0123456789abcdef01234567", "false"),
			Info{"v0.2.0", "0123456789ab", "go1.26.8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolve(tc.version, tc.revision, tc.bi); got != tc.want {
				t.Errorf("resolve = %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := resolve("", "", nil); got.Version != Devel || got.Revision != Unknown || !strings.HasPrefix(got.GoVersion, "go") {
		t.Errorf("resolve without build info = %+v", got)
	}
}

func TestString(t *testing.T) {
	i := Info{"v0.2.0", "1a2b3c4d5e6f", "go1.26.8"}
	if got, want := i.String("glbd"), "glbd v0.2.0 (revision 1a2b3c4d5e6f, go1.26.8)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := i.Short(), "v0.2.0 (revision 1a2b3c4d5e6f, go1.26.8)"; got != want {
		t.Errorf("Short = %q, want %q", got, want)
	}
}

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	Register(reg, Info{"v0.2.0", "1a2b3c4d5e6f", "go1.26.8"})
	want := `# HELP glb_build_info A constant 1, labelled with the version and git revision of this build and the Go version that built it.
# TYPE glb_build_info gauge
glb_build_info{goversion="go1.26.8",revision="1a2b3c4d5e6f",version="v0.2.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "glb_build_info"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestLinkerFlags builds glbctl with the -X flags the Makefile passes
// (with -buildvcs=false, as in many build environments), so that renaming
// the variables breaks a test and not the releases.
func TestLinkerFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "glbctl")
	pkg := "github.com/glb-dns/glb/internal/version"
	args := append([]string{"build", "-buildvcs=false", "-o", bin}, raceFlags...)
	build := exec.Command("go", append(args, "-ldflags", "-X "+pkg+".version=v9.8.7 -X "+pkg+".revision=0123456789ab", "../../cmd/glbctl")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("glbctl %v: %v", args, err)
		}
		if got, want := string(out), "glbctl v9.8.7 (revision 0123456789ab, "; !strings.HasPrefix(got, want) {
			t.Errorf("glbctl %v = %q, want it to start with %q", args, got, want)
		}
	}
}
