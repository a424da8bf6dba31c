package server

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/server/dnssec"
)

// negEdits add to the dev configuration what denials can be about: an
// unsigned zone beside the signed one, GSLB names with IPv4 only
// (NODATA for AAAA) and all drained, and an empty non-terminal.
var negEdits = map[string]any{
	"zones/plain.example.test": map[string]any{"ns": []map[string]any{{"name": "ns1.plain.example.test", "addrs": []string{"192.0.2.54"}}},
		"contact": "hostmaster@example.test", "ttl": 60, "soa": map[string]any{"minimum": 45}},
	"zones/plain.example.test/names/www":                 map[string]any{"regions": []string{"us-east", "eu-west"}},
	"zones/plain.example.test/names/v4":                  map[string]any{"regions": []string{"sa-east"}},
	"zones/plain.example.test/records/@/TXT":             map[string]any{"values": []string{"plain"}},
	"zones/plain.example.test/records/a.deep/MX":         map[string]any{"values": []string{"10 mail.plain.example.test."}},
	"zones/gslb.example.test/names/v4only":               map[string]any{"regions": []string{"sa-east"}},
	"zones/gslb.example.test/names/gone":                 map[string]any{"regions": []string{"sa-east"}},
	"zones/gslb.example.test/names/gone/weights/sa-east": "0",
	"zones/gslb.example.test/records/x.ent/TXT":          map[string]any{"values": []string{"hi"}},
}

// negHandler serves the dev configuration with negEdits, its zone
// signed with a fresh ECDSA key (returned), with a fixed clock and cookie
// secret so that cookies in queries can be valid.
func negHandler(t testing.TB) (*Handler, *dns.DNSKEY) {
	t.Helper()
	now := time.Unix(1700000000, 0)
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry()), Cookies: &testCookies, Now: func() time.Time { return now }})
	applyNow(h, devState(t, negEdits))
	ks, zk := zoneKeys(t, dnssec.AlgECDSAP256, false, 1)
	h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
	return h, ks.DNSKEYs()[0].(*dns.DNSKEY)
}

// negQuery is one query shape of the denial tests.
type negQuery struct {
	edns, do, co, cookie bool
	ecs                  string
}

func (nq negQuery) String() string {
	return fmt.Sprintf("edns=%v do=%v co=%v cookie=%v ecs=%q", nq.edns, nq.do, nq.co, nq.cookie, nq.ecs)
}

var negQueries = []negQuery{
	{},
	{edns: true},
	{edns: true, ecs: "81.2.69.0/24"},
	{edns: true, ecs: "2001:218:1::/48", cookie: true},
	{edns: true, ecs: "0.0.0.0/0"},
	{edns: true, do: true},
	{edns: true, do: true, ecs: "81.2.69.0/24", cookie: true},
	{edns: true, do: true, co: true},
}

func (nq negQuery) packet(t testing.TB, name string, qtype uint16, remote netip.Addr) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0x4242
	if nq.edns {
		m.SetEdns0(1232, nq.do)
		o := m.IsEdns0()
		o.SetCo(nq.co)
		if nq.ecs != "" {
			o.Option = append(o.Option, ecsOption(nq.ecs))
		}
		if nq.cookie {
			o.Option = append(o.Option, randomCookie(rand.New(rand.NewPCG(1, 2)), remote, 1700000000))
		}
	}
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// negNames returns every name of every zone of h's snapshot, names that
// do not exist beside and below them, and mixed-case forms.
func negNames(h *Handler) []string {
	var out []string
	for _, z := range h.snap.Load().Config.Zones {
		out = append(out, "nope."+z.Name, "NoPe."+strings.ToUpper(z.Name), "a.b.c.missing."+z.Name)
		for name := range z.Nodes {
			out = append(out, name, strings.ToUpper(name[:1])+name[1:], "x."+name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// isDenial reports whether m is a negative answer: NXDOMAIN, or NOERROR
// with no answer and a SOA in the authority section.
func isDenial(m *dns.Msg) bool {
	if len(m.Answer) > 0 || len(m.Ns) == 0 || m.Ns[0].Header().Rrtype != dns.TypeSOA {
		return false
	}
	return m.Rcode == dns.RcodeNameError || m.Rcode == dns.RcodeSuccess
}

// TestFastNegativeMatchesGeneralPath is the differential test of the
// fast path's denials: every name of every zone, names that do not exist
// and every type the fast path parses, in every query shape, over UDP and
// TCP, answered once with the fast path and once forced through the DNS
// library. The replies must parse to the same message, every denial must
// take the fast path, and the signed ones carry RRSIGs over the SOA and
// the NSEC that verify.
func TestFastNegativeMatchesGeneralPath(t *testing.T) {
	h, key := negHandler(t)
	remote := netip.MustParseAddrPort("192.0.2.99:5300")
	counts := map[string]int{}
	n := 0
	for _, name := range negNames(h) {
		z := h.snap.Load().Match(strings.ToLower(name))
		for _, qtype := range fastNegTypes {
			for _, nq := range negQueries {
				pkt := nq.packet(t, name, qtype, remote.Addr())
				for _, tcp := range []bool{false, true} {
					what := fmt.Sprintf("%s %s %s tcp=%v", name, dns.TypeToString[qtype], nq, tcp)
					m, fast := answerBothWays(t, h, what, pkt, remote, tcp, uint64(n))
					n++
					if !isDenial(m) {
						continue
					}
					signed := nq.do && z.Signed
					kind := dns.RcodeToString[m.Rcode]
					if signed {
						kind += " signed"
					}
					counts[kind]++
					if !fast {
						t.Errorf("%s: the denial (%s) took the general path", what, kind)
					}
					if signed {
						verifyDenial(t, what, m, key)
					}
				}
			}
		}
	}
	t.Logf("%d queries on both paths; denials: %v", n, counts)
	for _, kind := range []string{"NXDOMAIN", "NOERROR", "NXDOMAIN signed", "NOERROR signed"} {
		if counts[kind] < 100 {
			t.Errorf("too few denials compared: %v", counts)
		}
	}
}

// verifyDenial checks a signed denial: the SOA, its RRSIG, the NSEC at
// the name and its RRSIG, each verified with key.
func verifyDenial(t *testing.T, what string, m *dns.Msg, key *dns.DNSKEY) {
	t.Helper()
	if len(m.Ns) != 4 {
		t.Fatalf("%s: %d records in authority, want SOA, NSEC and their RRSIGs:\n%v", what, len(m.Ns), m)
	}
	for i := 0; i < 4; i += 2 {
		sig, ok := m.Ns[i+1].(*dns.RRSIG)
		if !ok {
			t.Fatalf("%s: %v is not followed by its RRSIG", what, m.Ns[i])
		}
		if err := sig.Verify(key, m.Ns[i:i+1]); err != nil {
			t.Errorf("%s: RRSIG over %s does not verify: %v", what, dns.TypeToString[sig.TypeCovered], err)
		}
	}
	nsec, ok := m.Ns[2].(*dns.NSEC)
	if !ok || !strings.EqualFold(nsec.Hdr.Name, m.Question[0].Name) {
		t.Errorf("%s: %v, want an NSEC at the name", what, m.Ns[2])
	}
}

// TestFastNegativeOverTheWire: denials asked of a real listener over UDP
// and TCP come from the fast path with the zone's negative SOA (its TTL
// the SOA's minimum), the general path's ECS scope echoed, and are
// counted in glb_dns_queries_total under their zone, type, rcode and
// transport, like the general path's.
func TestFastNegativeOverTheWire(t *testing.T) {
	h, key := negHandler(t)
	var fastN atomic.Int64
	fastHook = func() { fastN.Add(1) }
	t.Cleanup(func() { fastHook = nil })
	addr := startServer(t, h)
	const plain = "plain.example.test."
	for _, c := range []struct {
		name      string
		qtype     uint16
		ecs       string
		rcode     int
		zone      string
		scope     int // -1: no ECS in the reply
		negTTL    uint32
		wantOwner string
	}{
		{"nope." + testZone, dns.TypeA, "", dns.RcodeNameError, testZone, -1, 30, testZone},
		{"Deep.Missing." + testZone, dns.TypeAAAA, "81.2.69.0/24", dns.RcodeNameError, testZone, 0, 30, testZone},
		{"www." + testZone, dns.TypeTXT, "2001:218:1::/48", dns.RcodeSuccess, testZone, 0, 30, testZone},
		{"ent." + testZone, dns.TypeA, "", dns.RcodeSuccess, testZone, -1, 30, testZone},
		{"x." + plain, dns.TypeMX, "81.2.69.0/24", dns.RcodeNameError, plain, 0, 45, plain},
		{"v4." + plain, dns.TypeAAAA, "", dns.RcodeSuccess, plain, -1, 45, plain},
		{plain, dns.TypeA, "", dns.RcodeSuccess, plain, -1, 45, plain},
	} {
		for _, network := range []string{"udp", "tcp"} {
			what := fmt.Sprintf("%s %s %s over %s", c.name, dns.TypeToString[c.qtype], c.ecs, network)
			ctr := h.metrics.queries.WithLabelValues(strings.TrimSuffix(c.zone, "."), qtypeLabel(c.qtype), rcodeLabel(c.rcode), network)
			before, fastBefore := testutil.ToFloat64(ctr), fastN.Load()
			m := exchange(t, network, addr, mkQuery(c.name, c.qtype, c.ecs))
			if fastN.Load() != fastBefore+1 {
				t.Errorf("%s: not answered by the fast path", what)
			}
			if m.Rcode != c.rcode || !m.Authoritative || len(m.Answer) != 0 || len(m.Ns) != 1 {
				t.Fatalf("%s: want %s, authoritative, the SOA alone in authority; got\n%v", what, dns.RcodeToString[c.rcode], m)
			}
			soa, ok := m.Ns[0].(*dns.SOA)
			if !ok || soa.Hdr.Name != c.wantOwner || soa.Hdr.Ttl != c.negTTL {
				t.Errorf("%s: authority %v, want the SOA of %s with TTL %d", what, m.Ns[0], c.wantOwner, c.negTTL)
			}
			if got := replyScope(m); got != c.scope {
				t.Errorf("%s: ECS scope %d, want %d", what, got, c.scope)
			}
			if got := testutil.ToFloat64(ctr) - before; got != 1 {
				t.Errorf("%s: glb_dns_queries_total went up by %v, want 1", what, got)
			}
		}
	}
	// Signed denials (DO): the fast path too, signatures that verify, and
	// NXDOMAIN with CO echoed when the query says Compact Answers OK.
	for _, c := range []struct {
		name  string
		qtype uint16
		co    bool
		rcode int
	}{
		{"nope." + testZone, dns.TypeA, false, dns.RcodeSuccess},
		{"nope." + testZone, dns.TypeAAAA, true, dns.RcodeNameError},
		{"www." + testZone, dns.TypeMX, true, dns.RcodeSuccess},
		{"v4only." + testZone, dns.TypeAAAA, false, dns.RcodeSuccess},
	} {
		for _, network := range []string{"udp", "tcp"} {
			what := fmt.Sprintf("DO %s %s CO %v over %s", c.name, dns.TypeToString[c.qtype], c.co, network)
			q := mkQuery(c.name, c.qtype, "")
			q.SetEdns0(1232, true)
			q.IsEdns0().SetCo(c.co)
			fastBefore := fastN.Load()
			m := exchange(t, network, addr, q)
			if fastN.Load() != fastBefore+1 {
				t.Errorf("%s: not answered by the fast path", what)
			}
			if m.Rcode != c.rcode || m.IsEdns0() == nil || !m.IsEdns0().Do() || m.IsEdns0().Co() != (c.rcode == dns.RcodeNameError) {
				t.Errorf("%s: rcode %s, OPT %v; want %s, DO, CO only with NXDOMAIN", what, dns.RcodeToString[m.Rcode], m.IsEdns0(), dns.RcodeToString[c.rcode])
			}
			verifyDenial(t, what, m, key)
		}
	}
}

// TestFastNegativeAllocs: a denial costs no allocation, with and without
// EDNS, ECS and a cookie, for a missing name, a missing type of a static
// name and of a GSLB name; signed too once its NSEC's signature is
// cached (the first query signs), with and without Compact Answers OK.
func TestFastNegativeAllocs(t *testing.T) {
	h, _ := negHandler(t)
	remote := netip.MustParseAddrPort("192.0.2.99:5300")
	for _, c := range []struct {
		name  string
		qtype uint16
		nq    negQuery
	}{
		{"nope." + testZone, dns.TypeA, negQuery{}},
		{"nope." + testZone, dns.TypeAAAA, negQuery{edns: true, ecs: "81.2.69.0/24"}},
		{"a.b.nope." + testZone, dns.TypeA, negQuery{edns: true, ecs: "2001:218:1::/48", cookie: true}},
		{"www." + testZone, dns.TypeTXT, negQuery{edns: true}},
		{"v4only." + testZone, dns.TypeAAAA, negQuery{edns: true, ecs: "81.2.69.0/24"}},
		{"nope.plain.example.test.", dns.TypeA, negQuery{edns: true, do: true}},
		{"nope." + testZone, dns.TypeA, negQuery{edns: true, do: true}},
		{"nope." + testZone, dns.TypeAAAA, negQuery{edns: true, do: true, co: true, ecs: "81.2.69.0/24", cookie: true}},
		{"www." + testZone, dns.TypeTXT, negQuery{edns: true, do: true}},
		{testZone, dns.TypeA, negQuery{edns: true, do: true}},
		{"ent." + testZone, dns.TypeMX, negQuery{edns: true, do: true, ecs: "2001:218:1::/48"}},
		{"v4only." + testZone, dns.TypeAAAA, negQuery{edns: true, do: true, ecs: "81.2.69.0/24"}},
	} {
		pkt := c.nq.packet(t, c.name, c.qtype, remote.Addr())
		if allocs := allocsAfterFirst(t, h, pkt, remote); allocs != 0 {
			t.Errorf("%s %s %s: %v allocs per denial, want 0", c.name, dns.TypeToString[c.qtype], c.nq, allocs)
		}
	}
}

// allocsAfterFirst answers pkt once (a first query may sign), then
// returns the allocations per answer of 200 more.
func allocsAfterFirst(t *testing.T, h *Handler, pkt []byte, remote netip.AddrPort) float64 {
	t.Helper()
	out := make([]byte, 0, 1232)
	if _, ok := h.AnswerPacket(out[:0], pkt, remote, false); !ok {
		t.Fatal("no reply")
	}
	return testing.AllocsPerRun(200, func() {
		if _, ok := h.AnswerPacket(out[:0], pkt, remote, false); !ok {
			t.Fatal("no reply")
		}
	})
}

// answerBothWays answers pkt with h twice, through the fast path when it
// takes the query and forced through the general path, with the same
// random draws (seed), and fails the test unless both replies parse to
// the same message. It returns the general path's reply and whether the
// fast path answered.
func answerBothWays(t *testing.T, h *Handler, what string, pkt []byte, remote netip.AddrPort, tcp bool, seed uint64) (m *dns.Msg, fast bool) {
	t.Helper()
	tookFast := false
	fastHook = func() { tookFast = true }
	defer func() { fastHook = nil }()
	var outs [2]*dns.Msg
	for k, noFast := range []bool{false, true} {
		draws := rand.New(rand.NewPCG(seed, 5))
		h.intn = func(n int) int { return draws.IntN(n) }
		h.noFast, tookFast = noFast, false
		out, ok := h.AnswerPacket(nil, pkt, remote, tcp)
		if !ok {
			t.Fatalf("%s: no reply", what)
		}
		if k == 0 {
			fast = tookFast
		}
		outs[k] = new(dns.Msg)
		if err := outs[k].Unpack(out); err != nil {
			t.Fatalf("%s: reply does not parse: %v", what, err)
		}
	}
	h.noFast = false
	if a, b := canonical(outs[0]), canonical(outs[1]); a != b {
		t.Fatalf("%s: fast and general paths differ:\nfast:\n%s\ngeneral:\n%s", what, a, b)
	}
	return outs[1], fast
}
