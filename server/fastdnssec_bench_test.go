package server

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/server/plan"
)

// BenchmarkAnswerPacketDORatio measures each query with DO against a
// signed zone and the same query without DO, interleaved in batches of
// 64 so that both see the same load on a shared machine: ns/unsigned,
// ns/DO and their ratio, the figure the DO fast path is held to (1.2).
// The DO queries hit the signature cache (a first query signs, outside
// the timing), compact denials of NXDOMAIN and NODATA included.
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
				pkts[i] = queryPacket(b, bc.qname+"."+testZone, bc.qtype, bc.ecs, do)
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
			pkt := queryPacket(b, "www."+testZone, dns.TypeA, "81.2.69.0/24", true)
			remote := netip.MustParseAddrPort("127.0.0.1:5300")
			out := make([]byte, 0, 1232)
			snap := h.snap.Load()
			zs, g := snap.DNSSEC.Zones[testZone], snap.Config.Zones[testZone].Nodes["www."+testZone].GSLB
			var fresh *plan.ZoneSigning
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				// A new signing with an empty cache where the query looks
				// for its signature (the benchmark owns this handler).
				fresh = &plan.ZoneSigning{Signer: zs.Signer, Answers: dnssec.NewCache(zs.Signer, 0), Denials: zs.Denials}
				g.SetSigKeys(fresh)
				b.StartTimer()
				if _, ok := h.AnswerPacket(out[:0], pkt, remote, false); !ok {
					b.Fatal("no reply")
				}
			}
			if st := fresh.Answers.Stats(); st.Signs != 1 {
				b.Fatalf("last query: %d signs, want 1", st.Signs)
			}
		})
	}
}
