package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user glbd runs as: 65532, "nonroot" in distroless images, so that
// policies written for those fit.
const (
	uid      = 65532
	gid      = 65532
	user     = "glbd"
	workDir  = "/usr/share/glb" // holds testdata/, so that glbd -dev finds its seed and GeoIP fixture
	stateDir = "/var/lib/glbd"
)

// binaries are the programs in /usr/local/bin; the first is the entrypoint.
var binaries = []string{"glbd", "glbprobe", "glbctl"}

// build writes the OCI archive of one platform and returns its path and
// the compressed size of its layers.
func build(o options, platform string) (string, int64, error) {
	osName, arch, ok := strings.Cut(platform, "/")
	if !ok {
		return "", 0, fmt.Errorf("platform %q: want os/arch", platform)
	}
	base, err := baseLayer(o)
	if err != nil {
		return "", 0, err
	}
	bins, err := binaryLayer(o, filepath.Join(o.dist, osName+"-"+arch))
	if err != nil {
		return "", 0, err
	}
	created := v1.Time{Time: o.created}
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: created, CreatedBy: "deploy/image: /etc (passwd, group, CA certificates), /tmp, " + stateDir + ", " + workDir + " (LICENSE, NOTICE, dev seed, test GeoIP database)"}},
		mutate.Addendum{Layer: bins, MediaType: types.OCILayer, History: v1.History{
			Created: created, CreatedBy: "deploy/image: /usr/local/bin/glbd, glbprobe, glbctl from make dist"}},
	)
	if err != nil {
		return "", 0, fmt.Errorf("append layers: %w", err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return "", 0, fmt.Errorf("config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = created
	cf.OS, cf.Architecture = osName, arch
	cf.Author = "The glb Authors"
	cf.Config = v1.Config{
		Entrypoint: []string{"/usr/local/bin/" + binaries[0]},
		User:       fmt.Sprintf("%d:%d", uid, gid),
		WorkingDir: workDir,
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		ExposedPorts: map[string]struct{}{
			"53/udp": {}, "53/tcp": {}, "8053/tcp": {},
		},
		Volumes: map[string]struct{}{stateDir: {}},
		Labels:  labels(o),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return "", 0, fmt.Errorf("set config: %w", err)
	}
	img = mutate.Annotations(img, labels(o)).(v1.Image)

	out := filepath.Join(o.dist, fmt.Sprintf("%s-%s-image-%s-%s.oci.tar", o.name, o.version, osName, arch))
	if err := writeArchive(out, img, o.name+":"+o.version, o.created); err != nil {
		return "", 0, err
	}
	var size int64
	for _, l := range []v1.Layer{base, bins} {
		n, err := l.Size()
		if err != nil {
			return "", 0, err
		}
		size += n
	}
	return out, size, nil
}

// labels are the OCI annotations of the image, also set as its labels.
func labels(o options) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "glb",
		"org.opencontainers.image.description": "glbd, a global DNS load balancer, with glbprobe and glbctl",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.revision":    o.revision,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.created":     o.created.Format("2006-01-02T15:04:05Z"),
	}
}

// baseLayer is everything but the binaries: it changes only when the CA
// bundle or the fixtures do, so a new release's pull fetches the binaries
// alone.
func baseLayer(o options) (v1.Layer, error) {
	ca, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificates: %w", err)
	}
	var files []file
	for _, f := range []struct{ from, to string }{
		{"LICENSE", workDir + "/LICENSE"},
		{"NOTICE", workDir + "/NOTICE"},
		{"testdata/dev/config.json", workDir + "/testdata/dev/config.json"},
		{"testdata/geoip/glb-test-city.mmdb", workDir + "/testdata/geoip/glb-test-city.mmdb"},
	} {
		b, err := os.ReadFile(filepath.Join(o.repo, f.from))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.from, err)
		}
		files = append(files, file{name: f.to, mode: 0o644, data: b})
	}
	files = append(files,
		file{name: "/etc/passwd", mode: 0o644, data: fmt.Appendf(nil,
			"root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:glb:%s:/sbin/nologin\n", user, uid, gid, stateDir)},
		file{name: "/etc/group", mode: 0o644, data: fmt.Appendf(nil, "root:x:0:\n%s:x:%d:\n", user, gid)},
		file{name: "/etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		file{name: "/etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		file{name: "/tmp", mode: 0o1777, dir: true},
		file{name: stateDir, mode: 0o700, dir: true, uid: uid, gid: gid},
	)
	return layer(files, o.created)
}

// binaryLayer holds the three programs.
func binaryLayer(o options, dir string) (v1.Layer, error) {
	var files []file
	for _, b := range binaries {
		data, err := os.ReadFile(filepath.Join(dir, b))
		if err != nil {
			return nil, fmt.Errorf("read binary (make dist first): %w", err)
		}
		files = append(files, file{name: "/usr/local/bin/" + b, mode: 0o755, data: data})
	}
	return layer(files, o.created)
}
