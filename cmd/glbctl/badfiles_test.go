package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadFiles checks that a file given on the command line that is
// missing, not a file, not YAML or not valid is refused with exit status 2
// and a line naming the file (and the line in it, where there is one),
// before anything is read from etcd or glbd: the commands here have none to
// talk to.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing.yaml")
	syntax := write("syntax.yaml", "regions:\n  eu-west: {lat: 1, lon: 2\n")
	tabs := write("tabs.yaml", "regions:\n\teu-west: {}\n")
	invalid := write("invalid.yaml", "regions:\n  eu-west: {lat: 91, lon: 2, addrs: [192.0.2.1]}\n")
	clients := write("clients.txt", "81.2.69.160\n81.2.69.999\n")
	cases := []struct {
		name  string
		args  []string
		want  []string // substrings of the first line
		lines int      // lines on stderr
	}{
		{"validate missing file", []string{"validate", "-f", missing}, []string{"glbctl validate:", missing, "no such file"}, 1},
		{"apply missing file", []string{"apply", "-f", missing}, []string{"glbctl apply:", missing, "no such file"}, 1},
		{"validate a directory", []string{"validate", "-f", dir}, []string{"glbctl validate:", dir, "is a directory"}, 1},
		{"validate YAML syntax error", []string{"validate", "-f", syntax}, []string{syntax + ":"}, 2},
		{"validate tabs for indentation", []string{"validate", "-f", tabs}, []string{tabs + ":2:"}, 2},
		{"validate invalid value", []string{"validate", "-f", invalid}, []string{invalid + ":2:", "lat"}, 2},
		{"apply invalid value", []string{"apply", "-f", invalid}, []string{invalid + ":2:", "lat"}, 2},
		{"simulate clients file missing", []string{"simulate", "www", "--clients", filepath.Join(dir, "none.txt")}, []string{"glbctl simulate:", "none.txt"}, 1},
		{"simulate clients file bad line", []string{"simulate", "www", "--clients", clients}, []string{clients + ":2:", "81.2.69.999"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// etcd and glbd at a port nothing listens on: a file error
			// must come first, with no waiting on either.
			r := ctl(t, map[string]string{"ETCDCTL_ENDPOINTS": "http://127.0.0.1:1"}, append(tc.args, "--glbd", "http://127.0.0.1:1", "--timeout", "1s")...)
			first, _, _ := strings.Cut(r.stderr, "\n")
			if r.code != exitUsage || strings.Count(r.stderr, "\n") != tc.lines || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and %d line(s)", r.code, r.stdout, r.stderr, tc.lines)
			}
			for _, w := range tc.want {
				if !strings.Contains(first, w) {
					t.Errorf("first line %q does not name %q", first, w)
				}
			}
		})
	}
}
