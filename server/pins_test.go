package server

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// pinEdits defines the collection corp (office, with the lab nested in
// it) and the name p pinning office to eu-central and lab to eu-west:
// neither is what the test database's unlocated neighbours get (us-east),
// so a scope reaching across a pin's edge shows.
func pinEdits(extra map[string]any) map[string]any {
	return merge(map[string]any{
		"nets/corp": map[string]any{"office": []string{"81.2.69.0/24", "2001:db8:100::/48"}, "lab": []string{"81.2.69.128/25"}},
		"zones/gslb.example.test/names/p": map[string]any{"regions": []string{"us-east", "eu-west", "eu-central"},
			"pins": map[string]any{"corp/office": []string{"eu-central"}, "corp/lab": []string{"eu-west"}}},
		// q is p without pins: what GeoIP alone answers.
		"zones/gslb.example.test/names/q": map[string]any{"regions": []string{"us-east", "eu-west", "eu-central"}},
	}, extra)
}

// TestPinnedNetworks: a pinned client gets its pin's regions whatever
// GeoIP says (London's 81.2.69.0/24 is pinned to eu-central), the most
// specific pin wins, unpinned neighbours keep GeoIP, and scopes cover
// only the pinned range or stay clear of it. Over UDP and TCP.
func TestPinnedNetworks(t *testing.T) {
	const euWest, euCentral = "198.51.100.10,198.51.100.11", "198.51.100.20"
	cases := []struct {
		name   string
		edits  map[string]any
		ecs    string
		qtype  uint16
		want   string
		scope  int
		scopeF func(int) bool // instead of scope, when the GeoIP network decides
	}{
		{name: "office wins over GeoIP London", ecs: "81.2.69.5/32", want: euCentral, scope: 25},
		{name: "the nested lab wins over the office", ecs: "81.2.69.200/32", want: euWest, scope: 25},
		{name: "a /24 query in the office", ecs: "81.2.69.0/24", want: euCentral, scope: 24},
		{name: "unpinned neighbour keeps GeoIP, its scope stays out of the office", ecs: "81.2.68.7/32", want: "as q",
			scopeF: func(s int) bool { return s >= 24 }},
		{name: "unpinned London keeps GeoIP", ecs: "81.2.70.7/32", want: "as q", scopeF: func(s int) bool { return s >= 23 }},
		{name: "office over IPv6", ecs: "2001:db8:100::1/128", qtype: dns.TypeAAAA, want: "2001:db8:4::20", scope: 48},
		{name: "the pinned region down: on_all_down inside the pin", edits: euCentralDown, ecs: "81.2.69.5/32", want: euCentral, scope: 25},
		{name: "unlocated neighbour of the IPv6 office", ecs: "2001:db8:101::1/128", qtype: dns.TypeAAAA, want: "2001:db8:1::10,2001:db8:1::11",
			scopeF: func(s int) bool { return s >= 48 }},
		{name: "no pins field: GeoIP", edits: map[string]any{"zones/gslb.example.test/names/p": map[string]any{"regions": []string{"us-east", "eu-west", "eu-central"}}},
			ecs: "81.2.69.5/32", want: euWest, scopeF: func(s int) bool { return s > 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := healthHandler(t, pinEdits(tc.edits))
			addr := startServer(t, h)
			qtype := tc.qtype
			if qtype == 0 {
				qtype = dns.TypeA
			}
			want := tc.want
			if want == "as q" {
				want = answerAddrs(exchange(t, "udp", addr, mkQuery("q."+testZone, qtype, tc.ecs)))
			}
			for _, network := range []string{"udp", "tcp"} {
				m := exchange(t, network, addr, mkQuery("p."+testZone, qtype, tc.ecs))
				if got := answerAddrs(m); got != want {
					t.Errorf("%s: answer %q, want %q", network, got, want)
				}
				s := replyScope(m)
				if tc.scopeF != nil && !tc.scopeF(s) || tc.scopeF == nil && s != tc.scope {
					t.Errorf("%s: scope %d, want %d", network, s, tc.scope)
				}
			}
		})
	}
}

// TestPinnedScopeTruth: for clients in, around and far from the pinned
// networks, every sampled address inside the scope returned gets the same
// answer as the client: the scope never covers a neighbour answered
// differently, pinned or not.
func TestPinnedScopeTruth(t *testing.T) {
	h, _ := newTestHandler(t, pinEdits(nil))
	rng := rand.New(rand.NewPCG(18, 5))
	clients := []string{"81.2.69.5", "81.2.69.127", "81.2.69.128", "81.2.69.255", "81.2.68.255", "81.2.70.0", "81.2.0.1",
		"81.0.0.1", "67.43.156.1", "133.242.1.1", "1.2.3.4", "2001:db8:100::1", "2001:db8:100:ffff::1", "2001:db8:101::1",
		"2001:db8:ff::1", "2001:218::1", "2a02:ff::1"}
	var edges []netip.Addr
	for _, s := range []string{"81.2.69.0/24", "81.2.69.128/25", "2001:db8:100::/48"} {
		p := netip.MustParsePrefix(s)
		last := lastIn(p)
		edges = append(edges, p.Addr(), p.Addr().Prev(), last, last.Next())
	}
	checked := 0
	for _, c := range clients {
		a := netip.MustParseAddr(c)
		qtype, full := uint16(dns.TypeA), 32
		if a.Is6() {
			qtype, full = dns.TypeAAAA, 128
		}
		ask1 := func(x netip.Addr) (string, int) {
			m := ask(t, h, "127.0.0.1", mkQuery("p."+testZone, qtype, netip.PrefixFrom(x, full).String()))
			return answerAddrs(m), replyScope(m)
		}
		want, scope := ask1(a)
		p := netip.PrefixFrom(a, scope).Masked()
		// Random addresses, and the edges of every pinned CIDR that lie
		// inside: a pin is a needle a random sample of a wide scope misses.
		var sample []netip.Addr
		for range 64 {
			sample = append(sample, randomIn(rng, p))
		}
		for _, e := range edges {
			if p.Contains(e) {
				sample = append(sample, e)
			}
		}
		for _, x := range sample {
			if got, _ := ask1(x); got != want {
				t.Errorf("%s got %q with scope /%d, but %s inside %s gets %q", c, want, scope, x, p, got)
				break
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

// TestPinnedExplain: explain names the pin that decided.
func TestPinnedExplain(t *testing.T) {
	h, _ := newTestHandler(t, pinEdits(nil))
	ex, err := h.Explain(ExplainRequest{Name: "p", Client: mustAddr("81.2.69.160"), ECSSource: 32})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Pin == nil || ex.Pin.Key != "corp/lab" || ex.Chosen != "eu-west" || len(ex.Tier) != 1 {
		t.Errorf("explain: pin %+v, chosen %q, tier %v; want corp/lab, eu-west", ex.Pin, ex.Chosen, ex.Tier)
	}
	// The tier rule is the pin's, not the location's distance rule.
	if ex.TierRule != pinTierRule {
		t.Errorf("pinned: tier rule %q, want %q", ex.TierRule, pinTierRule)
	}
	ex, _ = h.Explain(ExplainRequest{Name: "p", Client: mustAddr("81.2.70.160"), ECSSource: 32})
	if ex.Pin != nil || ex.Chosen != "eu-west" || ex.TierRule == pinTierRule || ex.TierRule == "" {
		t.Errorf("unpinned London: pin %+v, chosen %q, tier rule %q; want none, eu-west, the name's", ex.Pin, ex.Chosen, ex.TierRule)
	}
}

// lastIn is the last address of p.
func lastIn(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
