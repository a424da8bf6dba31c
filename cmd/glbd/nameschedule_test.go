package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// TestNameScheduleRunsItself: a per-name schedule written to etcd and left
// alone (no glbctl running) drains www from eu-west at its step, leaves
// api on eu-west, and expires back to www's weight before (its name weight
// key, 60), counted by glb_server_name_schedule_steps_total.
func TestNameScheduleRunsItself(t *testing.T) {
	srv, a := startSeeded(t)
	adm := store.NewAdmin(srv.Client(t), "/glb/")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := adm.SetNameWeight(ctx, strings.TrimSuffix(zone, "."), "www", "eu-west", 60, -1); err != nil {
		t.Fatal(err)
	}
	london := func(name string) string {
		m := ask(t, "udp", a.dnsAddr(), name+"."+zone, dns.TypeA, "81.2.69.0/24")
		if len(m.Answer) == 0 {
			t.Fatalf("%s: no answer: %v", name, m)
		}
		return addrs(m)
	}
	nameWeight := func() int {
		ex, err := a.handler.Explain(server.ExplainRequest{Name: "www", Client: netip.MustParseAddr("81.2.69.160")})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ex.Regions {
			if r.ID == "eu-west" {
				return r.Weight
			}
		}
		return -1
	}
	waitFor(t, 5*time.Second, "www's name weight 60", func() bool { return nameWeight() == 60 })

	start := time.Now().UTC()
	s := &schema.Schedule{Steps: []int{0}, Start: start, Expires: start.Add(4 * time.Second), Before: 60}
	if err := adm.SetNameSchedule(ctx, strings.TrimSuffix(zone, "."), "www", "eu-west", s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "www drained from eu-west", func() bool { return london("www") == euCentral })
	if got := london("api"); !strings.Contains(euWest, got) {
		t.Errorf("api during www's drain: %s, want eu-west's %s", got, euWest)
	}
	if w := weightInForce(a, "eu-west"); w != 100 {
		t.Errorf("the region's weight moved to %d", w)
	}
	waitFor(t, time.Until(s.Expires)+5*time.Second, "expiry", func() bool { return london("www") == euWest })
	if time.Now().Before(s.Expires) || nameWeight() != 60 {
		t.Fatalf("back to eu-west at %s with weight %d; expires at %s, want the name weight before (60)", time.Now(), nameWeight(), s.Expires)
	}
	metrics := scrape(t, a)
	for _, want := range []string{`glb_server_name_schedule_steps_total{name="www.gslb.example.test",region="eu-west",what="step"} 1`,
		`glb_server_name_schedule_steps_total{name="www.gslb.example.test",region="eu-west",what="expired"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
