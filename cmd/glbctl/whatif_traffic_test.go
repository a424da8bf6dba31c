package main

import (
	"slices"
	"strings"
	"testing"
)

// TestExplainTrafficFlags: --admin, --pin and --nets become glbd's admin=,
// pin= and nets= parameters, for explain and simulate; malformed ones are
// usage errors before any request.
func TestExplainTrafficFlags(t *testing.T) {
	var f fakeGlbd
	base := strings.TrimPrefix(f.start(t), "http://")
	flags := []string{"--admin", "eu-west:down", "--admin", "eu-west/2001:db8::10:down until 2026-12-06T08:00:00Z", "--admin", "us-east:none",
		"--pin", "corp/office:us-east,eu-west", "--nets", "corp/office:81.2.69.0/24,AS64500,2001:db8::/32"}
	for _, cmd := range [][]string{{"explain", "www", "81.2.69.160"}, {"simulate", "www"}} {
		r := ctl(t, nil, append(append(cmd, "--glbd", base), flags...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d, stderr %s", cmd[0], r.code, r.stderr)
		}
		req, _ := f.last()
		q := req.URL.Query()
		if !slices.Equal(q["admin"], []string{"eu-west:down", "eu-west/2001:db8::10:down until 2026-12-06T08:00:00Z", "us-east:none"}) ||
			!slices.Equal(q["pin"], []string{"corp/office:us-east,eu-west"}) || !slices.Equal(q["nets"], []string{"corp/office:81.2.69.0/24,AS64500,2001:db8::/32"}) {
			t.Errorf("%s: parameters %v", cmd[0], q)
		}
		if cmd[0] == "simulate" && !strings.Contains(r.stdout, "admin eu-west:down; admin eu-west/2001:db8::10:down until 2026-12-06T08:00:00Z; admin us-east:none; pin corp/office:us-east,eu-west; nets corp/office:81.2.69.0/24,AS64500,2001:db8::/32") {
			t.Errorf("simulate's header does not say the hypothesis:\n%s", r.stdout)
		}
	}
	for _, bad := range [][]string{{"--admin", "eu-west"}, {"--admin", "eu-west:sideways"}, {"--pin", "corp:us-east"}, {"--pin", "corp/office"},
		{"--nets", "corp/office:"}, {"--nets", "/office:10.0.0.0/8"}} {
		if r := ctl(t, nil, append([]string{"explain", "www", "81.2.69.160", "--glbd", base}, bad...)...); r.code != 2 || !strings.Contains(r.stderr, bad[0]) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming the flag", bad, r.code, r.stderr)
		}
	}
}
