package plan

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/server/internal/testdev"
)

// TestPlanAndPick runs the decision as a pure function, with no handler
// and no socket: the dev snapshot, a client's GeoIP record and the health
// in; the tier, the region drawn and the records out. Each case's scope
// table, built for the same health, gives the client the same plan.
func TestPlanAndPick(t *testing.T) {
	db := testdev.OpenDB(t)
	part, err := db.Partition()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	report := func(up bool) map[string]any {
		return map[string]any{"up": up, "rtt": "10ms", "time": now.Format(time.RFC3339Nano)}
	}
	euWestDown := map[string]any{"probers/p1": map[string]any{"lat": 50, "lon": 8}}
	for _, a := range []string{"198.51.100.10", "198.51.100.11", "2001:db8:3::10"} {
		euWestDown["health/eu-west/"+a+"/p1"] = report(false)
	}
	for _, tc := range []struct {
		name   string
		edits  map[string]any
		client string
		qtype  uint16
		tier   []string
		want   []string // the records' addresses, sorted
	}{
		{"London: the nearest region", nil, "81.2.69.160", dns.TypeA, []string{"eu-west"}, []string{"198.51.100.10", "198.51.100.11"}},
		{"Tokyo over IPv6", nil, "2001:218:1::1", dns.TypeAAAA, []string{"ap-northeast"}, []string{"2001:db8:5::10"}},
		{"London with eu-west down: the next nearest", euWestDown, "81.2.69.160", dns.TypeA, []string{"eu-central"}, []string{"198.51.100.20"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := testdev.State(t, tc.edits)
			cfg, warns := BuildConfig(st)
			if len(warns) > 0 {
				t.Fatal(warns)
			}
			ht := BuildHealth(cfg, health.Aggregate(st, now.Add(time.Second), health.DefaultPolicy))
			g := cfg.Zones[testdev.Zone].Nodes["www."+testdev.Zone].GSLB
			client := netip.MustParseAddr(tc.client)
			loc, _, found := db.Lookup(client)
			p := g.Plan(tc.qtype, loc, found, ht)
			var tier []string
			for _, i := range p.Tier() {
				tier = append(tier, g.Regions[i].ID)
			}
			if !slices.Equal(tier, tc.tier) {
				t.Errorf("tier %v, want %v", tier, tc.tier)
			}
			var out [8]*Addr
			n, first := g.Pick(&p, tc.qtype, client, ht, func(int) int { return 0 }, out[:])
			var got []string
			for _, a := range out[:n] {
				switch v := a.RR.(type) {
				case *dns.A:
					got = append(got, v.A.String())
				case *dns.AAAA:
					got = append(got, v.AAAA.String())
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || g.Regions[first].ID != tc.tier[0] {
				t.Errorf("picked %v from %s, want %v from %s", got, g.Regions[first].ID, tc.want, tc.tier[0])
			}
			table := BuildScopeTable(part, g, tc.qtype, ht)
			tp, _, ok := table.Lookup(client)
			if !ok || tp.Outcome != p.Outcome || !slices.Equal(tp.Tier(), p.Tier()) {
				t.Errorf("scope table plan %+v (found %v), want %+v", tp, ok, p)
			}
		})
	}
}
