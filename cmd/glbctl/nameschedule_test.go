package main

import (
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

// TestDrainNameSchedule: glbctl drain --name with --every/--expires
// writes the name's schedule key (the name's weight before in it) and
// returns; status lists it; apply leaves it alone; --cancel --name
// deletes it; bad uses write nothing.
func TestDrainNameSchedule(t *testing.T) {
	s, env := devEtcd(t)
	const key = "/glb/zones/gslb.example.test/names/www/schedules/eu-west"
	read := func(t *testing.T) *schema.Schedule {
		t.Helper()
		sc, err := s.adm.NameSchedule(t.Context(), "gslb.example.test", "www", "eu-west")
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	if r := ctl(t, env, "weight", "eu-west", "70", "--name", "www"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		check  func(t *testing.T, sc *schema.Schedule)
	}{
		{name: "two steps for www", args: []string{"drain", "eu-west", "--name", "www", "--steps", "50,0", "--every", "5m", "--expires", "4h"},
			stdout: "eu-west for www.gslb.example.test: drain schedule written to " + key, check: func(t *testing.T, sc *schema.Schedule) {
				if sc == nil || len(sc.Steps) != 2 || sc.Steps[0] != 50 || sc.Before != 70 || sc.Expires.Sub(sc.Start) != 4*time.Hour || sc.TTLFirst {
					t.Fatalf("schedule %+v", sc)
				}
			}},
		{name: "ttl-first holds the name's TTL", args: []string{"drain", "eu-west", "--name", "www", "--zone", "gslb.example.test", "--ttl-first"},
			stdout: "step 1/1: weight 0", check: func(t *testing.T, sc *schema.Schedule) {
				if sc == nil || !sc.TTLFirst || time.Duration(sc.Hold) != 30*time.Second {
					t.Fatalf("schedule %+v", sc)
				}
			}},
		{name: "a name without the region", args: []string{"drain", "ap-northeast", "--name", "api", "--expires", "1h"}, code: 1, stderr: "not one of the name's regions"},
		{name: "a missing name", args: []string{"drain", "eu-west", "--name", "nope", "--expires", "1h"}, code: 1, stderr: `no zone has a name "nope"`},
		{name: "a list needs --every", args: []string{"drain", "eu-west", "--name", "www", "--steps", "50,0", "--expires", "1h"}, code: 2, stderr: "needs --every"},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			tc.check(t, sc)
			if st := ctl(t, env, "status"); !strings.Contains(st.stdout, "eu-west for www.gslb.example.test: drain schedule: ") {
				t.Errorf("status lacks the schedule:\n%s", st.stdout)
			}
			if cfg := configOf(t, s); cfg.Values[key] != "" {
				t.Errorf("the schedule is part of the configuration that apply replaces")
			}
			if c := ctl(t, env, "drain", "eu-west", "--name", "www", "--cancel"); c.code != 0 || !strings.Contains(c.stdout, "cancelled") || read(t) != nil {
				t.Fatalf("cancel: %+v, schedule %+v", c, read(t))
			}
		})
	}
	if c := ctl(t, env, "drain", "eu-west", "--name", "www", "--cancel", "--every", "1m"); c.code != 2 {
		t.Errorf("--cancel with --every: exit %d", c.code)
	}
	// undrain --name deletes the name's schedule, which would otherwise
	// override the name's weight it sets.
	if r := ctl(t, env, "drain", "eu-west", "--name", "www", "--expires", "1h"); r.code != 0 || read(t) == nil {
		t.Fatal(r.stderr)
	}
	if r := ctl(t, env, "undrain", "eu-west", "--name", "www"); r.code != 0 || !strings.Contains(r.stdout, "drain schedule cancelled") || read(t) != nil {
		t.Fatalf("undrain --name: %+v", r)
	}
}

// TestWeightNameSchedule: glbctl weight --name shows the name's drain
// schedule and the weight it puts in force, notes after a write that the
// schedule overrides it, and a per-name schedule's printed lines speak
// of that name's TTL, pause and weight, not of the region's.
func TestWeightNameSchedule(t *testing.T) {
	_, env := devEtcd(t)
	if r := ctl(t, env, "drain", "eu-west", "--name", "www", "--steps", "50,0", "--every", "1h", "--expires", "4h",
		"--ttl-first", "--stop-on-unhealthy"); r.code != 0 {
		t.Fatal(r.stderr)
	} else {
		for _, want := range []string{"TTL of www.gslb.example.test lowered to its ttl_degraded",
			"pauses (the name's weight in force) while another region of www.gslb.example.test is down",
			"expires: the name's weight (now 100) is in force again"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("drain --name output lacks %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "names using it") || strings.Contains(r.stdout, "weight key") {
			t.Errorf("drain --name output speaks of the region:\n%s", r.stdout)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
		not  string
	}{
		{"show, TTL-first phase", []string{"weight", "eu-west", "--name", "www"},
			"eu-west for www.gslb.example.test: drain schedule: TTLs lowered, step 1/2 at ", ""},
		{"a write notes the override", []string{"weight", "eu-west", "80", "--name", "www"},
			"note: eu-west for www.gslb.example.test has a drain schedule: TTLs lowered", ""},
		{"another name has none", []string{"weight", "eu-west", "--name", "api"}, "eu-west for api.gslb.example.test: weight 100", "drain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ctl(t, env, tc.args...)
			if r.code != 0 || !strings.Contains(r.stdout, tc.want) || (tc.not != "" && strings.Contains(r.stdout, tc.not)) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q without %q", r.code, r.stdout, r.stderr, tc.want, tc.not)
			}
		})
	}
	if r := ctl(t, env, "drain", "eu-west", "--name", "www", "--cancel"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := ctl(t, env, "weight", "eu-west", "--name", "www"); r.code != 0 || strings.Contains(r.stdout, "drain") ||
		!strings.Contains(r.stdout, "weight 80") {
		t.Errorf("after --cancel: %q", r.stdout)
	}
}
