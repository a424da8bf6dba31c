package main

import (
	"bytes"
	"testing"

	"github.com/glb-dns/glb/internal/version"
)

// TestVersionFlag checks that -version prints the one version line on
// stdout and exits 0, even without the required -location.
func TestVersionFlag(t *testing.T) {
	want := version.Get().String("glbprobe") + "\n"
	for _, args := range [][]string{{"-version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, envOf(nil), hostnameOf("probe-a"), &stdout, &stderr); code != 0 || stdout.String() != want || stderr.Len() > 0 {
			t.Errorf("glbprobe %v: exit %d, stdout %q, stderr %q; want 0, %q, nothing", args, code, stdout.String(), stderr.String(), want)
		}
	}
}
