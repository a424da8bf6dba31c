package main

import (
	"strings"
	"testing"
	"time"
)

// TestAdminCommand: admin writes the key with the state (and its end, from
// the clock), auto deletes it, typos are refused before anything is
// written, and status shows the state in force or expired.
func TestAdminCommand(t *testing.T) {
	const key, epKey = "/glb/regions/eu-west/admin", "/glb/regions/eu-west/admin/198.51.100.11"
	clock := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		key, val string // the key to check after and its value ("": absent)
		status   string // substring of glbctl status after
	}{
		{name: "down", args: []string{"admin", "eu-west", "down"}, stdout: "eu-west: admin down\n", key: key, val: "down",
			status: "DOWN (admin down)"},
		{name: "down with expiry", args: []string{"admin", "eu-west", "down", "--expires", "2h"},
			stdout: "eu-west: admin down until 2026-12-06T08:00:00Z\n", key: key, val: "down until 2026-12-06T08:00:00Z",
			status: "DOWN (admin down until 2026-12-06T08:00:00Z)"},
		{name: "endpoint up", args: []string{"admin", "eu-west", "198.51.100.11", "up"}, stdout: "eu-west 198.51.100.11: admin up\n",
			key: epKey, val: "up", status: "up (admin up)"},
		{name: "auto deletes", args: []string{"admin", "eu-west", "auto"}, stdout: "eu-west: admin state deleted", key: key},
		{name: "endpoint not in the region", args: []string{"admin", "eu-west", "198.51.100.99", "down"}, code: 1,
			stderr: "198.51.100.99 is not one of region eu-west's addrs", key: "/glb/regions/eu-west/admin/198.51.100.99"},
		{name: "missing region", args: []string{"admin", "eu-wets", "down"}, code: 1, stderr: `region "eu-wets" does not exist`,
			key: "/glb/regions/eu-wets/admin"},
		{name: "bad state", args: []string{"admin", "eu-west", "drained"}, code: 2, stderr: `state "drained": want up, down or auto`, key: key},
		{name: "auto with expiry", args: []string{"admin", "eu-west", "auto", "--expires", "1h"}, code: 2, stderr: "--expires goes with up or down", key: key},
	}
	s, env := devEtcd(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "auto deletes" {
				s.Put(t, key, "down")
			}
			a, out, errOut := newTestApp(env)
			a.now = func() time.Time { return clock }
			r := runApp(t, a, out, errOut, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
			if got := s.Get(t, tc.key); got != tc.val {
				t.Errorf("%s = %q, want %q", tc.key, got, tc.val)
			}
			if tc.status != "" {
				a, out, errOut := newTestApp(env)
				a.now = func() time.Time { return clock }
				if st := runApp(t, a, out, errOut, "status"); !strings.Contains(st.stdout, tc.status) {
					t.Errorf("status does not say %q:\n%s", tc.status, st.stdout)
				}
			}
			for _, k := range []string{key, epKey} {
				if _, err := s.Client(t).Delete(t.Context(), k); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	// After its end the state no longer counts, and status says it expired.
	s.Put(t, key, "down until 2026-12-06T05:00:00Z")
	a, out, errOut := newTestApp(env)
	a.now = func() time.Time { return clock }
	st := runApp(t, a, out, errOut, "status", "-o", "json")
	if !strings.Contains(st.stdout, `"admin": "expired: down until 2026-12-06T05:00:00Z"`) || strings.Contains(st.stdout, "DOWN (admin") {
		t.Errorf("status after the expiry:\n%s", st.stdout)
	}
}
