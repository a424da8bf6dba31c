package server

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// counterSums gathers reg and sums every counter of the glb_dns_ families,
// by family name.
func counterSums(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "glb_dns_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				out[mf.GetName()] += c.GetValue()
			}
		}
	}
	return out
}

// TestExplainAndSimulateCountNothing: /explain and /simulate answer from
// the plan and leave every query, answer and outcome counter as it was,
// with or without what-if changes, while a real query still counts.
func TestExplainAndSimulateCountNothing(t *testing.T) {
	h, reg := healthHandler(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/explain", h.ExplainHTTP())
	mux.Handle("/simulate", h.SimulateHTTP())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// One real answer first, so the counters exist and are not zero.
	if m := ask(t, h, "81.2.69.160", mkQuery("www."+testZone, dns.TypeA, "")); len(m.Answer) == 0 {
		t.Fatal("no answer to the real query")
	}
	before, totals := counterSums(t, reg), h.AnswersByRegion()
	if before["glb_dns_answers_total"] != 1 || before["glb_dns_queries_total"] != 1 {
		t.Fatalf("after one query: %v, want one answer and one query", before)
	}
	for _, path := range []string{
		"/explain?name=www&client=81.2.69.160",
		"/explain?name=www&client=81.2.69.160&type=AAAA",
		"/explain?name=www&client=81.2.69.160&down=eu-west&down=eu-central&down=us-east&down=us-west&down=ap-northeast&down=ap-southeast&down=sa-east",
		"/explain?name=nope&client=81.2.69.160",
		"/simulate?name=www&weight=eu-west:0",
	} {
		for range 5 {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d", path, resp.StatusCode)
			}
		}
		if after := counterSums(t, reg); !maps.Equal(after, before) {
			t.Errorf("%s x5 changed the counters: %v, was %v", path, after, before)
		}
		if after := h.AnswersByRegion(); !maps.Equal(after, totals) {
			t.Errorf("%s x5 changed the answers by region: %v, was %v", path, after, totals)
		}
	}
}

// TestHealthGaugesNeverVanish scrapes the health gauges while new states
// rebuild the snapshot: every region's series is in every scrape. A region
// removed from the configuration loses its series.
func TestHealthGaugesNeverVanish(t *testing.T) {
	h, reg := healthHandler(t, nil)
	regions := h.snap.Load().Config.Regions
	count := func() (regionSeries, endpointSeries map[string]bool) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		regionSeries, endpointSeries = map[string]bool{}, map[string]bool{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					switch {
					case mf.GetName() == "glb_health_region_up" && l.GetName() == "region":
						regionSeries[l.GetValue()] = true
					case mf.GetName() == "glb_health_endpoint_up" && l.GetName() == "region":
						endpointSeries[l.GetValue()] = true
					}
				}
			}
		}
		return regionSeries, endpointSeries
	}

	// Two states of the same configuration, applied in turn: each Apply
	// swaps a snapshot and sets the gauges again, as a health change does.
	states := [2]*schema.State{devState(t, nil), devState(t, nil)}
	stop := make(chan struct{})
	var ticks sync.WaitGroup
	ticks.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				h.Apply(states[i%2])
			}
		}
	})
	for i := range 300 {
		rs, es := count()
		for _, r := range regions {
			if !rs[r.ID] || !es[r.ID] {
				t.Fatalf("scrape %d: region %s: region series %v, endpoint series %v", i, r.ID, rs[r.ID], es[r.ID])
			}
		}
	}
	close(stop)
	ticks.Wait()

	h.Apply(devState(t, map[string]any{"regions/sa-east": nil, "zones/gslb.example.test/names/www": map[string]any{
		"regions": []string{"us-east", "us-west", "eu-west", "eu-central", "ap-northeast", "ap-southeast"}, "ttl": 30}}))
	if len(h.snap.Load().Config.Regions) != len(regions)-1 {
		t.Fatalf("sa-east not removed: %d regions", len(h.snap.Load().Config.Regions))
	}
	rs, es := count()
	if rs["sa-east"] || es["sa-east"] {
		t.Errorf("removed region sa-east: region series %v, endpoint series %v, want none", rs["sa-east"], es["sa-east"])
	}
	if !rs["eu-west"] || !es["eu-west"] {
		t.Errorf("eu-west lost its series after sa-east was removed")
	}
}

// TestSnapshotSwappedOnlyOnChange: a health tick that changes nothing keeps
// the snapshot in force (no swap, no build counted); a report going stale
// or a new state swaps a new one in.
func TestSnapshotSwappedOnlyOnChange(t *testing.T) {
	var clock atomic.Int64
	clock.Store(reportTime.Add(time.Second).UnixNano())
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry()), Rand: func(int) int { return 0 },
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	applyNow(h, devState(t, votes("eu-west", "198.51.100.10", true)))
	first, builds := h.snap.Load(), testutil.ToFloat64(h.metrics.snapBuilds)
	for range 3 {
		h.healthTick()
	}
	if h.snap.Load() != first || testutil.ToFloat64(h.metrics.snapBuilds) != builds {
		t.Fatalf("health ticks with nothing changed swapped the snapshot (%v builds, was %v)", testutil.ToFloat64(h.metrics.snapBuilds), builds)
	}
	clock.Add(int64(time.Hour)) // the report goes stale
	h.healthTick()
	if h.snap.Load() == first || testutil.ToFloat64(h.metrics.snapBuilds) != builds+1 {
		t.Fatalf("a stale report did not swap a new snapshot in")
	}
	second := h.snap.Load()
	h.Apply(devState(t, map[string]any{"regions/eu-west/weight": "50"}))
	if h.snap.Load() == second {
		t.Fatalf("a new state did not swap a new snapshot in")
	}
}

// TestNameCountersOutliveConfigChanges: a name's counters live outside the
// snapshot, so a configuration change that leaves the name's regions alone
// keeps them (and what they counted); a name whose regions change gets
// fresh ones, and a removed name's are forgotten.
func TestNameCountersOutliveConfigChanges(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	www := func() *plan.Name { return h.snap.Load().Config.Zones[testZone].Nodes["www."+testZone].GSLB }
	api := func() *plan.Name {
		if n := h.snap.Load().Config.Zones[testZone].Nodes["api."+testZone]; n != nil {
			return n.GSLB
		}
		return nil
	}
	if m := ask(t, h, "81.2.69.160", mkQuery("www."+testZone, dns.TypeA, "")); len(m.Answer) == 0 {
		t.Fatal("no answer")
	}
	before, apiBefore := www(), api()
	if before.Counters == nil || apiBefore.Counters == nil {
		t.Fatal("counters not linked by the snapshot's owner")
	}
	applyNow(h, devState(t, map[string]any{"regions/us-west/weight": "7",
		"zones/gslb.example.test/names/api": map[string]any{"regions": []string{"eu-west"}, "ttl": 20}}))
	after := www()
	if after == before {
		t.Fatal("the configuration was not rebuilt")
	}
	if after.Counters.(*nameCounters) != before.Counters.(*nameCounters) {
		t.Error("www's counters were replaced by a change that left www alone")
	}
	if api().Counters == apiBefore.Counters {
		t.Error("api's regions changed but it kept counters indexed by the old ones")
	}
	applyNow(h, devState(t, map[string]any{"zones/gslb.example.test/names/api": nil}))
	for k := range h.names {
		if k.label == "api" {
			t.Errorf("the removed name api still has counters: %+v", k)
		}
	}
}
