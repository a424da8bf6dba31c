package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/etcdtest"
)

// result is what one glbctl run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// newTestApp returns an app with captured output, and env as its
// environment.
func newTestApp(env map[string]string) (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	a := newApp(func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return a, &out, &errOut
}

// ctl runs glbctl with args in a fresh app.
func ctl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	a, out, errOut := newTestApp(env)
	return runApp(t, a, out, errOut, args...)
}

func runApp(t *testing.T, a *app, out, errOut *bytes.Buffer, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	code := a.run(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// devEtcd starts etcd with the example configuration of
// testdata/dev/config.json and returns it with an environment that points
// glbctl at it.
func devEtcd(t *testing.T) (*etcdFixture, map[string]string) {
	t.Helper()
	s := &etcdFixture{Server: etcdtest.Start(t)}
	kvs, err := store.LoadSeedFile("../../testdata/dev/config.json")
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client(t)
	if ok, err := store.Seed(t.Context(), c, "/glb/", kvs); err != nil || !ok {
		t.Fatalf("seed: %v, %v", ok, err)
	}
	s.adm = store.NewAdmin(c, "/glb/")
	// Put and Get use a client made on first use and closed with the test
	// that made it: make it here, for the whole test.
	s.Get(t, "/glb/")
	// Without a scheme, as ETCDCTL_ENDPOINTS is often written.
	return s, map[string]string{"ETCDCTL_ENDPOINTS": strings.TrimPrefix(s.Endpoints()[0], "http://")}
}

// etcdFixture is a test etcd with an Admin whose client lives as long as
// the test, subtests included.
type etcdFixture struct {
	*etcdtest.Server
	adm *store.Admin
}

// configOf reads the configuration keys.
func configOf(t *testing.T, s *etcdFixture) *store.ConfigSnapshot {
	t.Helper()
	snap, err := s.adm.ReadConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestHelpExitsZero(t *testing.T) {
	runs := [][]string{{"help"}, {"--help"}, {"-h"}}
	for _, c := range commands {
		runs = append(runs, []string{c.name, "--help"}, []string{"help", c.name}, []string{c.name, "-h"})
	}
	for _, args := range runs {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := ctl(t, nil, args...)
			if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: glbctl") || r.stderr != "" {
				t.Errorf("exit %d, stdout %.60q, stderr %q; want 0 and usage on stdout", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestUsageErrors: every bad command line exits with 2 and one line on
// stderr naming the problem, before anything is contacted.
func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"--nope", "status"}, "-nope"},
		{[]string{"status", "--nope"}, "-nope"},
		{[]string{"status", "extra"}, "want no arguments"},
		{[]string{"export", "--prefix", "glb"}, "--prefix"},
		{[]string{"export", "--timeout", "0s"}, "--timeout"},
		{[]string{"--log-format", "xml", "status"}, "want text or json"},
		{[]string{"export", "--log-format", "logfmt"}, "want text or json"},
		{[]string{"validate"}, "-f <file> is required"},
		{[]string{"apply", "-f"}, "flag needs an argument"},
		{[]string{"apply", "-f", "x.yaml", "extra"}, "no arguments besides -f"},
		{[]string{"weight"}, "want <region> [<n>]"},
		{[]string{"weight", "eu-west", "1001"}, "weight 1001 is outside 0..1000"},
		{[]string{"weight", "eu-west", "-1"}, "flag provided but not defined: -1"},
		{[]string{"weight", "eu-west", "ten"}, `weight "ten" is not an integer`},
		{[]string{"weight", "eu-west", "--ramp", "5m"}, "--ramp needs the weight"},
		{[]string{"weight", "eu-west", "5", "--ramp", "5m", "--steps", "0"}, "--steps 0"},
		{[]string{"weight", "eu-west", "5", "--ramp", "-1s"}, "--ramp -1s"},
		{[]string{"drain"}, "want <region>"},
		{[]string{"undrain", "a", "b"}, "want <region>"},
		{[]string{"explain", "www.gslb.example.test"}, "want <name> <client-ip>"},
		{[]string{"explain", "www", "not-an-ip"}, `client "not-an-ip" is not an IP address`},
		{[]string{"explain", "www", "192.0.2.1", "--type", "MX"}, `--type "MX"`},
		{[]string{"explain", "www", "192.0.2.1", "--weight", "eu-west"}, "want region:n"},
		{[]string{"explain", "www", "192.0.2.1", "--weight", "eu-west:2000"}, "outside 0..1000"},
		{[]string{"explain", "www", "192.0.2.1", "--down", "EU/West"}, "is not a region id"},
		{[]string{"simulate"}, "want <name>"},
		{[]string{"simulate", "www", "--glbd", "http://"}, "--glbd"},
		{[]string{"help", "a", "b"}, "at most one command"},
		{[]string{"weight", "eu-west", "5", "--steps", "4"}, "--steps needs --ramp"},
		{[]string{"drain", "eu-west", "--steps", "4"}, "--steps needs --ramp"},
		{[]string{"undrain", "eu-west", "--steps", "10"}, "--steps needs --ramp"},
		{[]string{"apply", "-f", "x.yaml", "--exit-code"}, "--exit-code needs --dry-run"},
		{[]string{"status", "-o", "wide"}, `-o "wide": want table, json or yaml`},
		{[]string{"explain", "www", "192.0.2.1", "-o", "xml"}, `-o "xml"`},
		{[]string{"simulate", "www", "-o", "csv"}, `-o "csv"`},
		{[]string{"completion"}, "want a shell: bash, zsh or fish"},
		{[]string{"completion", "bsh"}, `no completion for shell "bsh": want bash, zsh or fish; did you mean "bash"?`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := ctl(t, nil, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want 2 and one line with %q", r.code, r.stderr, r.stdout, tc.want)
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		flag, env, want string
	}{
		{"", "", "http://127.0.0.1:2379"},
		{"", "10.0.0.1:2379, https://e2:2379", "http://10.0.0.1:2379,https://e2:2379"},
		{"a:1", "b:2", "http://a:1"},
	} {
		a, _, _ := newTestApp(map[string]string{"ETCDCTL_ENDPOINTS": tc.env})
		a.g.etcd.Endpoints = tc.flag
		if got := strings.Join(a.endpoints(), ","); got != tc.want {
			t.Errorf("flag %q env %q: %s, want %s", tc.flag, tc.env, got, tc.want)
		}
	}
}
