package main

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/store"
)

// TestWeightCommands: each command changes exactly the weight key it names,
// or nothing when it is refused.
func TestWeightCommands(t *testing.T) {
	const key = "/glb/regions/eu-west/weight"
	cases := []struct {
		name    string
		args    []string
		code    int
		stdout  string // substring
		stderr  string // substring
		changed map[string]string
	}{
		{name: "show", args: []string{"weight", "eu-west"}, stdout: "eu-west: weight 100\n"},
		{name: "show the default", args: []string{"weight", "sa-east"}, stdout: "sa-east: weight 100 (no weight key: the default)\n"},
		{name: "set", args: []string{"weight", "eu-west", "40"}, stdout: "eu-west: weight 100 -> 40\n", changed: map[string]string{key: "40"}},
		{name: "set with flags first", args: []string{"--prefix", "/glb/", "weight", "sa-east", "7"},
			stdout: "sa-east: weight 100 -> 7\n", changed: map[string]string{"/glb/regions/sa-east/weight": "7"}},
		{name: "drain", args: []string{"drain", "eu-west"}, stdout: "eu-west: weight 100 -> 0\n", changed: map[string]string{key: "0"}},
		{name: "undrain", args: []string{"undrain", "sa-east"}, stdout: "sa-east: weight 100 -> 100\n",
			changed: map[string]string{"/glb/regions/sa-east/weight": "100"}},
		{name: "missing region", args: []string{"drain", "eu-wets"}, code: 1, stderr: `region "eu-wets" does not exist (no /glb/regions/eu-wets)`},
		{name: "show a missing region", args: []string{"weight", "eu-wets"}, code: 1, stderr: `region "eu-wets" does not exist`},
		{name: "other prefix", args: []string{"weight", "eu-west", "--prefix", "/other/"}, code: 1, stderr: `no /other/regions/eu-west`},
	}
	s, env := devEtcd(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := configOf(t, s).Values
			r := ctl(t, env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
			want := maps.Clone(before)
			maps.Copy(want, tc.changed)
			if got := configOf(t, s).Values; !maps.Equal(got, want) {
				t.Errorf("keys after:\n got %v\nwant %v", got, want)
			}
			restore(t, s, before)
		})
	}
}

// restore puts the configuration keys back as they were.
func restore(t *testing.T, s *etcdFixture, kvs map[string]string) {
	t.Helper()
	cur := configOf(t, s)
	if err := s.adm.ApplyConfig(t.Context(), cur, store.DiffConfig(cur, kvs)); err != nil {
		t.Fatal(err)
	}
}

// TestRampSteps: a ramp of 600ms in 3 steps on the real clock writes 67,
// 34 and 0, one step every 200ms, the last at the end.
func TestRampSteps(t *testing.T) {
	s, env := devEtcd(t)
	start := time.Now()
	r := ctl(t, env, "weight", "eu-west", "0", "--ramp", "600ms", "--steps", "3")
	took := time.Since(start)
	want := "eu-west: ramping weight 100 -> 0 in 3 steps over 600ms (one every 200ms); stops if eu-west goes down\n" +
		"step 1/3: eu-west weight 100 -> 67\n" +
		"step 2/3: eu-west weight 67 -> 34\n" +
		"step 3/3: eu-west weight 34 -> 0\n" +
		"eu-west: ramp done, weight 0\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nstderr %s\nwant:\n%s", r.code, r.stdout, r.stderr, want)
	}
	if took < 600*time.Millisecond || took > 5*time.Second {
		t.Errorf("the ramp took %s, want 600ms and a little", took)
	}
	if got := s.Get(t, "/glb/regions/eu-west/weight"); got != "0" {
		t.Errorf("weight %q, want 0", got)
	}
	// Ramping up a region without a weight key starts from 100.
	r = ctl(t, env, "weight", "sa-east", "100", "--ramp", "10ms", "--steps", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "weight is 100 already") {
		t.Errorf("exit %d, stdout %s", r.code, r.stdout)
	}
}

// downReports makes region eu-west down: one registered prober reporting
// every one of its addresses down, now.
func downReports(t *testing.T, s *etcdFixture) {
	t.Helper()
	s.Put(t, "/glb/probers/p1", `{"lat":1,"lon":1}`)
	now := time.Now().UTC().Format(time.RFC3339)
	for _, addr := range []string{"198.51.100.10", "198.51.100.11", "2001:db8:3::10"} {
		s.Put(t, "/glb/health/eu-west/"+addr+"/p1", `{"up":false,"time":"`+now+`"}`)
	}
}

// TestRampStopsWhenDown: health drops after the first step; the ramp stops
// before the second, exits with 1 and leaves the first step's weight.
// The step clock is the test's, so no time passes.
func TestRampStopsWhenDown(t *testing.T) {
	s, env := devEtcd(t)
	a, out, errOut := newTestApp(env)
	var waits []time.Duration
	a.sleep = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		if len(waits) == 2 {
			downReports(t, s)
		}
		return nil
	}
	r := runApp(t, a, out, errOut, "weight", "eu-west", "0", "--ramp", "5m", "--steps", "3")
	if r.code != 1 {
		t.Errorf("exit %d, want 1; stdout %s", r.code, r.stdout)
	}
	wantErr := "glbctl weight: region eu-west is down (0/3 endpoints up); ramp stopped after step 1/3, the weight stays at 67\n"
	if r.stderr != wantErr {
		t.Errorf("stderr %q\nwant   %q", r.stderr, wantErr)
	}
	if !strings.Contains(r.stdout, "step 1/3: eu-west weight 100 -> 67\n") || strings.Contains(r.stdout, "step 2/3") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if len(waits) != 2 || waits[0] != 100*time.Second {
		t.Errorf("waits %v, want two of 1m40s", waits)
	}
	if got := s.Get(t, "/glb/regions/eu-west/weight"); got != "67" {
		t.Errorf("weight %q, want 67", got)
	}

	// A ramp does not start while the region is down.
	r = ctl(t, env, "undrain", "eu-west", "--ramp", "1s")
	if r.code != 1 || !strings.Contains(r.stderr, "not ramping: region eu-west is down") {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
	// A plain set is not guarded by health: it is the operator's call.
	if r := ctl(t, env, "undrain", "eu-west"); r.code != 0 {
		t.Errorf("undrain of a down region: exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestRampStopsOnConcurrentChange: someone else sets the weight mid-ramp;
// the ramp stops rather than overwrite it.
func TestRampStopsOnConcurrentChange(t *testing.T) {
	s, env := devEtcd(t)
	a, out, errOut := newTestApp(env)
	n := 0
	a.sleep = func(context.Context, time.Duration) error {
		if n++; n == 2 {
			s.Put(t, "/glb/regions/eu-west/weight", "5")
		}
		return nil
	}
	r := runApp(t, a, out, errOut, "drain", "eu-west", "--ramp", "1m", "--steps", "4")
	if r.code != 1 || !strings.Contains(r.stderr, "someone else changed the weight meanwhile; ramp stopped after step 1/4") {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
	if got := s.Get(t, "/glb/regions/eu-west/weight"); got != "5" {
		t.Errorf("weight %q, want the other operator's 5", got)
	}
}

// TestRampInterrupted: a cancelled context (Ctrl-C) stops the ramp.
func TestRampInterrupted(t *testing.T) {
	s, env := devEtcd(t)
	a, out, errOut := newTestApp(env)
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	a.sleep = func(ctx context.Context, d time.Duration) error {
		if n++; n == 3 {
			cancel()
			return ctx.Err()
		}
		return nil
	}
	code := a.run(ctx, []string{"weight", "eu-west", "40", "--ramp", "1m", "--steps", "3"})
	if code != 1 || !strings.Contains(errOut.String(), "interrupted; ramp stopped after step 2/3, the weight stays at 60") {
		t.Errorf("exit %d, stderr %s, stdout %s", code, errOut, out)
	}
	if got := s.Get(t, "/glb/regions/eu-west/weight"); got != "60" {
		t.Errorf("weight %q, want 60", got)
	}
}
