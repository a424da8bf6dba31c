package server

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// TestAdminState: an admin state overrides the probers both ways, for a
// region or one endpoint, and ends by itself at its expiry on the
// handler's clock with no new state arriving. Queries go over UDP and TCP
// to a real listener; explain shows the state.
func TestAdminState(t *testing.T) {
	const london = "81.2.69.0/24"
	var euWestUp = merge(votes("eu-west", "198.51.100.10", true), votes("eu-west", "198.51.100.11", true),
		votes("eu-west", "2001:db8:3::10", true))
	until := reportTime.Add(time.Minute).Format(time.RFC3339)
	cases := []struct {
		name  string
		edits map[string]any
		want  string // London's answer now
		admin string // eu-west's admin state in explain
		later string // London's answer 90 s later, past the expiry ("": not checked)
	}{
		{name: "probers say down, admin up", edits: merge(euWestDown, map[string]any{"regions/eu-west/admin": "up"}),
			want: "198.51.100.10,198.51.100.11", admin: "up"},
		{name: "probers say up, admin down", edits: merge(euWestUp, map[string]any{"regions/eu-west/admin": "down"}),
			want: "198.51.100.20", admin: "down"},
		{name: "no check data, admin down", edits: map[string]any{"regions/eu-west/admin": "down"},
			want: "198.51.100.20", admin: "down"},
		{name: "endpoint admin down", edits: merge(euWestUp, map[string]any{"regions/eu-west/admin/198.51.100.10": "down"}),
			want: "198.51.100.11"},
		{name: "endpoint admin up in a region the probers call down", edits: merge(euWestDown, map[string]any{"regions/eu-west/admin/198.51.100.11": "up"}),
			want: "198.51.100.11"},
		{name: "endpoint state wins over the region's", edits: merge(euWestDown, map[string]any{"regions/eu-west/admin": "up",
			"regions/eu-west/admin/198.51.100.10": "down"}), want: "198.51.100.11", admin: "up"},
		{name: "admin down expires", edits: merge(euWestUp, map[string]any{"regions/eu-west/admin": "down until " + until}),
			want: "198.51.100.20", admin: "down", later: "198.51.100.10,198.51.100.11"},
		{name: "admin up expires", edits: merge(euWestDown, map[string]any{"regions/eu-west/admin": "up until " + until}),
			want: "198.51.100.10,198.51.100.11", admin: "up", later: "198.51.100.20"},
		{name: "an invalid admin state changes nothing", edits: merge(euWestDown, map[string]any{"regions/eu-west/admin": "upp"}),
			want: "198.51.100.20"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var now atomic.Int64
			now.Store(reportTime.Add(time.Second).UnixNano())
			h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry()), Rand: func(int) int { return 0 },
				Now: func() time.Time { return time.Unix(0, now.Load()) }})
			applyNow(h, devState(t, merge(tc.edits, name(map[string]any{"regions": []string{"eu-west", "eu-central"}}))))
			addr := startServer(t, h)
			check := func(want string) {
				t.Helper()
				for _, network := range []string{"udp", "tcp"} {
					if got := answerAddrs(exchange(t, network, addr, mkQuery("p."+testZone, dns.TypeA, london))); got != want {
						t.Errorf("over %s: %q, want %q", network, got, want)
					}
				}
			}
			check(tc.want)
			ex, err := h.Explain(ExplainRequest{Name: "p", Client: mustAddr("81.2.69.160")})
			if err != nil {
				t.Fatal(err)
			}
			if ex.Regions[0].ID != "eu-west" || ex.Regions[0].Admin != tc.admin {
				t.Errorf("explain: %s admin %q, want %q", ex.Regions[0].ID, ex.Regions[0].Admin, tc.admin)
			}
			if tc.later == "" {
				return
			}
			if ex.Regions[0].AdminUntil != until {
				t.Errorf("explain: admin until %q, want %q", ex.Regions[0].AdminUntil, until)
			}
			// The state ends on the clock alone: what Run does every HealthTick.
			now.Store(reportTime.Add(90 * time.Second).UnixNano()) // past the expiry, reports still fresh
			h.healthTick()
			check(tc.later)
		})
	}
}
