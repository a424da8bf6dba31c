package health

import (
	"net/netip"
	"testing"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

// TestAggregate checks the quorum, freshness and RTT rules on one region
// with two endpoints.
func TestAggregate(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	a, b := "192.0.2.1", "192.0.2.2"
	rep := func(up bool, rttMs int, age time.Duration) *schema.HealthReport {
		return &schema.HealthReport{Up: up, RTT: schema.Duration(time.Duration(rttMs) * time.Millisecond), Time: now.Add(-age)}
	}
	type reports map[string]map[string]*schema.HealthReport // endpoint -> prober -> report
	cases := []struct {
		name    string
		probers []string
		reports reports
		policy  Policy
		checked bool
		up      bool
		epUp    [2]bool
		rtt     map[string]time.Duration
	}{
		{name: "no reports: unchecked and up", probers: []string{"p1"}, up: true, epUp: [2]bool{true, true}, rtt: map[string]time.Duration{}},
		{name: "one up vote of one", probers: []string{"p1"}, reports: reports{a: {"p1": rep(true, 10, 0)}},
			checked: true, up: true, epUp: [2]bool{true, true}, rtt: map[string]time.Duration{"p1": 10 * time.Millisecond}},
		{name: "2 of 3 up: up", probers: []string{"p1", "p2", "p3"},
			reports: reports{a: {"p1": rep(true, 10, 0), "p2": rep(true, 20, 0), "p3": rep(false, 0, 0)}, b: {"p1": rep(false, 0, 0)}},
			checked: true, up: true, epUp: [2]bool{true, false}, rtt: map[string]time.Duration{"p1": 10 * time.Millisecond, "p2": 20 * time.Millisecond}},
		{name: "1 of 3 up: down", probers: []string{"p1", "p2", "p3"},
			reports: reports{a: {"p1": rep(true, 10, 0), "p2": rep(false, 0, 0), "p3": rep(false, 0, 0)}, b: {"p2": rep(false, 0, 0)}},
			checked: true, up: false, epUp: [2]bool{false, false}, rtt: map[string]time.Duration{"p1": 10 * time.Millisecond}},
		{name: "1 of 2 up is not more than half", probers: []string{"p1", "p2"},
			reports: reports{a: {"p1": rep(true, 10, 0), "p2": rep(false, 0, 0)}, b: {"p1": rep(false, 0, 0)}},
			checked: true, up: false, epUp: [2]bool{false, false}, rtt: map[string]time.Duration{"p1": 10 * time.Millisecond}},
		{name: "1 of 2 up with quorum 0.4", probers: []string{"p1", "p2"}, policy: Policy{Quorum: 0.4},
			reports: reports{a: {"p1": rep(true, 10, 0), "p2": rep(false, 0, 0)}, b: {"p1": rep(false, 0, 0)}},
			checked: true, up: true, epUp: [2]bool{true, false}, rtt: map[string]time.Duration{"p1": 10 * time.Millisecond}},
		{name: "stale and unregistered reports do not count", probers: []string{"p1"},
			reports: reports{a: {"p1": rep(false, 0, 3*time.Minute), "ghost": rep(false, 0, 0)}},
			up:      true, epUp: [2]bool{true, true}, rtt: map[string]time.Duration{}},
		{name: "RTT is the lowest over endpoints reported up", probers: []string{"p1"},
			reports: reports{a: {"p1": rep(true, 30, 0)}, b: {"p1": rep(true, 12, 0)}},
			checked: true, up: true, epUp: [2]bool{true, true}, rtt: map[string]time.Duration{"p1": 12 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &schema.State{
				Regions: map[string]*schema.RegionState{"eu": {ID: "eu", Region: &schema.Region{
					Addrs: []netip.Addr{netip.MustParseAddr(a), netip.MustParseAddr(b)}}}},
				Probers: map[string]*schema.ProberInfo{},
				Health:  map[string]map[string]map[string]*schema.HealthReport{"eu": tc.reports},
			}
			for _, p := range tc.probers {
				st.Probers[p] = &schema.ProberInfo{}
			}
			v := Aggregate(st, now, tc.policy)
			rh := v.Regions["eu"]
			if rh.Checked != tc.checked || rh.Up != tc.up {
				t.Errorf("checked %v up %v, want %v %v", rh.Checked, rh.Up, tc.checked, tc.up)
			}
			for i, ep := range rh.Endpoints {
				if ep.Up != tc.epUp[i] {
					t.Errorf("endpoint %s up %v, want %v (%d/%d votes)", ep.Endpoint, ep.Up, tc.epUp[i], ep.UpVotes, ep.Votes)
				}
			}
			if len(rh.RTT) != len(tc.rtt) {
				t.Errorf("RTT %v, want %v", rh.RTT, tc.rtt)
			}
			for p, d := range tc.rtt {
				if rh.RTT[p] != d {
					t.Errorf("RTT[%s] = %v, want %v", p, rh.RTT[p], d)
				}
			}
			if len(v.Probers) != len(tc.probers) {
				t.Errorf("probers %v, want %v", v.Probers, tc.probers)
			}
		})
	}
}
