package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeDist makes a dist directory with small stand-ins for the binaries.
func fakeDist(t *testing.T) string {
	t.Helper()
	dist := t.TempDir()
	dir := filepath.Join(dist, "linux-amd64")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range binaries {
		if err := os.WriteFile(filepath.Join(dir, b), []byte("binary "+b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dist
}

func testOptions(dist string) options {
	return options{
		dist: dist, repo: "../..", version: "v9.8.7", revision: "0123456789ab",
		platforms: []string{"linux/amd64"}, caFile: "../../LICENSE", // any file stands in for the CA bundle
		created: time.Unix(1767225600, 0).UTC(), name: "glb",
	}
}

// TestBuildAndUnpack builds an image from stand-in binaries, unpacks it and
// checks the file system and config a runtime would use.
func TestBuildAndUnpack(t *testing.T) {
	o := testOptions(fakeDist(t))
	out, _, err := build(o, "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(o.dist, "glb-v9.8.7-image-linux-amd64.oci.tar"); out != want {
		t.Errorf("archive %s, want %s", out, want)
	}
	root := t.TempDir()
	var cfg bytes.Buffer
	if err := unpackArchive(out, root, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ref=glb:v9.8.7", "arch=amd64", "entrypoint=/usr/local/bin/glbd", "user=65532:65532", "workdir=/usr/share/glb"} {
		if !strings.Contains(cfg.String(), want+"\n") {
			t.Errorf("config lacks %q:\n%s", want, cfg.String())
		}
	}
	for _, f := range []struct {
		path    string
		mode    os.FileMode
		content string // substring
	}{
		{"usr/local/bin/glbd", 0o755, "binary glbd"},
		{"usr/local/bin/glbprobe", 0o755, "binary glbprobe"},
		{"usr/local/bin/glbctl", 0o755, "binary glbctl"},
		{"etc/passwd", 0o644, "glbd:x:65532:65532:"},
		{"etc/group", 0o644, "glbd:x:65532:"},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, "Apache License"},
		{"usr/share/glb/testdata/dev/config.json", 0o644, "gslb.example.test"},
		{"usr/share/glb/testdata/geoip/glb-test-city.mmdb", 0o644, "MaxMind.com"},
		{"usr/share/glb/LICENSE", 0o644, "Apache License"},
		{"usr/share/glb/NOTICE", 0o644, "Natural Earth"},
		{"var/lib/glbd", 0o700 | os.ModeDir, ""},
		{"tmp", 0o777 | os.ModeDir | os.ModeSticky, ""},
	} {
		p := filepath.Join(root, f.path)
		fi, err := os.Stat(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, fi.Mode(), f.mode)
		}
		if f.content != "" {
			if b, _ := os.ReadFile(p); !bytes.Contains(b, []byte(f.content)) {
				t.Errorf("%s does not contain %q", f.path, f.content)
			}
		}
	}
}

// TestReproducible builds the same image twice: the archives must be the
// same bytes.
func TestReproducible(t *testing.T) {
	dist := fakeDist(t)
	var archives [][]byte
	for range 2 {
		out, _, err := build(testOptions(dist), "linux/amd64")
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, b)
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Error("two builds of the same inputs differ")
	}
}

func TestMissingBinary(t *testing.T) {
	o := testOptions(t.TempDir())
	if _, _, err := build(o, "linux/amd64"); err == nil || !strings.Contains(err.Error(), "make dist first") {
		t.Errorf("build without binaries: %v, want an error saying make dist first", err)
	}
}
