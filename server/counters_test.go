package server

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestZoneMetrics: with ZoneMetrics, answers of every name are counted in
// one series per zone and region (name="*"), on both answer paths, and no
// per-name series appears; without it, each name has its own.
func TestZoneMetrics(t *testing.T) {
	for _, tc := range []struct {
		perZone  bool
		wantName string
	}{
		{false, "www"},
		{true, allNames},
	} {
		reg := prometheus.NewRegistry()
		h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Rand: func(int) int { return 0 }, ZoneMetrics: tc.perZone})
		applyNow(h, devState(t, nil))
		for _, noFast := range []bool{false, true} { // the fast path and the general one
			h.noFast = noFast
			for _, name := range []string{"www", "api"} {
				m := ask(t, h, "127.0.0.1:5300", mkQuery(name+"."+testZone, dns.TypeA, "81.2.69.0/24"))
				if len(m.Answer) == 0 {
					t.Fatalf("perZone %v: no answer for %s", tc.perZone, name)
				}
			}
		}
		series := testutil.CollectAndCount(h.metrics.answers)
		names := map[string]float64{}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "glb_dns_answers_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "name" {
						names[l.GetValue()] += m.GetCounter().GetValue()
					}
				}
			}
		}
		if tc.perZone {
			if len(names) != 1 || names[allNames] != 4 {
				t.Errorf("per zone: answers by name %v (%d series), want only %q with 4", names, series, allNames)
			}
		} else if names["www"] != 2 || names["api"] != 2 || names[allNames] != 0 {
			t.Errorf("per name: answers by name %v, want www and api with 2 each", names)
		}
	}
}
