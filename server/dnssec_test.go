package server

import (
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/server/dnssec"
)

// zoneKeys makes keys for the test zone as glbctl dnssec keygen does.
func zoneKeys(t testing.TB, alg uint8, split bool, rev int64) (*dnssec.KeySet, *ZoneKeys) {
	t.Helper()
	name := strings.TrimSuffix(testZone, ".")
	ks, private, err := dnssec.MakeKeys(name, alg, split, dnssec.DefaultDNSKEYTTL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ks.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return ks, &ZoneKeys{Name: "/glb-keys/public/" + name, Public: b, Revision: rev, Private: private}
}

// signedHandler is a handler on the dev configuration (its zone says
// dnssec) with a settable clock, and a real server in front of it.
func signedHandler(t *testing.T) (*Handler, *prometheus.Registry, string, *atomic.Int64) {
	t.Helper()
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Rand: func(int) int { return 0 },
		Now: func() time.Time { return time.Unix(clock.Load(), 0) }})
	applyNow(h, devState(t, nil))
	return h, reg, startServer(t, h), &clock
}

func doQuery(name string, qtype uint16) *dns.Msg {
	q := mkQuery(name, qtype, "81.2.69.0/24")
	q.IsEdns0().SetDo()
	return q
}

func sigOf(m *dns.Msg, t uint16) *dns.RRSIG {
	for _, rr := range append(append([]dns.RR{}, m.Answer...), m.Ns...) {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == t {
			return s
		}
	}
	return nil
}

// TestDNSSECKeysRefusedAndMissing: before any keys, a signed zone's DO
// queries get SERVFAIL (never unsigned answers) while others are
// answered, and the zone is reported; keys that do not decode are refused
// with the keys in force kept, counted.
func TestDNSSECKeysRefusedAndMissing(t *testing.T) {
	h, reg, addr, _ := signedHandler(t)
	www := "www." + testZone
	h.ApplyKeys(map[string]*ZoneKeys{})
	if got := h.UnsignedZones(); len(got) != 1 || got[0] != strings.TrimSuffix(testZone, ".") {
		t.Errorf("UnsignedZones %v, want the test zone", got)
	}
	for _, net := range []string{"udp", "tcp"} {
		if m := exchange(t, net, addr, doQuery(www, dns.TypeA)); m.Rcode != dns.RcodeServerFailure || len(m.Answer) != 0 {
			t.Errorf("%s DO query without keys: %s with %d answers, want SERVFAIL", net, dns.RcodeToString[m.Rcode], len(m.Answer))
		}
		if m := exchange(t, net, addr, mkQuery(www, dns.TypeA, "81.2.69.0/24")); m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 {
			t.Errorf("%s query without DO: %s, want an answer", net, dns.RcodeToString[m.Rcode])
		}
	}
	if n := counterValue(t, reg, "glb_dnssec_unsigned_servfail_total", strings.TrimSuffix(testZone, ".")); n != 2 {
		t.Errorf("glb_dnssec_unsigned_servfail_total %v, want 2", n)
	}

	ex, err := h.Explain(ExplainRequest{Name: www, Client: mustAddr("81.2.69.1")})
	if err != nil || ex.DNSSEC == nil || ex.DNSSEC.Signed || ex.DNSSEC.Reason == "" {
		t.Errorf("explain without keys: %+v, %v; want not signed, with the reason", ex.DNSSEC, err)
	}

	ks, good := zoneKeys(t, dnssec.AlgECDSAP256, false, 5)
	h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): good})
	if got := h.UnsignedZones(); len(got) != 0 {
		t.Errorf("UnsignedZones %v after keys, want none", got)
	}
	tag := ks.Keys[0].Tag
	ex, err = h.Explain(ExplainRequest{Name: www, Client: mustAddr("81.2.69.1")})
	if err != nil || ex.DNSSEC == nil || !ex.DNSSEC.Signed || ex.DNSSEC.KeyTag != tag || ex.DNSSEC.Algorithm != dnssec.AlgECDSAP256 {
		t.Errorf("explain with keys: %+v, %v; want signed by %d", ex.DNSSEC, err, tag)
	}
	for _, bad := range []struct {
		name string
		edit func(z *ZoneKeys)
	}{
		{"corrupt private key", func(z *ZoneKeys) {
			z.Private[tag] = "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: AAAA\n"
		}},
		{"missing private key", func(z *ZoneKeys) { delete(z.Private, tag) }},
		{"corrupt key set", func(z *ZoneKeys) { z.Public = []byte(`{"zone": 1}`) }},
		{"another zone's key set", func(z *ZoneKeys) {
			z.Public = []byte(strings.Replace(string(z.Public), testZone, "other.test.", -1))
		}},
	} {
		z := *good
		z.Private = map[uint16]string{tag: good.Private[tag]}
		good.Revision++ // each a new write to etcd
		z.Revision = good.Revision
		bad.edit(&z)
		before := counterValue(t, reg, "glb_dnssec_key_errors_total", strings.TrimSuffix(testZone, "."))
		h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): &z})
		if n := counterValue(t, reg, "glb_dnssec_key_errors_total", strings.TrimSuffix(testZone, ".")); n != before+1 {
			t.Errorf("%s: glb_dnssec_key_errors_total %v, want %v", bad.name, n, before+1)
		}
		m := exchange(t, "udp", addr, doQuery(www, dns.TypeA))
		if s := sigOf(m, dns.TypeA); m.Rcode != dns.RcodeSuccess || s == nil || s.KeyTag != tag {
			t.Errorf("%s: %s, signature %v; want answers signed with the keys in force (%d)", bad.name, dns.RcodeToString[m.Rcode], s, tag)
		}
	}
}

// TestDNSSECSignatureCache: every client of a region gets the one cached
// signature of its RRset, and the hourly refresh signs again what comes
// near expiry (injected clock), so that queries keep valid signatures
// without signing themselves.
func TestDNSSECSignatureCache(t *testing.T) {
	h, _, addr, clock := signedHandler(t)
	ks, zk := zoneKeys(t, dnssec.AlgEd25519, false, 1)
	h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
	zs := h.snap.Load().DNSSEC.Zones[testZone]
	www := "www." + testZone

	first := sigOf(exchange(t, "udp", addr, doQuery(www, dns.TypeA)), dns.TypeA)
	for _, ecs := range []string{"81.2.69.0/24", "81.2.69.0/25", "81.2.70.0/24"} { // one region (eu-west), other scopes
		q := mkQuery(www, dns.TypeA, ecs)
		q.IsEdns0().SetDo()
		m := exchange(t, "tcp", addr, q)
		if s := sigOf(m, dns.TypeA); s == nil || s.Signature != first.Signature {
			t.Errorf("ECS %s: signature %v, want the cached %v", ecs, s, first)
		}
	}
	st := zs.Answers.Stats()
	if st.Signs != 1 || st.Hits < 3 {
		t.Errorf("cache %+v after 4 queries of one RRset: want 1 sign and 3 hits", st)
	}

	// Six days on: the signature (valid 6 to 7 days) is due; the refresh
	// signs it again, and queries get the new one without signing.
	clock.Add(int64((6 * 24 * time.Hour).Seconds()))
	if n := zs.Answers.Refresh(); n == 0 {
		t.Fatal("refresh six days on signed nothing")
	}
	h.refreshSignatures() // the hourly loop's body: nothing more is due
	signs := zs.Answers.Stats().Signs
	m := exchange(t, "udp", addr, doQuery(www, dns.TypeA))
	s := sigOf(m, dns.TypeA)
	now := time.Unix(clock.Load(), 0)
	if s == nil || s.Signature == first.Signature || !s.ValidityPeriod(now) || time.Unix(int64(s.Expiration), 0).Before(now.Add(5*24*time.Hour)) {
		t.Fatalf("after refresh: %v; want a new signature valid for days", s)
	}
	if got := zs.Answers.Stats().Signs; got != signs {
		t.Errorf("the query signed (%d signs, %d before): the refresh should have", got, signs)
	}
	keys := ks.DNSKEYs()
	if err := s.Verify(keys[0].(*dns.DNSKEY), m.Answer[:len(m.Answer)-1]); err != nil {
		t.Errorf("refreshed signature does not verify: %v", err)
	}
}

// TestDNSSECTruncation: a signed answer too big for the client's UDP size
// is truncated (TC) over UDP and comes whole, and verifying, over TCP.
func TestDNSSECTruncation(t *testing.T) {
	var values []string
	for i := range 12 {
		values = append(values, strings.Repeat(string(rune('a'+i)), 60))
	}
	h, _ := newTestHandler(t, map[string]any{"zones/gslb.example.test/records/big/TXT": map[string]any{"values": values}})
	ks, zk := zoneKeys(t, dnssec.AlgECDSAP256, false, 1)
	h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
	addr := startServer(t, h)
	q := mkQuery("big."+testZone, dns.TypeTXT, "")
	q.SetEdns0(512, true)
	if m := exchange(t, "udp", addr, q); !m.Truncated {
		t.Errorf("UDP at 512 bytes: not truncated (%d answers)", len(m.Answer))
	}
	m := exchange(t, "tcp", addr, q)
	s := sigOf(m, dns.TypeTXT)
	if m.Truncated || len(m.Answer) != len(values)+1 || s == nil {
		t.Fatalf("TCP: truncated %v, %d answers, signature %v; want all %d and the RRSIG", m.Truncated, len(m.Answer), s, len(values))
	}
	if err := s.Verify(ks.DNSKEYs()[0].(*dns.DNSKEY), m.Answer[:len(values)]); err != nil {
		t.Errorf("TCP answer does not verify: %v", err)
	}
}

// BenchmarkAnswerPacketSigned measures answers of the signed zone with DO
// set (signature cache hits, after a first query) beside the same queries
// without DO, in one run.
func BenchmarkAnswerPacketSigned(b *testing.B) {
	do := func(q *dns.Msg) *dns.Msg {
		if q.IsEdns0() == nil {
			q.SetEdns0(1232, true)
		}
		q.IsEdns0().SetDo()
		return q
	}
	for _, bc := range []struct {
		name string
		q    *dns.Msg
	}{
		{"unsigned_A_ECS_London", mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")},
		{"DO_A_ECS_London", do(mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24"))},
		{"DO_AAAA_ECS_Tokyo", do(mkQuery("www."+testZone, dns.TypeAAAA, "2001:218:1::/48"))},
		{"unsigned_NXDOMAIN", mkQuery("nope."+testZone, dns.TypeA, "")},
		{"DO_NXDOMAIN_compact", do(mkQuery("nope."+testZone, dns.TypeA, ""))},
		{"DO_MX", do(mkQuery(testZone, dns.TypeMX, ""))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := newTestHandler(b, nil)
			_, zk := zoneKeys(b, dnssec.AlgECDSAP256, false, 1)
			h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
			pkt, err := bc.q.Pack()
			if err != nil {
				b.Fatal(err)
			}
			remote := netip.MustParseAddrPort("127.0.0.1:5300")
			out := make([]byte, 0, 1232)
			if _, ok := h.AnswerPacket(out[:0], pkt, remote, false); !ok { // the first sign, outside the loop
				b.Fatal("no reply")
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := h.AnswerPacket(out[:0], pkt, remote, false); !ok {
					b.Fatal("no reply")
				}
			}
		})
	}
}
