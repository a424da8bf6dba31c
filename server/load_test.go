package server

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/server/explain"
)

// TestLoadWhatIfEqualsReality compares explain with load= against a
// handler where eu-west's load key says the same, through the whole
// answer path: the region, the answer and the ECS scope.
func TestLoadWhatIfEqualsReality(t *testing.T) {
	h, _ := healthHandler(t, nil)
	real, reg := healthHandler(t, map[string]any{"regions/eu-west/load": "0.875"})
	r := rand.New(rand.NewPCG(11, 12))
	shed := 0
	for range 300 {
		a := randomIn(r, netip.MustParsePrefix("81.2.69.0/24"))
		if r.IntN(2) == 0 {
			a = randomAddr(r)
		}
		qtype := dns.TypeA
		if a.Is6() {
			qtype = dns.TypeAAAA
		}
		hypo, err := h.Explain(ExplainRequest{Name: "www", Client: a, Qtype: qtype, ECSSource: -1, WhatIf: explain.WhatIf{Loads: map[string]float64{"eu-west": 0.875}}})
		if err != nil {
			t.Fatal(err)
		}
		truth, err := real.Explain(ExplainRequest{Name: "www", Client: a, Qtype: qtype, ECSSource: -1})
		if err != nil {
			t.Fatal(err)
		}
		if hypo.Chosen != truth.Chosen || !slices.Equal(hypo.Answer, truth.Answer) || hypo.Scope != truth.Scope || !slices.Equal(hypo.Shed, truth.Shed) {
			t.Fatalf("client %s: what-if %s %q /%d shed %v, reality %s %q /%d shed %v", a, hypo.Chosen, hypo.Answer, hypo.Scope, hypo.Shed,
				truth.Chosen, truth.Answer, truth.Scope, truth.Shed)
		}
		if len(truth.Shed) > 0 {
			shed++
			if truth.Shed[0] != "eu-west" || truth.Chosen == "eu-west" {
				t.Fatalf("client %s: shed by %v, chosen %s", a, truth.Shed, truth.Chosen)
			}
		}
		if ecs := truth.ECSSource; ecs > 0 && truth.Scope > 0 && truth.Scope < min(ecs, map[bool]int{true: 24, false: 56}[a.Is4()]) {
			t.Fatalf("client %s: scope /%d wider than the shedding subnet while eu-west sheds", a, truth.Scope)
		}
		for _, er := range truth.Regions {
			if er.ID == "eu-west" && (er.Load == nil || *er.Load != 0.875 || er.LoadSource != "key" || er.Shed == nil || er.Shed.Share != 0.5) {
				t.Fatalf("eu-west in explain: load %v source %q shed %+v", er.Load, er.LoadSource, er.Shed)
			}
		}
	}
	if shed == 0 {
		t.Error("no client near eu-west was shed at half its watermarks")
	}
	if v := testutil.ToFloat64(real.metrics.load.load.WithLabelValues("eu-west")); v != 0.875 {
		t.Errorf("glb_region_load{eu-west} = %v", v)
	}
	if v := testutil.ToFloat64(real.metrics.load.shed.WithLabelValues("eu-west")); v != 0.5 {
		t.Errorf("glb_region_shed_ratio{eu-west} = %v", v)
	}
	_ = reg
}

// TestSimulateLoad: simulate predicts eu-west's share falling by half at
// the midpoint of its watermarks and to none at high, the rest going to
// the others.
func TestSimulateLoad(t *testing.T) {
	h, _ := healthHandler(t, nil)
	for _, tc := range []struct {
		load float64
		keep float64 // of eu-west's share now
	}{{0.5, 1}, {0.875, 0.5}, {0.95, 0}} {
		sim, err := h.Simulate(SimulateRequest{Name: "www", WhatIf: explain.WhatIf{Loads: map[string]float64{"eu-west": tc.load}}})
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, v := range sim.WhatIf {
			sum += v
		}
		got := sim.WhatIf["eu-west"] / sim.Now["eu-west"]
		if math.Abs(sum-1) > 1e-9 || math.Abs(got-tc.keep) > 0.1 {
			t.Errorf("load %v: eu-west keeps %.3f of its share (now %v, what-if %v), want %v; shares sum to %v",
				tc.load, got, sim.Now["eu-west"], sim.WhatIf["eu-west"], tc.keep, sum)
		}
	}
	if _, err := h.Simulate(SimulateRequest{Name: "www", WhatIf: explain.WhatIf{Loads: map[string]float64{"eu-west": 12}}}); err == nil {
		t.Error("a what-if load of 12 was accepted")
	}
	if _, err := h.Simulate(SimulateRequest{Name: "www", WhatIf: explain.WhatIf{Loads: map[string]float64{"nowhere": 0.5}}}); err == nil {
		t.Error("a what-if load of an unknown region was accepted")
	}
}

// TestShedThroughScopeTables: the fast path answers from the scope
// table's plan; while regions shed, a shed client goes down the rest of
// its own ranking, so the table must hold that rest. Frankfurt's subnets,
// with eu-central at high and eu-west half way, get exactly what a plan
// made from their own GeoIP record gives.
func TestShedThroughScopeTables(t *testing.T) {
	h, _ := healthHandler(t, map[string]any{"regions/eu-central/load": "0.95", "regions/eu-west/load": "0.875"})
	snap := h.snap.Load()
	g := snap.Config.Zones[testZone].Nodes["www."+testZone].GSLB
	if snap.TableFor(g, dns.TypeAAAA) == nil {
		t.Fatal("no scope table: the fast path would not use one")
	}
	r := rand.New(rand.NewPCG(13, 14))
	seen := map[string]int{}
	for range 300 {
		a := randomIn(r, netip.MustParsePrefix("2a02:cf40::/29"))
		m := ask(t, h, "[2001:db8::1]:5300", mkQuery("www."+testZone, dns.TypeAAAA, netip.PrefixFrom(a, 56).Masked().String()))
		if len(m.Answer) == 0 {
			t.Fatalf("%s: no answer", a)
		}
		loc, _, found := h.geo.Lookup(a)
		p := g.Plan(dns.TypeAAAA, loc, found, snap.Health)
		want, _ := g.Choose(&p, a, snap.Health, rand.IntN)
		got := m.Answer[0].(*dns.AAAA).AAAA.String()
		rrs := g.Regions[want].Addrs(dns.TypeAAAA)
		ok := false
		for _, rr := range rrs {
			ok = ok || rr.RR.(*dns.AAAA).AAAA.String() == got
		}
		if !ok {
			t.Fatalf("%s: answered %s, its own ranking gives %s", a, got, g.Regions[want].ID)
		}
		seen[g.Regions[want].ID]++
	}
	if seen["eu-central"] != 0 || seen["eu-west"] == 0 || len(seen) < 2 {
		t.Errorf("regions of Frankfurt's subnets: %v; want none on eu-central, some on eu-west, the rest further", seen)
	}
}

// TestStaleProberLoad: a load reported by probers counts while fresh; when
// every report of it is older than health.LoadFresh it is ignored, logged
// and counted once, and the region stops shedding.
func TestStaleProberLoad(t *testing.T) {
	withLoad := func(age time.Duration) map[string]any {
		r := report(true, time.Millisecond, age)
		r["load"] = 0.95
		return r
	}
	fresh := map[string]any{"probers/p1": prober(50, 8), "health/p1/eu-west/198.51.100.10": withLoad(0)}
	h, _ := healthHandler(t, fresh)
	eu := h.snap.Load().Config.RegionIdx["eu-west"]
	if s := h.snap.Load().Health.Regions[eu]; !s.HasLoad || s.Shed != 1 || s.LoadSource != "probers" {
		t.Fatalf("fresh prober load: %+v", s)
	}
	stale := map[string]any{"probers/p1": prober(50, 8), "health/p1/eu-west/198.51.100.10": withLoad(time.Minute)}
	for range 2 {
		applyNow(h, devState(t, stale))
	}
	if s := h.snap.Load().Health.Regions[eu]; s.HasLoad || s.Shed != 0 {
		t.Errorf("stale prober load still in force: %+v", s)
	}
	if v := testutil.ToFloat64(h.metrics.load.stale); v != 1 {
		t.Errorf("glb_region_load_stale_total = %v, want 1 (counted once)", v)
	}
}
