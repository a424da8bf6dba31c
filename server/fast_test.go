package server

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// TestFastPathMatchesGeneralPath is the differential test of the fast path:
// thousands of random queries (names, cases, types, ECS shapes, EDNS
// options, broken packets) answered by AnswerPacket, once with the fast
// path allowed and once forced through the DNS library, with the same
// random draws. The replies must mean the same thing.
func TestFastPathMatchesGeneralPath(t *testing.T) {
	edits := merge(name(map[string]any{"regions": []string{"us-east", "us-west", "eu-west", "eu-central"}, "geofence": euFence,
		"answers": 3, "spread": true}), euWestDown)
	st := devState(t, edits)
	mk := func() *Handler {
		h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry())})
		applyNow(h, st)
		return h
	}
	fast, general := mk(), mk()
	general.noFast = true
	tookFast := false
	fastHook = func() { tookFast = true }
	defer func() { fastHook = nil }()
	r := rand.New(rand.NewPCG(11, 12))
	fastCount := 0
	for i := range 4000 {
		pkt := randomQuery(r)
		remote := netip.AddrPortFrom(randomAddr(r), 5353)
		var outs [2][]byte
		var oks [2]bool
		tookFast = false
		for k, h := range []*Handler{fast, general} {
			draws := rand.New(rand.NewPCG(uint64(i), 99))
			h.intn = func(n int) int { return draws.IntN(n) }
			outs[k], oks[k] = h.AnswerPacket(make([]byte, 0, 512), pkt, remote, i%7 == 0)
		}
		if oks[0] != oks[1] {
			t.Fatalf("query %d: fast ok=%v general ok=%v\n% x", i, oks[0], oks[1], pkt)
		}
		if !oks[0] {
			continue
		}
		a, b := new(dns.Msg), new(dns.Msg)
		if err := a.Unpack(outs[0]); err != nil {
			t.Fatalf("query %d: fast reply does not parse: %v", i, err)
		}
		if err := b.Unpack(outs[1]); err != nil {
			t.Fatalf("query %d: general reply does not parse: %v", i, err)
		}
		if sa, sb := canonical(a), canonical(b); sa != sb {
			t.Fatalf("query %d differs:\nfast:\n%s\ngeneral:\n%s", i, sa, sb)
		}
		if tookFast {
			fastCount++
		}
	}
	t.Logf("%d of 4000 queries took the fast path", fastCount)
	if fastCount < 500 {
		t.Errorf("only %d queries took the fast path", fastCount)
	}
}

// canonical renders a reply for comparison: owner names lower-cased (the
// fast path points answers at the question as asked).
func canonical(m *dns.Msg) string {
	m.Compress = false
	s := m.String()
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, ";") || line == "" {
			out = append(out, line)
			continue
		}
		out = append(out, strings.ToLower(line))
	}
	return strings.Join(out, "\n")
}

// randomQuery builds a random, mostly well-formed query packet.
func randomQuery(r *rand.Rand) []byte {
	names := []string{"www", "WWW", "Www", "api", "p", "nope", "mail", "docs", "ns1", "@", "x.www", "www.example.org."}
	n := names[r.IntN(len(names))]
	switch {
	case n == "@":
		n = testZone
	case !strings.HasSuffix(n, "."):
		n += "." + testZone
	}
	qtypes := []uint16{dns.TypeA, dns.TypeA, dns.TypeAAAA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeANY}
	m := new(dns.Msg)
	m.SetQuestion(n, qtypes[r.IntN(len(qtypes))])
	m.Id = uint16(r.IntN(1 << 16))
	m.RecursionDesired = r.IntN(2) == 0
	m.CheckingDisabled = r.IntN(5) == 0
	if r.IntN(4) != 0 {
		m.SetEdns0(uint16(512+r.IntN(4000)), r.IntN(3) == 0)
		opt := m.IsEdns0()
		if r.IntN(4) != 0 {
			a := randomAddr(r)
			bits := r.IntN(33)
			fam := uint16(1)
			if a.Is6() {
				bits, fam = r.IntN(129), 2
			}
			p := netip.PrefixFrom(a, bits).Masked()
			addr := p.Addr()
			if r.IntN(20) == 0 {
				addr = a // bits beyond the prefix: FORMERR
			}
			opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(bits), Address: addr.AsSlice()})
		}
		if r.IntN(4) == 0 {
			opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
		}
		if r.IntN(30) == 0 {
			opt.SetVersion(1)
		}
	}
	pkt, err := m.Pack()
	if err != nil {
		panic(err)
	}
	switch r.IntN(40) {
	case 0:
		return pkt[:r.IntN(len(pkt))] // cut short
	case 1:
		pkt[2] |= 0x80 // a response
	case 2:
		pkt[5]++ // lying question count
	case 3:
		return append(pkt, 0, 1, 2) // trailing bytes
	}
	return pkt
}
