package server

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/plan"
)

// TestScopeBuilderReuse checks that a builder reused across names, families
// and health states (as the worker reuses it) builds exactly the tables a
// fresh builder does, and that a build allocates a handful of objects
// however many ranges the partition has: no allocation per range.
func TestScopeBuilderReuse(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	down, _ := newTestHandler(t, euWestDown)
	part, err := h.geo.(Partitioner).Partition()
	if err != nil {
		t.Fatal(err)
	}
	var reused plan.ScopeBuilder
	for _, tc := range []struct {
		name  string
		h     *Handler
		label string
		qtype uint16
	}{
		{"www A", h, "www", dns.TypeA},
		{"api AAAA", h, "api", dns.TypeAAAA},
		{"www AAAA, eu-west down", down, "www", dns.TypeAAAA},
		{"api A, eu-west down", down, "api", dns.TypeA},
		{"www A again", h, "www", dns.TypeA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := tc.h.snap.Load()
			g := snap.Config.Zones[testZone].Nodes[tc.label+"."+testZone].GSLB
			got := reused.Build(part, g, tc.qtype, snap.Health)
			want := plan.BuildScopeTable(part, g, tc.qtype, snap.Health)
			if !got.SameRuns(want) {
				t.Errorf("reused builder: %d+%d runs, %d plans; fresh: %d+%d runs, %d plans",
					len(got.V4), len(got.V6), len(got.Plans), len(want.V4), len(want.V6), len(want.Plans))
			}
			if len(got.V4) == 0 || len(got.V6) == 0 {
				t.Errorf("%d IPv4 and %d IPv6 runs; want some of each", len(got.V4), len(got.V6))
			}
			allocs := testing.AllocsPerRun(5, func() { reused.Build(part, g, tc.qtype, snap.Health) })
			// The table, its four run slices and its plans (grown by
			// append: a few more).
			if allocs > 16 {
				t.Errorf("a build allocates %.0f objects over %d ranges; want at most 16", allocs, part.Ranges())
			}
		})
	}
}

// TestScopeTablesShared checks that tables with the same runs are stored
// once: api's regions both have IPv4 and IPv6 addresses, so its A and
// AAAA tables fold alike and must be one table; www's are not (sa-east has
// no IPv6 address).
func TestScopeTablesShared(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	snap := h.snap.Load()
	pair := func(label string) [2]*plan.ScopeTable {
		g := snap.Config.Zones[testZone].Nodes[label+"."+testZone].GSLB
		p := [2]*plan.ScopeTable{snap.TableFor(g, dns.TypeA), snap.TableFor(g, dns.TypeAAAA)}
		if p[0] == nil || p[1] == nil {
			t.Fatalf("%s: scope tables not ready: %v", label, p)
		}
		return p
	}
	if api := pair("api"); api[0] != api[1] {
		t.Error("api: A and AAAA tables fold alike but are stored twice")
	}
	if www := pair("www"); www[0] == www[1] {
		t.Error("www: A and AAAA tables differ (sa-east has no IPv6) but are one")
	}
	// No two distinct tables in the cache hold the same runs.
	var tables []*plan.ScopeTable
	for _, t := range h.scopeCache {
		tables = append(tables, t)
	}
	for i, a := range tables {
		for _, b := range tables[i+1:] {
			if a != b && a.SameRuns(b) {
				t.Error("two cached tables hold the same runs")
			}
		}
	}
}

// TestScopeJobsOfOldConfigurationSkipped checks that a table queued for a
// configuration that has since changed is no longer wanted, while one the
// new configuration queues is.
func TestScopeJobsOfOldConfigurationSkipped(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	h.Apply(devState(t, name(map[string]any{"regions": []string{"us-east", "eu-west"}, "policy": "failover"})))
	old := h.scopeJobs
	if len(old) == 0 {
		t.Fatal("a new name queued no scope table")
	}
	part, _ := h.geo.(Partitioner).Partition()
	for _, j := range old {
		if !h.scopeStillWanted(j.key, part) {
			t.Errorf("%s: queued table not wanted", j.g.Label)
		}
	}
	// The name changes policy before its tables are built (one more key,
	// so that the configuration revision moves).
	h.Apply(devState(t, merge(name(map[string]any{"regions": []string{"us-east", "eu-west"}, "policy": "geo"}),
		map[string]any{"regions/sa-east/weight": 100})))
	for _, j := range old {
		if h.scopeStillWanted(j.key, part) {
			t.Errorf("%s: table of the replaced configuration still wanted", j.g.Label)
		}
	}
	if len(h.scopeJobs) == 0 || !h.scopeStillWanted(h.scopeJobs[0].key, part) {
		t.Error("the new configuration's table is not wanted")
	}
	// Names configured alike queue one job per family.
	h.Apply(devState(t, map[string]any{
		"zones/gslb.example.test/names/p": map[string]any{"regions": []string{"us-east", "sa-east"}},
		"zones/gslb.example.test/names/q": map[string]any{"regions": []string{"us-east", "sa-east"}},
		"regions/sa-east/weight":          100, "regions/us-west/weight": 100,
	}))
	if len(h.scopeJobs) != 2 {
		t.Errorf("two names configured alike queued %d jobs, want 2 (A and AAAA)", len(h.scopeJobs))
	}
}
