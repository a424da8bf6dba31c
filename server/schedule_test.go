package server

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/server/explain"
)

// fakeClock is the handler's injected clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestScheduleByInjectedClock: the handler applies the step in force at
// its own clock, TTL-first lowers the TTLs of the names using the region
// before any weight moves, expiry hands back to the weight key, each
// phase is counted, and what-if at= tells what a future step will do.
func TestScheduleByInjectedClock(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	sched := map[string]any{"steps": []int{50, 0}, "every": "5m", "start": t0.Format(time.RFC3339),
		"expires": t0.Add(time.Hour).Format(time.RFC3339), "before": 100, "ttl_first": true, "hold": "30s"}
	st := devState(t, map[string]any{"regions/eu-west/schedule": sched})
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Rand: func(int) int { return 0 }, Now: clock.now})
	h.Apply(st)
	london := func() (string, uint32, int) {
		t.Helper()
		m := ask(t, h, "192.0.2.1:5353", mkQuery("www."+testZone, dns.TypeA, "81.2.69.160/32"))
		if len(m.Answer) == 0 {
			t.Fatalf("no answer at %s", clock.now())
		}
		return regionOfAnswer(m), m.Answer[0].Header().Ttl, weightOf(h, "eu-west")
	}
	for _, tc := range []struct {
		at     time.Duration
		addr   string // first address: eu-west 198.51.100.1x, eu-central .20
		ttl    uint32
		weight int
	}{
		{0, "198.51.100.1", 5, 100},                             // TTL-first: TTL down at once, weight held
		{30 * time.Second, "198.51.100.1", 5, 50},               // step 1
		{5*time.Minute + 30*time.Second, "198.51.100.20", 5, 0}, // step 2: drained
		{time.Hour, "198.51.100.1", 30, 100},                    // expired: the weight key, the name's TTL
	} {
		clock.set(t0.Add(tc.at))
		h.healthTick()
		addr, ttl, w := london()
		if addr[:len(tc.addr)] != tc.addr || ttl != tc.ttl || w != tc.weight {
			t.Errorf("at +%s: %s ttl %d weight %d; want %s*, ttl %d, weight %d", tc.at, addr, ttl, w, tc.addr, tc.ttl, tc.weight)
		}
	}
	for what, want := range map[string]float64{"ttl_first": 1, "step": 2, "expired": 1} {
		if got := testutil.ToFloat64(h.metrics.scheduleSteps.WithLabelValues("eu-west", what)); got != want {
			t.Errorf("glb_server_schedule_steps_total{what=%q} = %v, want %v", what, got, want)
		}
	}

	// What-if: from before the drain, ask what step 2 will do.
	clock.set(t0.Add(time.Minute))
	h.healthTick()
	client := netip.MustParseAddr("81.2.69.160")
	for _, tc := range []struct {
		at, chosen string
	}{{"", "eu-west"}, {"+5m", "eu-central"}, {t0.Add(2 * time.Hour).Format(time.RFC3339), "eu-west"}} {
		ex, err := h.Explain(ExplainRequest{Name: "www", Client: client, WhatIf: explain.WhatIf{At: tc.at}})
		if err != nil || ex.Chosen != tc.chosen {
			t.Errorf("at %q: chosen %v (%v), want %s", tc.at, ex, err, tc.chosen)
		}
	}
	if _, err := h.Explain(ExplainRequest{Name: "www", Client: client, WhatIf: explain.WhatIf{At: "soon"}}); err == nil {
		t.Error("at=soon accepted")
	}
}

func weightOf(h *Handler, region string) int {
	for _, r := range h.Status().Regions {
		if r.ID == region {
			return r.Weight
		}
	}
	return -1
}

// TestScheduleStopOnUnhealthy: while a region that takes the drained
// region's traffic is down, the schedule pauses (the weight key is in
// force, London keeps eu-west); when it is up again, the step returns.
func TestScheduleStopOnUnhealthy(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	sched := map[string]any{"steps": []int{0}, "every": "5m", "start": t0.Format(time.RFC3339), "before": 100, "stop_on_unhealthy": true}
	report := func(up bool) map[string]any {
		return map[string]any{"up": up, "rtt": "10ms", "time": t0.Format(time.RFC3339Nano)}
	}
	edits := func(centralUp bool) map[string]any {
		return map[string]any{"regions/eu-west/schedule": sched, "probers/p1": map[string]any{"lat": 50, "lon": 8},
			"health/eu-central/198.51.100.20/p1": report(centralUp), "health/eu-central/2001:db8:4::20/p1": report(centralUp)}
	}
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Rand: func(int) int { return 0 }, Now: clock.now})
	for _, tc := range []struct {
		centralUp bool
		weight    int
		paused    bool
	}{{false, 100, true}, {true, 0, false}, {false, 100, true}} {
		h.Apply(devState(t, edits(tc.centralUp)))
		st := h.Status()
		for _, r := range st.Regions {
			if r.ID == "eu-west" && (r.Weight != tc.weight || r.Schedule == nil || r.Schedule.Paused != tc.paused) {
				t.Errorf("eu-central up %v: eu-west weight %d, schedule %+v; want weight %d, paused %v", tc.centralUp, r.Weight, r.Schedule, tc.weight, tc.paused)
			}
		}
	}
	if got := testutil.ToFloat64(h.metrics.scheduleSteps.WithLabelValues("eu-west", "paused")); got != 2 {
		t.Errorf("paused counted %v times, want 2", got)
	}
}
