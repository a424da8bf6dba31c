package server

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/plan"
)

// randomAddr draws a client address: half uniformly over IPv4, a quarter
// inside networks of the test database, a quarter over 2000::/3.
func randomAddr(r *rand.Rand) netip.Addr {
	known := []string{"81.2.69.0/24", "81.2.70.0/24", "81.2.71.0/24", "2.125.160.0/19", "89.160.20.0/24",
		"91.198.174.0/24", "216.160.83.0/24", "67.43.156.0/24", "175.16.199.0/24", "133.242.0.0/16",
		"1.128.0.0/16", "200.160.0.0/20", "41.0.0.0/16", "2a02:cf40::/29", "2001:218::/32", "2804:14c::/32"}
	switch r.IntN(4) {
	case 0, 1:
		return netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
	case 2:
		return randomIn(r, netip.MustParsePrefix(known[r.IntN(len(known))]))
	default:
		var b [16]byte
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		b[0] = 0x20 | b[0]&0x1f
		return netip.AddrFrom16(b)
	}
}

// randomIn draws an address inside p.
func randomIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		if r.IntN(2) == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// planKey is the decision a client at a gets for g: what the scope must
// not mix.
func planKey(h *Handler, g *plan.Name, qtype uint16, a netip.Addr) string {
	loc, _, found := h.geo.Lookup(a)
	p := g.Plan(qtype, loc, found, h.snap.Load().Health)
	return p.Key(g.Spread)
}

// TestScopeIsTruthful is the ECS scope property: over thousands of random
// clients, every other address inside the returned scope gets the same
// decision; and some scopes are wider than the GeoIP record's network.
func TestScopeIsTruthful(t *testing.T) {
	scenarios := map[string]map[string]any{
		"geo, all up":       nil,
		"geo, eu-west down": euWestDown,
		"fenced":            name(map[string]any{"regions": []string{"us-east", "us-west", "eu-west", "eu-central"}, "geofence": euFence}),
		"latency with probers": merge(name(map[string]any{"regions": []string{"us-east", "eu-west", "eu-central", "ap-northeast"}, "policy": "latency"}),
			map[string]any{"probers/lon": prober(51.5, -0.1), "probers/tyo": prober(35.7, 139.7),
				"health/eu-central/198.51.100.20/lon": report(true, 5*time.Millisecond, 0),
				"health/eu-west/198.51.100.10/lon":    report(true, 60*time.Millisecond, 0),
				"health/us-east/192.0.2.10/tyo":       report(true, 150*time.Millisecond, 0)}),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for scenario, edits := range scenarios {
		t.Run(scenario, func(t *testing.T) {
			h, _ := healthHandler(t, edits)
			label := "www."
			if edits != nil && edits["zones/gslb.example.test/names/p"] != nil {
				label = "p."
			}
			g := h.snap.Load().Config.Zones[testZone].Nodes[label+testZone].GSLB
			wider, checked := 0, 0
			for range 1500 {
				a := randomAddr(r)
				qtype, bits := dns.TypeA, 32
				if a.Is6() {
					qtype, bits = dns.TypeAAAA, 128
				}
				m := ask(t, h, "127.0.0.1", mkQuery(label+testZone, qtype, netip.PrefixFrom(a, bits).String()))
				scope := replyScope(m)
				want := planKey(h, g, qtype, a)
				p := netip.PrefixFrom(a, scope).Masked()
				if _, network, _ := h.geo.Lookup(a); scope < network.Bits() {
					wider++
				}
				for range 12 {
					b := randomIn(r, p)
					checked++
					if got := planKey(h, g, qtype, b); got != want {
						t.Fatalf("client %s got scope %v, but %s inside it decides differently", a, p, b)
					}
				}
			}
			t.Logf("%d addresses checked inside scopes; %d of 1500 scopes wider than the GeoIP network", checked, wider)
			if wider == 0 {
				t.Error("no scope was wider than its GeoIP network: merging does nothing")
			}
		})
	}
}

// TestStickyMovesOnlyTheLeavingRegionsClients checks rendezvous hashing
// over 10,000 random client subnets: the split follows the weights, and
// draining one of four regions moves only that region's clients.
func TestStickyMovesOnlyTheLeavingRegionsClients(t *testing.T) {
	doc := map[string]any{"regions": []string{"us-east", "us-west", "eu-west", "eu-central"}, "policy": "weighted",
		"sticky": map[string]any{}}
	weights := map[string]any{"regions/us-east/weight": "100", "regions/us-west/weight": "100",
		"regions/eu-west/weight": "200", "regions/eu-central/weight": "100"}
	regionOf := map[string]string{"192.0.2.10": "us-east", "192.0.2.11": "us-east", "192.0.2.20": "us-west",
		"198.51.100.10": "eu-west", "198.51.100.11": "eu-west", "198.51.100.20": "eu-central"}
	choose := func(h *Handler, subnets []netip.Prefix) []string {
		out := make([]string, len(subnets))
		for i, s := range subnets {
			m := ask(t, h, "127.0.0.1", mkQuery("p."+testZone, dns.TypeA, s.String()))
			out[i] = regionOf[strings.Split(answerAddrs(m), ",")[0]]
		}
		return out
	}
	r := rand.New(rand.NewPCG(3, 4))
	subnets := make([]netip.Prefix, 10000)
	for i := range subnets {
		subnets[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), byte(r.IntN(256)), 0}), 24)
	}
	h, _ := healthHandler(t, merge(name(doc), weights))
	before := choose(h, subnets)
	again := choose(h, subnets)
	counts := map[string]int{}
	for i := range before {
		counts[before[i]]++
		if before[i] != again[i] {
			t.Fatalf("subnet %v moved from %s to %s with nothing changed", subnets[i], before[i], again[i])
		}
	}
	for region, want := range map[string]float64{"us-east": 0.2, "us-west": 0.2, "eu-west": 0.4, "eu-central": 0.2} {
		if got := float64(counts[region]) / float64(len(subnets)); got < want-0.03 || got > want+0.03 {
			t.Errorf("%s got %.3f of subnets, want %.2f ± 0.03 (%v)", region, got, want, counts)
		}
	}
	h2, _ := healthHandler(t, merge(name(doc), weights, map[string]any{"regions/us-west/weight": "0"}))
	after := choose(h2, subnets)
	moved := 0
	for i := range before {
		if before[i] != after[i] {
			moved++
			if before[i] != "us-west" {
				t.Fatalf("subnet %v moved from %s to %s though only us-west left", subnets[i], before[i], after[i])
			}
		}
	}
	if moved != counts["us-west"] {
		t.Errorf("%d subnets moved, want all %d of us-west's", moved, counts["us-west"])
	}
}

// TestFenceHolds sends thousands of random EU clients at a fenced name with
// the EU regions up, down and drained: none is ever answered with a region
// outside the EU.
func TestFenceHolds(t *testing.T) {
	euNets := []string{"81.2.69.0/24", "81.2.70.0/24", "81.2.71.0/24", "2.125.160.0/19", "89.160.20.0/24",
		"91.198.174.0/24", "77.88.0.0/18", "185.100.0.0/16", "2a02:cf40::/29", "2a03:2880::/32"}
	euAddrs := map[string]bool{"198.51.100.10": true, "198.51.100.11": true, "198.51.100.20": true,
		"2001:db8:3::10": true, "2001:db8:4::20": true}
	doc := name(map[string]any{"regions": []string{"us-east", "us-west", "eu-west", "eu-central"}, "geofence": euFence})
	states := map[string]map[string]any{
		"up":      doc,
		"down":    merge(doc, euWestDown, euCentralDown),
		"drained": merge(doc, map[string]any{"regions/eu-west/weight": "0", "regions/eu-central/weight": "0"}),
	}
	r := rand.New(rand.NewPCG(5, 6))
	for state, edits := range states {
		t.Run(state, func(t *testing.T) {
			h, _ := healthHandler(t, edits)
			answered := 0
			for range 3000 {
				a := randomIn(r, netip.MustParsePrefix(euNets[r.IntN(len(euNets))]))
				qtype, bits := dns.TypeA, 24
				if a.Is6() {
					qtype, bits = dns.TypeAAAA, 48
				}
				m := ask(t, h, "127.0.0.1", mkQuery("p."+testZone, qtype, netip.PrefixFrom(a, bits).Masked().String()))
				for _, got := range strings.Split(answerAddrs(m), ",") {
					if got != "" && !euAddrs[got] {
						t.Fatalf("EU client %s answered with %s", a, got)
					}
				}
				if len(m.Answer) > 0 {
					answered++
				}
			}
			t.Logf("%d of 3000 EU clients answered (state %s)", answered, state)
			if state != "drained" && answered == 0 {
				t.Error("no EU client got an answer")
			}
		})
	}
}
