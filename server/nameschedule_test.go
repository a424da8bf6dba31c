package server

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestNameScheduleByInjectedClock: a per-name schedule moves the name's
// weight of the region step by step at the handler's own clock, leaves
// the other names (api keeps eu-west) and the region alone, lowers only
// that name's TTL while TTL-first holds, expires back to the name's weight
// before, and counts and reports each phase.
func TestNameScheduleByInjectedClock(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	sched := map[string]any{"steps": []int{50, 0}, "every": "5m", "start": t0.Format(time.RFC3339),
		"expires": t0.Add(time.Hour).Format(time.RFC3339), "before": 80, "ttl_first": true, "hold": "30s"}
	st := devState(t, map[string]any{
		"zones/gslb.example.test/names/www/weights/eu-west":   "80",
		"zones/gslb.example.test/names/www/schedules/eu-west": sched,
	})
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Rand: func(int) int { return 0 }, Now: clock.now})
	h.Apply(st)
	london := netip.MustParseAddr("81.2.69.160")
	answer := func(name string) (string, uint32) {
		t.Helper()
		m := ask(t, h, "192.0.2.1:5353", mkQuery(name+"."+testZone, dns.TypeA, "81.2.69.160/32"))
		if len(m.Answer) == 0 {
			t.Fatalf("%s: no answer at %s", name, clock.now())
		}
		return regionOfAnswer(m), m.Answer[0].Header().Ttl
	}
	nameWeight := func() int { t.Helper(); return explainedWeight(t, h, "www", "eu-west", london) }
	for _, tc := range []struct {
		at     time.Duration
		addr   string // www's first address: eu-west 198.51.100.1x, eu-central .20
		ttl    uint32
		weight int
		step   int
	}{
		{0, "198.51.100.1", 5, 80, 0},                              // TTL-first: www's TTL down at once, its weight held
		{30 * time.Second, "198.51.100.1", 5, 50, 1},               // step 1
		{5*time.Minute + 30*time.Second, "198.51.100.20", 5, 0, 2}, // step 2: www drained from eu-west
		{time.Hour, "198.51.100.1", 30, 80, 0},                     // expired: the name's weight before, its TTL
	} {
		clock.set(t0.Add(tc.at))
		h.healthTick()
		addr, ttl := answer("www")
		if !strings.HasPrefix(addr, tc.addr) || ttl != tc.ttl || nameWeight() != tc.weight {
			t.Errorf("at +%s: www %s ttl %d weight %d; want %s*, ttl %d, weight %d", tc.at, addr, ttl, nameWeight(), tc.addr, tc.ttl, tc.weight)
		}
		// api uses eu-west too: neither its answer nor its TTL moves, nor
		// the region's own weight.
		if addr, ttl := answer("api"); !strings.HasPrefix(addr, "198.51.100.1") || ttl != 20 || weightOf(h, "eu-west") != 100 {
			t.Errorf("at +%s: api %s ttl %d, region weight %d; want eu-west, 20, 100", tc.at, addr, ttl, weightOf(h, "eu-west"))
		}
		var got *ScheduleStatus
		for _, z := range h.Status().Zones {
			for _, n := range z.Names {
				if n.Label == "www" {
					got = n.Schedules["eu-west"]
				}
			}
		}
		if got == nil || got.Step != tc.step || got.Active != (tc.at < time.Hour) {
			t.Errorf("at +%s: status %+v, want step %d", tc.at, got, tc.step)
		}
	}
	for what, want := range map[string]float64{"ttl_first": 1, "step": 2, "expired": 1} {
		if got := testutil.ToFloat64(h.metrics.nameScheduleSteps.WithLabelValues("www.gslb.example.test", "eu-west", what)); got != want {
			t.Errorf("glb_server_name_schedule_steps_total{what=%q} = %v, want %v", what, got, want)
		}
	}

	// Deleting the key mid-way cancels it: the name's weight before.
	clock.set(t0.Add(6 * time.Minute))
	h.Apply(devState(t, map[string]any{"zones/gslb.example.test/names/www/weights/eu-west": "80",
		"zones/gslb.example.test/names/www/schedules/eu-west": sched}))
	if w := nameWeight(); w != 0 {
		t.Fatalf("at step 2: weight %d", w)
	}
	h.Apply(devState(t, map[string]any{"zones/gslb.example.test/names/www/weights/eu-west": "80"}))
	if w := nameWeight(); w != 80 {
		t.Errorf("after the key is deleted: weight %d, want 80", w)
	}
	if got := testutil.ToFloat64(h.metrics.nameScheduleSteps.WithLabelValues("www.gslb.example.test", "eu-west", "cancelled")); got != 1 {
		t.Errorf("cancelled counted %v times, want 1", got)
	}
}

// TestNameScheduleStopOnUnhealthy: while another region of the name is
// down, the name's schedule pauses (its weight before is in force); when
// it is up again, the step returns. api does not list eu-central, so its
// schedule of eu-west does not pause.
func TestNameScheduleStopOnUnhealthy(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	sched := map[string]any{"steps": []int{0}, "every": "5m", "start": t0.Format(time.RFC3339), "before": 100, "stop_on_unhealthy": true}
	report := func(up bool) map[string]any {
		return map[string]any{"up": up, "rtt": "10ms", "time": t0.Format(time.RFC3339Nano)}
	}
	edits := func(centralUp bool) map[string]any {
		return map[string]any{"zones/gslb.example.test/names/www/schedules/eu-west": sched,
			"zones/gslb.example.test/names/api/schedules/eu-west": sched, "probers/p1": map[string]any{"lat": 50, "lon": 8},
			"health/eu-central/198.51.100.20/p1": report(centralUp), "health/eu-central/2001:db8:4::20/p1": report(centralUp)}
	}
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry()), Rand: func(int) int { return 0 }, Now: clock.now})
	weight := func(name string) int {
		t.Helper()
		return explainedWeight(t, h, name, "eu-west", netip.MustParseAddr("81.2.69.160"))
	}
	for _, tc := range []struct {
		centralUp bool
		www       int
	}{{false, 100}, {true, 0}, {false, 100}} {
		h.Apply(devState(t, edits(tc.centralUp)))
		if got, api := weight("www"), weight("api"); got != tc.www || api != 0 {
			t.Errorf("eu-central up %v: www's eu-west weight %d (want %d), api's %d (want 0)", tc.centralUp, got, tc.www, api)
		}
	}
	if got := testutil.ToFloat64(h.metrics.nameScheduleSteps.WithLabelValues("www.gslb.example.test", "eu-west", "paused")); got != 2 {
		t.Errorf("paused counted %v times, want 2", got)
	}
}

// explainedWeight is the weight Explain gives region for name and client,
// -1 when the region is not among the name's.
func explainedWeight(t *testing.T, h *Handler, name, region string, client netip.Addr) int {
	t.Helper()
	ex, err := h.Explain(ExplainRequest{Name: name, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ex.Regions {
		if r.ID == region {
			return r.Weight
		}
	}
	return -1
}
