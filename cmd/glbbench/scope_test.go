package main

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
)

func TestRandomClientSubnetIsRoutable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		v6    bool
		bits  int
		space netip.Prefix
	}{
		{false, 24, netip.MustParsePrefix("0.0.0.0/0")},
		{true, 56, netip.MustParsePrefix("2000::/3")},
	} {
		firsts := map[byte]bool{}
		for range 20000 {
			p := randomClientSubnet(r, tc.v6)
			if p.Bits() != tc.bits || p.Masked() != p || !tc.space.Contains(p.Addr()) {
				t.Fatalf("v6=%v: %s: want a masked /%d inside %s", tc.v6, p, tc.bits, tc.space)
			}
			for _, n := range notRoutable {
				if n.Overlaps(p) {
					t.Fatalf("%s overlaps %s", p, n)
				}
			}
			firsts[p.Addr().AsSlice()[0]] = true
		}
		// Uniform: the first byte takes most of its possible values.
		if want := map[bool]int{false: 200, true: 30}[tc.v6]; len(firsts) < want {
			t.Errorf("v6=%v: %d distinct first bytes in 20,000 draws, want >= %d", tc.v6, len(firsts), want)
		}
	}
}

func TestScopeRowCountsWidth(t *testing.T) {
	tests := []struct {
		glb, gd                               scopeAnswer
		asWide, wider, narrower, agree, known int
	}{
		{scopeAnswer{16, "eu-west"}, scopeAnswer{16, "eu-west"}, 1, 0, 0, 1, 1},
		{scopeAnswer{12, "eu-west"}, scopeAnswer{16, "eu-west"}, 1, 1, 0, 1, 1},
		{scopeAnswer{20, "eu-west"}, scopeAnswer{16, "eu-central"}, 0, 0, 1, 0, 1},
		{scopeAnswer{4, "eu-west"}, scopeAnswer{4, ""}, 1, 0, 0, 0, 0},  // gdnsd gave no address
		{scopeAnswer{4, "eu-west"}, scopeAnswer{4, "?"}, 1, 0, 0, 0, 0}, // an address of no region
	}
	for i, tc := range tests {
		var r scopeRow
		r.add(tc.glb, tc.gd)
		got := [...]int{r.n, r.asWide, r.wider, r.narrower, r.regionAgree, r.regionKnown}
		if want := [...]int{1, tc.asWide, tc.wider, tc.narrower, tc.agree, tc.known}; got != want {
			t.Errorf("%d: glb %v gdnsd %v: n, as wide, wider, narrower, agree, known = %v, want %v", i, tc.glb, tc.gd, got, want)
		}
	}
}

// serveECS answers every query on a loopback port with addr (when valid)
// and, unless scope is negative, an ECS option with that scope: a stand-in
// for gdnsd, which the tests cannot assume installed.
func serveECS(t *testing.T, addr netip.Addr, scope int) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		hdr := dns.RR_Header{Name: q.Question[0].Name, Rrtype: q.Question[0].Qtype, Class: dns.ClassINET, Ttl: 30}
		switch {
		case addr.Is4():
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: addr.AsSlice()})
		case addr.Is6():
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: addr.AsSlice()})
		}
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		if e, ok := q.IsEdns0().Option[0].(*dns.EDNS0_SUBNET); ok && scope >= 0 {
			e.SourceScope = uint8(scope)
			o.Option = append(o.Option, e)
		}
		m.Extra = append(m.Extra, o)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestAskReadsScopeAndRegion(t *testing.T) {
	regions := map[netip.Addr]string{
		netip.MustParseAddr("198.51.100.10"):  "eu-west",
		netip.MustParseAddr("2001:db8:3::10"): "eu-west",
	}
	tests := []struct {
		name   string
		addr   string
		scope  int
		subnet string
		want   scopeAnswer
		err    string
	}{
		{"IPv4 of a region", "198.51.100.10", 15, "81.2.69.0/24", scopeAnswer{15, "eu-west"}, ""},
		{"IPv6 of a region", "2001:db8:3::10", 29, "2a02:c7f::/56", scopeAnswer{29, "eu-west"}, ""},
		{"address of no region", "192.0.2.99", 8, "81.2.69.0/24", scopeAnswer{8, "?"}, ""},
		{"no address", "", 0, "81.2.69.0/24", scopeAnswer{0, ""}, ""},
		{"no ECS in the reply", "198.51.100.10", -1, "81.2.69.0/24", scopeAnswer{}, "no ECS option"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var addr netip.Addr
			if tc.addr != "" {
				addr = netip.MustParseAddr(tc.addr)
			}
			x, err := newExchanger(serveECS(t, addr, tc.scope))
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			var got scopeAnswer
			for range 50 { // the server goroutine may not be reading yet
				if got, err = x.ask("www.gslb.example.test", netip.MustParsePrefix(tc.subnet), regions, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "refused") && !isTimeout(err) {
					break
				}
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestDrawSamplesLocated(t *testing.T) {
	db, err := geo.Open(filepath.Join("..", "..", "testdata", "geoip", "glb-test-city.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, b := drawSamples(db, 50, 7), drawSamples(db, 50, 7)
	kinds := map[string]int{}
	for i, s := range a {
		kinds[s.kind]++
		if !slices.Equal(s.subnets, b[i].subnets) {
			t.Errorf("%s %s: two draws with one seed differ", s.kind, s.family())
		}
		if s.kind == "random" && len(s.subnets) != 50 {
			t.Errorf("random %s: %d subnets, want 50", s.family(), len(s.subnets))
		}
		for _, p := range s.subnets {
			if p.Addr().Is6() != s.v6 {
				t.Errorf("%s %s: %s of the other family", s.kind, s.family(), p)
			}
			if _, _, found := db.Lookup(p.Addr()); s.kind == "located" && !found {
				t.Errorf("located %s: %s is not located", s.family(), p)
			}
		}
	}
	// The test database locates a few IPv4 networks: the located IPv4 sample is full.
	if a[2].kind != "located" || a[2].v6 || len(a[2].subnets) != 50 {
		t.Errorf("located IPv4 sample: %s v6=%v with %d subnets, want 50 IPv4", a[2].kind, a[2].v6, len(a[2].subnets))
	}
	if kinds["random"] != 2 || kinds["located"] != 2 {
		t.Errorf("samples %v, want 2 random and 2 located", kinds)
	}
}
