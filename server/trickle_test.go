package server

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/plan"
)

// trickleEdits add a failover name, standby: us-east, then eu-west and us-west, with
// a trickle share.
func trickleEdits(share float64) map[string]any {
	return map[string]any{"zones/gslb.example.test/names/standby": map[string]any{
		"regions": []string{"us-east", "eu-west", "us-west"}, "policy": "failover", "answers": 1, "trickle": share}}
}

func regionOfAnswer(m *dns.Msg) string {
	if len(m.Answer) == 0 {
		return "none"
	}
	switch rr := m.Answer[0].(type) {
	case *dns.A:
		return rr.A.String()
	case *dns.AAAA:
		return rr.AAAA.String()
	}
	return "other"
}

// TestTrickleShare: over 100,000 simulated client subnets, the share
// answered by a standby is the trickle share within one point, for IPv4
// and IPv6, and without trickle it is 0.
func TestTrickleShare(t *testing.T) {
	for _, tc := range []struct {
		share float64
		v6    bool
	}{{0.01, false}, {0.01, true}, {0.2, false}, {0, false}} {
		t.Run(fmt.Sprintf("%v v6=%v", tc.share, tc.v6), func(t *testing.T) {
			h, _ := newTestHandler(t, trickleEdits(tc.share))
			snap := h.snap.Load()
			g := snap.Config.Zones[testZone].Nodes["standby."+testZone].GSLB
			qtype := uint16(dns.TypeA)
			if tc.v6 {
				qtype = dns.TypeAAAA
			}
			r := rand.New(rand.NewPCG(1, 2))
			const clients = 100_000
			standby := 0
			for range clients {
				var client netip.Addr
				if tc.v6 {
					var b [16]byte
					b[0] = 0x20
					for i := 1; i < 16; i++ {
						b[i] = byte(r.IntN(256))
					}
					client = netip.AddrFrom16(b)
				} else {
					client = netip.AddrFrom4([4]byte{byte(1 + r.IntN(222)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
				}
				loc, _, found := h.geo.Lookup(client)
				p := g.Plan(qtype, loc, found, snap.Health)
				var out [16]*plan.Addr
				_, first := g.Pick(&p, qtype, client, snap.Health, h.intn, out[:])
				if g.Regions[first].ID != "us-east" {
					standby++
				}
			}
			got := float64(standby) / clients
			if got < tc.share-0.01 || got > tc.share+0.01 || (tc.share > 0) != (standby > 0) {
				t.Fatalf("standby share %.4f, want %.2f ± 0.01", got, tc.share)
			}
		})
	}
}

// TestTrickleScopeTruth: the ECS scope of a trickle answer is never wider
// than the trickle subnet (/24, /56), and addresses sampled inside the
// returned scope get the same answer, for clients on both sides.
func TestTrickleScopeTruth(t *testing.T) {
	h, _ := newTestHandler(t, trickleEdits(0.2))
	r := rand.New(rand.NewPCG(3, 4))
	seen := map[string]int{}
	for range 300 {
		client := netip.AddrFrom4([4]byte{byte(1 + r.IntN(222)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		m := ask(t, h, "192.0.2.1:5353", mkQuery("standby."+testZone, dns.TypeA, client.String()+"/32"))
		want := regionOfAnswer(m)
		seen[want]++
		scope := int(m.IsEdns0().Option[0].(*dns.EDNS0_SUBNET).SourceScope)
		if scope < 24 {
			t.Fatalf("%s: scope /%d is wider than the trickle subnet /24", client, scope)
		}
		net := netip.PrefixFrom(client, scope).Masked()
		for range 4 {
			b := net.Addr().As4()
			host := r.Uint32() & (1<<(32-scope) - 1)
			for i := range 4 {
				b[3-i] |= byte(host >> (8 * i))
			}
			other := netip.AddrFrom4(b)
			if got := regionOfAnswer(ask(t, h, "192.0.2.1:5353", mkQuery("standby."+testZone, dns.TypeA, other.String()+"/32"))); got != want {
				t.Fatalf("%s inside %s (the scope of %s) got %s, %s got %s", other, net, client, got, client, want)
			}
		}
	}
	if len(seen) < 2 {
		t.Fatalf("answers %v: the standbys never answered", seen)
	}
}

// TestTrickleNoAllocs: the trickle draw stays off the heap, as the rest of
// the fast path.
func TestTrickleNoAllocs(t *testing.T) {
	h, _ := newTestHandler(t, trickleEdits(0.5))
	snap := h.snap.Load()
	g := snap.Config.Zones[testZone].Nodes["standby."+testZone].GSLB
	client := netip.MustParseAddr("192.0.2.77")
	loc, _, found := h.geo.Lookup(client)
	p := g.Plan(dns.TypeA, loc, found, snap.Health)
	var out [16]*plan.Addr
	if n := testing.AllocsPerRun(1000, func() { g.Pick(&p, dns.TypeA, client, snap.Health, h.intn, out[:]) }); n != 0 {
		t.Fatalf("%v allocs per trickle pick", n)
	}
}
