package server

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
)

// BenchmarkAnswerPacketDORatio measures each query with DO against a
// signed zone and the same query without DO, interleaved in batches of
// 64 so that both see the same load on a shared machine: ns/unsigned,
// ns/DO and their ratio, the figure the DO fast path is held to (1.2).
// The DO queries hit the signature cache (a first query signs, outside
// the timing); NXDOMAIN and NODATA take the general path and sign each
// compact denial once.
func BenchmarkAnswerPacketDORatio(b *testing.B) {
	for _, bc := range []struct {
		name, qname string
		qtype       uint16
		ecs         string
	}{
		{"A_ECS_London", "www", dns.TypeA, "81.2.69.0/24"},
		{"AAAA_ECS_Tokyo", "www", dns.TypeAAAA, "2001:218:1::/48"},
		{"A_noECS", "api", dns.TypeA, ""},
		{"NXDOMAIN_compact", "nope", dns.TypeA, ""},
		{"NODATA_compact", "www", dns.TypeTXT, ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := newTestHandler(b, nil)
			_, zk := zoneKeys(b, dnssec.AlgECDSAP256, false, 1)
			h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
			var pkts [2][]byte
			for i, do := range []bool{false, true} {
				q := mkQuery(bc.qname+"."+testZone, bc.qtype, bc.ecs)
				if q.IsEdns0() == nil {
					q.SetEdns0(1232, false)
				}
				if do {
					q.IsEdns0().SetDo()
				}
				var err error
				if pkts[i], err = q.Pack(); err != nil {
					b.Fatal(err)
				}
			}
			remote := netip.MustParseAddrPort("127.0.0.1:5300")
			out := make([]byte, 0, 1232)
			if _, ok := h.AnswerPacket(out[:0], pkts[1], remote, false); !ok { // the first sign
				b.Fatal("no reply")
			}
			const batch = 64
			var took [2]time.Duration
			b.ReportAllocs()
			for b.Loop() {
				for i := range pkts {
					start := time.Now()
					for range batch {
						if _, ok := h.AnswerPacket(out[:0], pkts[i], remote, false); !ok {
							b.Fatal("no reply")
						}
					}
					took[i] += time.Since(start)
				}
			}
			n := float64(b.N * batch)
			b.ReportMetric(float64(took[0].Nanoseconds())/n, "ns/unsigned")
			b.ReportMetric(float64(took[1].Nanoseconds())/n, "ns/DO")
			b.ReportMetric(float64(took[1])/float64(took[0]), "DO/unsigned")
		})
	}
}

// BenchmarkAnswerPacketFirstSign measures a DO answer whose RRset is not
// in the signature cache yet: the whole handler, with the signing (ECDSA
// P-256 and Ed25519). It is what the first query of each region's answer
// costs after a key change, and never again until the key changes (the
// hourly refresh signs ahead of expiry).
func BenchmarkAnswerPacketFirstSign(b *testing.B) {
	for _, alg := range []uint8{dnssec.AlgECDSAP256, dnssec.AlgEd25519} {
		b.Run(dns.AlgorithmToString[alg], func(b *testing.B) {
			h, _ := newTestHandler(b, nil)
			_, zk := zoneKeys(b, alg, false, 1)
			h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
			q := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")
			q.IsEdns0().SetDo()
			pkt, err := q.Pack()
			if err != nil {
				b.Fatal(err)
			}
			remote := netip.MustParseAddrPort("127.0.0.1:5300")
			out := make([]byte, 0, 1232)
			zs := h.snap.Load().DNSSEC.Zones[testZone]
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				fresh := *zs
				fresh.Answers = dnssec.NewCache(zs.Signer, 0)
				h.snap.Load().DNSSEC.Zones[testZone] = &fresh // the benchmark owns this handler
				b.StartTimer()
				if _, ok := h.AnswerPacket(out[:0], pkt, remote, false); !ok {
					b.Fatal("no reply")
				}
			}
			if st := h.snap.Load().DNSSEC.Zones[testZone].Answers.Stats(); st.Signs != 1 {
				b.Fatalf("last query: %d signs, want 1", st.Signs)
			}
		})
	}
}
