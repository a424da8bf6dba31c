package main

import (
	"strings"
	"testing"

	"github.com/glb-dns/glb/internal/version"
)

// TestVersion checks glbctl version and --version: one line on stdout,
// exit 0, no etcd needed; an argument is a usage error.
func TestVersion(t *testing.T) {
	want := version.Get().String("glbctl") + "\n"
	for _, tc := range []struct {
		args       []string
		code       int
		stdout     string
		stderrPart string
	}{
		{[]string{"version"}, exitOK, want, ""},
		{[]string{"--version"}, exitOK, want, ""},
		{[]string{"-version"}, exitOK, want, ""},
		{[]string{"version", "extra"}, exitUsage, "", "glbctl version: version takes no arguments"},
	} {
		r := ctl(t, nil, tc.args...)
		if r.code != tc.code || r.stdout != tc.stdout || (tc.stderrPart == "") != (r.stderr == "") || !strings.Contains(r.stderr, tc.stderrPart) {
			t.Errorf("glbctl %v = %+v; want exit %d, stdout %q, stderr with %q", tc.args, r, tc.code, tc.stdout, tc.stderrPart)
		}
	}
}
