package main

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/store/schema"
)

// TestHealthBothLayouts runs glbd during a prober upgrade: two real
// probers write the per-prober layout, two old ones (written by hand) the
// legacy one. The old probers' votes count beside the new ones, and a new
// prober's legacy leftovers do not count a second time.
func TestHealthBothLayouts(t *testing.T) {
	srv, a, _ := healthSetup(t, nil)
	london := func() string { return addrs(ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")) }
	eps := []string{"198.51.100.10", "198.51.100.11"}
	down := func() string {
		return `{"up":false,"error":"status 503","time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
	}
	legacyDown := func(prober string) {
		for _, ep := range eps {
			srv.Put(t, schema.LegacyHealthKey("/glb/", "eu-west", ep, prober), down())
		}
	}

	startProber(t, srv, "p1", 50.1, 8.7, "127.0.0.2")
	startProber(t, srv, "p2", 50.1, 8.7, "127.0.0.3")
	waitFor(t, 5*time.Second, "p1 and p2 report eu-west up", func() bool {
		return srv.Get(t, schema.HealthKey("/glb/", "eu-west", eps[1], "p1")) != "" &&
			srv.Get(t, schema.HealthKey("/glb/", "eu-west", eps[1], "p2")) != "" && london() == "198.51.100.10,198.51.100.11"
	})

	// Two old probers see eu-west down: 2 of 4 up is no majority.
	for _, old := range []string{"old-1", "old-2"} {
		legacyDown(old)
		srv.Put(t, schema.ProberKey("/glb/", old), `{"lat":40.7,"lon":-74}`)
	}
	waitFor(t, 5*time.Second, "eu-west down with the legacy votes", func() bool { return london() == "198.51.100.20" })

	// p1 and p2 leave legacy leftovers saying down, and old-2 goes. p1
	// and p2 count once, from their per-prober keys: 2 of 3 up.
	legacyDown("p1")
	legacyDown("p2")
	c := srv.Client(t)
	for _, k := range []string{schema.ProberKey("/glb/", "old-2"),
		schema.LegacyHealthKey("/glb/", "eu-west", eps[0], "old-2"), schema.LegacyHealthKey("/glb/", "eu-west", eps[1], "old-2")} {
		if _, err := c.Delete(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "eu-west up: p1 and p2 counted from the per-prober layout", func() bool {
		return london() == "198.51.100.10,198.51.100.11"
	})
	// Were a leftover to compete with its prober's per-prober key, which
	// one counted would change from one state to the next: the answer must
	// hold over the next states (the probers refresh every second).
	for range 4 {
		n := metricValue(t, a, "glb_store_states_total")
		waitFor(t, 5*time.Second, "a new state", func() bool { return metricValue(t, a, "glb_store_states_total") > n })
		if got := london(); got != "198.51.100.10,198.51.100.11" {
			t.Fatalf("London got %q after a new state; a legacy leftover was counted", got)
		}
	}
}
