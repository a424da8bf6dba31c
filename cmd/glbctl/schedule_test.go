package main

import (
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

// TestDrainSchedule: glbctl drain with --every/--expires/--ttl-first
// writes the schedule key and returns; --cancel deletes it; status and
// weight show it; apply and get leave it alone; bad flags write nothing.
func TestDrainSchedule(t *testing.T) {
	s, env := devEtcd(t)
	const key = "/glb/regions/eu-west/schedule"
	read := func(t *testing.T) *schema.Schedule {
		t.Helper()
		sc, err := s.adm.Schedule(t.Context(), "eu-west")
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		check  func(t *testing.T, sc *schema.Schedule, start time.Time)
	}{
		{name: "three steps", args: []string{"drain", "eu-west", "--steps", "50,10,0", "--every", "5m", "--expires", "4h"},
			stdout: "step 3/3: weight 0", check: func(t *testing.T, sc *schema.Schedule, start time.Time) {
				if sc == nil || len(sc.Steps) != 3 || sc.Steps[1] != 10 || time.Duration(sc.Every) != 5*time.Minute ||
					sc.Before != 100 || sc.Expires.Sub(sc.Start) != 4*time.Hour || sc.TTLFirst || sc.Start.Before(start.Add(-time.Second)) {
					t.Fatalf("schedule %+v", sc)
				}
			}},
		{name: "ttl-first holds one old TTL", args: []string{"drain", "eu-west", "--ttl-first"}, stdout: "weights held for one old TTL (30s)",
			check: func(t *testing.T, sc *schema.Schedule, _ time.Time) {
				// www (ttl 30) and api (ttl 20) use eu-west: the longest is 30.
				if sc == nil || !sc.TTLFirst || time.Duration(sc.Hold) != 30*time.Second || len(sc.Steps) != 1 || sc.Steps[0] != 0 {
					t.Fatalf("schedule %+v", sc)
				}
			}},
		{name: "stop on unhealthy", args: []string{"drain", "eu-west", "--stop-on-unhealthy", "--expires", "2h"}, stdout: "pauses (the weight key in force)",
			check: func(t *testing.T, sc *schema.Schedule, _ time.Time) {
				if sc == nil || !sc.StopOnUnhealthy || sc.Expires.Sub(sc.Start) != 2*time.Hour {
					t.Fatalf("schedule %+v", sc)
				}
			}},
		{name: "a list needs --every", args: []string{"drain", "eu-west", "--steps", "50,0", "--expires", "1h"}, code: 2, stderr: "needs --every"},
		{name: "not with --ramp", args: []string{"drain", "eu-west", "--ramp", "1m", "--every", "1m"}, code: 2, stderr: "one or the other"},
		{name: "bad weight", args: []string{"drain", "eu-west", "--steps", "50,x", "--every", "1m"}, code: 2, stderr: "not an integer"},
		{name: "expires before the last step", args: []string{"drain", "eu-west", "--steps", "50,0", "--every", "1h", "--expires", "30m"}, code: 2, stderr: "before its last step"},
		{name: "missing region", args: []string{"drain", "eu-wets", "--expires", "1h"}, code: 1, stderr: `region "eu-wets" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := ctl(t, env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
			sc := read(t)
			if tc.check == nil {
				if sc != nil {
					t.Fatalf("refused command wrote %+v", sc)
				}
				return
			}
			tc.check(t, sc, start)
			if st := ctl(t, env, "status"); !strings.Contains(st.stdout, "eu-west: drain schedule: step 1/") &&
				!strings.Contains(st.stdout, "eu-west: drain schedule: TTLs lowered") {
				t.Errorf("status lacks the schedule:\n%s", st.stdout)
			}
			if w := ctl(t, env, "weight", "eu-west"); !strings.Contains(w.stdout, "eu-west: drain schedule") {
				t.Errorf("weight lacks the schedule:\n%s", w.stdout)
			}
			if cfg := configOf(t, s); cfg.Values[key] != "" {
				t.Errorf("the schedule is part of the configuration that apply replaces")
			}
			if c := ctl(t, env, "drain", "eu-west", "--cancel"); c.code != 0 || !strings.Contains(c.stdout, "cancelled") || read(t) != nil {
				t.Fatalf("cancel: %+v, schedule %+v", c, read(t))
			}
		})
	}
	// undrain deletes a schedule, which would otherwise override it.
	if r := ctl(t, env, "drain", "eu-west", "--expires", "1h"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := ctl(t, env, "undrain", "eu-west"); r.code != 0 || !strings.Contains(r.stdout, "drain schedule cancelled") || read(t) != nil {
		t.Fatalf("undrain: %+v", r)
	}
}
