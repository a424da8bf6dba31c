package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var reportTime = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// report is the JSON of a health report at reportTime (minus age).
func report(up bool, rtt time.Duration, age time.Duration) map[string]any {
	return map[string]any{"up": up, "rtt": rtt.String(), "time": reportTime.Add(-age).Format(time.RFC3339Nano)}
}

// prober registers a prober at a position.
func prober(lat, lon float64) map[string]any { return map[string]any{"lat": lat, "lon": lon} }

// healthHandler serves the dev configuration plus edits, with the clock
// just after reportTime and rand always 0.
func healthHandler(t *testing.T, edits map[string]any) (*Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Rand: func(int) int { return 0 },
		Now: func() time.Time { return reportTime.Add(time.Second) }})
	applyNow(h, devState(t, edits))
	return h, reg
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// votes writes reports from probers p1..pN on one endpoint.
func votes(region, endpoint string, ups ...bool) map[string]any {
	out := map[string]any{}
	for i, up := range ups {
		id := fmt.Sprintf("p%d", i+1)
		out["probers/"+id] = prober(50, 8)
		out["health/"+region+"/"+endpoint+"/"+id] = report(up, 10*time.Millisecond, 0)
	}
	return out
}

// TestHealthAnswers checks how prober reports change answers: quorum,
// endpoint filtering, stale reports, unregistered probers and failing open.
func TestHealthAnswers(t *testing.T) {
	const euWest = "198.51.100.10,198.51.100.11"
	const euCentral = "198.51.100.20"
	allEUDown := merge(votes("eu-west", "198.51.100.10", false), votes("eu-west", "198.51.100.11", false),
		votes("eu-west", "2001:db8:3::10", false))
	cases := []struct {
		name     string
		edits    map[string]any
		ecs      string
		want     string
		failOpen float64
	}{
		{name: "no reports: treated as up", ecs: "81.2.69.0/24", want: euWest},
		{name: "2 of 3 probers say up: stays", edits: merge(votes("eu-west", "198.51.100.10", true, true, false),
			votes("eu-west", "198.51.100.11", true, true, false)), ecs: "81.2.69.0/24", want: euWest},
		{name: "2 of 3 say down on every address: region leaves", edits: merge(votes("eu-west", "198.51.100.10", true, false, false),
			votes("eu-west", "198.51.100.11", false, false, true), votes("eu-west", "2001:db8:3::10", false, false)),
			ecs: "81.2.69.0/24", want: euCentral},
		{name: "one address down: only the other is answered", edits: votes("eu-west", "198.51.100.11", false),
			ecs: "81.2.69.0/24", want: "198.51.100.10"},
		{name: "down reports of an unregistered prober do not count", edits: map[string]any{
			"health/eu-west/198.51.100.10/ghost": report(false, 0, 0), "health/eu-west/198.51.100.11/ghost": report(false, 0, 0)},
			ecs: "81.2.69.0/24", want: euWest},
		{name: "stale down reports do not count", edits: map[string]any{"probers/p1": prober(50, 8),
			"health/eu-west/198.51.100.10/p1": report(false, 0, time.Hour), "health/eu-west/198.51.100.11/p1": report(false, 0, time.Hour)},
			ecs: "81.2.69.0/24", want: euWest},
		{name: "all regions of a name down: fail open", edits: merge(allEUDown,
			votes("us-east", "192.0.2.10", false), votes("us-east", "192.0.2.11", false)),
			ecs: "api:81.2.69.0/24", want: "198.51.100.10", failOpen: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, reg := healthHandler(t, tc.edits)
			name, ecs := "www.", tc.ecs
			if len(ecs) > 4 && ecs[:4] == "api:" {
				name, ecs = "api.", ecs[4:]
			}
			m := ask(t, h, "127.0.0.1", mkQuery(name+testZone, dns.TypeA, ecs))
			if got := answerAddrs(m); got != tc.want {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			if got := testutil.ToFloat64(h.metrics.failOpen.WithLabelValues("gslb.example.test", name[:len(name)-1])); got != tc.failOpen {
				t.Errorf("fail-open count %v, want %v", got, tc.failOpen)
			}
			_ = reg
		})
	}
}

// TestLatencyPolicy places probers and RTTs so that the measured-fastest
// region is not the nearest one, and checks that without data the latency
// policy gives the geo answer.
func TestLatencyPolicy(t *testing.T) {
	latency := map[string]any{"zones/gslb.example.test/names/www": map[string]any{
		"regions": []string{"us-east", "eu-west", "eu-central"}, "policy": "latency"}}
	// Two probers in London measure eu-central (Frankfurt) faster than
	// eu-west (London): say eu-west's network is congested.
	measured := merge(latency, map[string]any{
		"probers/lon-1": prober(51.5, -0.1), "probers/lon-2": prober(51.6, -0.2), "probers/nyc-1": prober(40.7, -74),
		"health/eu-west/198.51.100.10/lon-1":    report(true, 80*time.Millisecond, 0),
		"health/eu-west/198.51.100.10/lon-2":    report(true, 90*time.Millisecond, 0),
		"health/eu-central/198.51.100.20/lon-1": report(true, 15*time.Millisecond, 0),
		"health/eu-central/198.51.100.20/lon-2": report(true, 17*time.Millisecond, 0),
		"health/us-east/192.0.2.10/nyc-1":       report(true, 5*time.Millisecond, 0),
	})
	cases := []struct {
		name  string
		edits map[string]any
		ecs   string
		want  string
	}{
		{"without data equals geo: London", latency, "81.2.69.0/24", "198.51.100.10,198.51.100.11"},
		{"without data equals geo: Frankfurt", latency, "91.198.174.0/24", "198.51.100.20"},
		{"without data equals geo: Ashburn", latency, "67.43.156.0/24", "192.0.2.10,192.0.2.11"},
		{"London gets the faster, farther region", measured, "81.2.69.0/24", "198.51.100.20"},
		{"Ashburn still gets us-east", measured, "67.43.156.0/24", "192.0.2.10,192.0.2.11"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := healthHandler(t, tc.edits)
			m := ask(t, h, "127.0.0.1", mkQuery("www."+testZone, dns.TypeA, tc.ecs))
			if got := answerAddrs(m); got != tc.want {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStaleReportsExpireWithoutEvents checks that the handler's clock makes
// reports stale even when no new state arrives.
func TestStaleReportsExpireWithoutEvents(t *testing.T) {
	now := reportTime
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Rand: func(int) int { return 0 },
		Now: func() time.Time { return now }})
	h.Apply(devState(t, merge(votes("eu-west", "198.51.100.10", false), votes("eu-west", "198.51.100.11", false),
		votes("eu-west", "2001:db8:3::10", false))))
	london := func() string {
		return answerAddrs(ask(t, h, "127.0.0.1", mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")))
	}
	if got := london(); got != "198.51.100.20" {
		t.Fatalf("with eu-west down: %q", got)
	}
	now = reportTime.Add(10 * time.Minute)
	h.mu.Lock()
	h.rebuild() // what Run does every HealthTick
	h.mu.Unlock()
	if got := london(); got != "198.51.100.10,198.51.100.11" {
		t.Errorf("after reports went stale: %q, want eu-west back", got)
	}
}

func answerAddrs(m *dns.Msg) string {
	var out []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	s := ""
	for i, a := range sortedCopy(out) {
		if i > 0 {
			s += ","
		}
		s += a
	}
	return s
}
