package main

import (
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestTwoDevInstances runs two dev instances side by side from the same
// seed, whose stand-in backends ask for the same ports: the second (or
// both, if another process holds them) gets free ports instead, its seed
// names them, and failing one instance's eu-west backend moves only that
// instance's answers.
func TestTwoDevInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two embedded etcds")
	}
	var apps [2]*app
	var help logBuffer // the second instance's stdout: its start-up lines
	for i := range apps {
		r := launch(t, Config{Dev: true, DevEtcd: "127.0.0.1:0", DevSeed: testSeed, DevProber: "50.11,8.68"}, func(a *app) {
			if i == 1 {
				a.stdout = &help
			}
		})
		t.Cleanup(func() { r.stop(t) })
		waitReady(t, r.a)
		apps[i] = r.a
	}
	backends := func(a *app) map[string]string {
		out := map[string]string{}
		for _, r := range a.dev.backends.Regions() {
			out[r] = a.dev.backends.Addr(r)
		}
		return out
	}
	one, two := backends(apps[0]), backends(apps[1])
	if len(one) != 7 || len(two) != 7 {
		t.Fatalf("backends %v and %v, want 7 each", one, two)
	}
	for r, addr := range one {
		if two[r] == addr {
			t.Errorf("both instances' %s backends on %s", r, addr)
		}
	}
	if maps.Equal(one, two) {
		t.Fatal("the same backends twice")
	}
	// The start-up lines name the backends where they really are.
	text := func() string {
		help.mu.Lock()
		defer help.mu.Unlock()
		return help.b.String()
	}
	// Wait for the lines themselves: waiting for "us-west " made this test
	// flaky, since a dig example written before the backends' lines has it.
	wants := []string{"curl -X POST " + two["eu-west"] + "/fail", "eu-west       http://" + two["eu-west"] + "/",
		"sa-east       http://" + two["sa-east"] + "/"}
	hasAll := func() bool {
		for _, want := range wants {
			if !strings.Contains(text(), want) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(5 * time.Second); !hasAll() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if !hasAll() {
		t.Errorf("start-up lines lack one of %q:\n%s", wants, text())
	}
	london := func(a *app) string { return addrs(ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")) }
	for _, a := range apps {
		waitFor(t, 5*time.Second, "eu-west up", func() bool { return metricValue(t, a, "glb_health_probers") == 1 })
	}
	post(t, "http://"+two["eu-west"]+"/fail")
	waitFor(t, 4*time.Second, "the second instance's London answer moves", func() bool { return london(apps[1]) == "198.51.100.20" })
	if got := london(apps[0]); got != "198.51.100.10,198.51.100.11" {
		t.Errorf("the first instance's London answer %q moved with the other's backend", got)
	}
}

// TestDevRestartKeepsItsBackends restarts a dev instance on its data
// directory: the prefix is not seeded again, and the backends come up where
// the stored configuration's checks point, so the prober finds them.
func TestDevRestartKeepsItsBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd twice")
	}
	dir := t.TempDir()
	cfg := Config{Dev: true, DevEtcd: "127.0.0.1:0", DevSeed: testSeed, DevProber: "50.11,8.68", DevDataDir: dir}
	// Hold eu-west's seed port during the first start, so that its backend
	// moves and the stored configuration, not the seed, says where it is.
	held, err := net.Listen("tcp", "127.0.0.1:18003")
	if err != nil {
		held = nil // someone else holds it: the backend moves all the same
	}
	first := launch(t, cfg)
	waitReady(t, first.a)
	before := first.a.dev.backends.Addr("eu-west")
	if before == "127.0.0.1:18003" {
		t.Fatalf("eu-west's backend on its seed port %s, which was taken", before)
	}
	if err := first.stop(t); err != nil {
		t.Fatal(err)
	}
	if held != nil {
		held.Close()
	}
	second := launch(t, cfg)
	t.Cleanup(func() { second.stop(t) })
	waitReady(t, second.a)
	if got := second.a.dev.backends.Addr("eu-west"); got != before {
		t.Errorf("eu-west's backend on %s after the restart, %s before", got, before)
	}
	london := func() string { return addrs(ask(t, "udp", second.a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")) }
	waitFor(t, 5*time.Second, "the prober registered", func() bool { return metricValue(t, second.a, "glb_health_probers") == 1 })
	post(t, "http://"+before+"/fail")
	waitFor(t, 4*time.Second, "London moves when the restarted backend fails", func() bool { return london() == "198.51.100.20" })
}
