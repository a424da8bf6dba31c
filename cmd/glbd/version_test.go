package main

import (
	"bytes"
	"testing"

	"github.com/glb-dns/glb/internal/version"
)

// TestVersionFlag checks that -version prints the one version line on
// stdout and exits 0, even without the flags a server needs (-geoip).
func TestVersionFlag(t *testing.T) {
	want := version.Get().String("glbd") + "\n"
	for _, args := range [][]string{{"-version"}, {"--version"}, {"--version", "-log-level", "debug"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, func(string) string { return "" }, &stdout, &stderr); code != 0 || stdout.String() != want || stderr.Len() > 0 {
			t.Errorf("glbd %v: exit %d, stdout %q, stderr %q; want 0, %q, nothing", args, code, stdout.String(), stderr.String(), want)
		}
	}
}
