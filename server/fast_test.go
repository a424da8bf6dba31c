package server

import (
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/server/limit"
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
	// Both handlers make the same server cookies: one secret, one clock.
	now := time.Unix(1700000000, 0)
	mk := func() *Handler {
		h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry()),
			Cookies: &testCookies, Now: func() time.Time { return now }})
		applyNow(h, st)
		return h
	}
	fast, general := mk(), mk()
	general.noFast = true
	tookFast := false
	fastHook = func() { tookFast = true }
	defer func() { fastHook = nil }()
	r := rand.New(rand.NewPCG(11, 12))
	fastCount, fastCookies := 0, 0
	for i := range 4000 {
		remote := netip.AddrPortFrom(randomAddr(r), 5353)
		pkt := randomQueryFrom(r, remote.Addr(), uint32(now.Unix()))
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
			if replyCookie(a) != "" {
				fastCookies++
			}
		}
	}
	t.Logf("%d of 4000 queries took the fast path, %d of them with a cookie", fastCount, fastCookies)
	if fastCookies < 100 {
		t.Errorf("only %d queries with a cookie took the fast path", fastCookies)
	}
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

// testCookies is the cookie secret of the differential test.
var testCookies = limit.CookieSecrets{Current: limit.CookieSecret{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}

// randomQuery builds a random, mostly well-formed query packet.
func randomQuery(r *rand.Rand) []byte { return randomQueryFrom(r, netip.Addr{}, 0) }

// randomCookie returns a random COOKIE option: client only, with a server
// cookie of ours for remote made at now (when remote is valid), with a
// forged or stale one, or malformed.
func randomCookie(r *rand.Rand, remote netip.Addr, now uint32) *dns.EDNS0_COOKIE {
	client := [limit.ClientCookieLen]byte{1, 2, 3, 4, 5, 6, 7, byte(r.IntN(256))}
	var b []byte
	switch k := r.IntN(8); {
	case k < 2:
		b = client[:]
	case k < 4 && remote.IsValid():
		at := now - uint32(r.IntN(2))*4000 // in date, or stale
		b = testCookies.Append(nil, &client, remote, at)
	case k < 6:
		b = testCookies.Append(nil, &client, mustAddr("192.0.2.1"), now) // another client's
		b[len(b)-1] ^= byte(r.IntN(2))                                   // or forged
	default:
		b = make([]byte, []int{0, 5, 9, 15, 17, 40, 41}[r.IntN(7)]) // malformed, or odd but valid lengths
	}
	return &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(b)}
}

// randomQueryFrom is randomQuery for a query from remote at unix time now,
// so that some of its cookies are valid.
func randomQueryFrom(r *rand.Rand, remote netip.Addr, now uint32) []byte {
	names := []string{"www", "WWW", "Www", "api", "p", "nope", "NoPe", "mail", "docs", "ns1", "@", "x.www", "www.example.org.",
		`w\.ww`, `caf\195\169`, `sp\032ce`, "a-b_c", "X.WWW", "GSLB.example.test."}
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
		if r.IntN(3) == 0 {
			opt.Option = append(opt.Option, randomCookie(r, remote, now))
			if r.IntN(20) == 0 {
				opt.Option = append(opt.Option, randomCookie(r, remote, now)) // two: FORMERR
			}
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

// replyCookie returns the COOKIE option of a reply in hex, or "".
func replyCookie(m *dns.Msg) string {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if c, ok := e.(*dns.EDNS0_COOKIE); ok {
				return c.Cookie
			}
		}
	}
	return ""
}
