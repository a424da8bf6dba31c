package server

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
)

// TestFastDenialMatchesGeneralPath: DO queries of the signed zone for
// names that do not exist, with and without ECS and a cookie, over UDP and
// TCP, are answered by the fast path byte for byte as the general path
// answers them (the same caches, so the same signatures), with a SOA and
// an NSEC whose RRSIGs verify; with Compact Answers OK too (NXDOMAIN, CO
// echoed).
func TestFastDenialMatchesGeneralPath(t *testing.T) {
	for _, alg := range []uint8{dnssec.AlgECDSAP256, dnssec.AlgEd25519} {
		h, _ := newTestHandler(t, nil)
		ks, zk := zoneKeys(t, alg, false, 1)
		h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
		key := ks.DNSKEYs()[0].(*dns.DNSKEY)
		n := 0
		for _, name := range []string{"nope", "NoPe", "x.www", "a.b.c.deep-missing", "x.nope", "_srv.nope"} {
			for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
				for _, ecs := range []string{"", "81.2.69.0/24", "2001:218:1::/48"} {
					for _, opts := range []struct{ co, cookie bool }{{false, false}, {false, true}, {true, false}} {
						q := mkQuery(name+"."+testZone, qtype, ecs)
						if q.IsEdns0() == nil {
							q.SetEdns0(1232, false)
						}
						o := q.IsEdns0()
						o.SetDo()
						o.SetCo(opts.co)
						if opts.cookie {
							o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
						}
						pkt, err := q.Pack()
						if err != nil {
							t.Fatal(err)
						}
						for _, tcp := range []bool{false, true} {
							what := dns.TypeToString[qtype] + " " + name + " ECS " + ecs
							m, fast := answerBothWays(t, h, what, pkt, netip.MustParseAddrPort("127.0.0.1:5300"), tcp, uint64(n))
							n++
							if !fast {
								t.Fatalf("%s (CO %v): not answered by the fast path", what, opts.co)
							}
							wantRcode := dns.RcodeSuccess
							if opts.co {
								wantRcode = dns.RcodeNameError
							}
							if m.Rcode != wantRcode || len(m.Answer) != 0 || len(m.Ns) != 4 {
								t.Fatalf("%s: %s with %d answers and %d in authority, want %s and SOA, NSEC and their RRSIGs:\n%v",
									what, dns.RcodeToString[m.Rcode], len(m.Answer), len(m.Ns), dns.RcodeToString[wantRcode], m)
							}
							verifyDenial(t, what, m, key)
							nsec, ok := m.Ns[2].(*dns.NSEC)
							if !ok || !strings.EqualFold(nsec.Hdr.Name, name+"."+testZone) || !strings.EqualFold(nsec.NextDomain, "\\000."+name+"."+testZone) {
								t.Errorf("%s: NSEC %v, want one at the name, next \\000.name", what, m.Ns[2])
							}
						}
					}
				}
			}
		}
		t.Logf("algorithm %d: %d denials on both paths", alg, n)
	}
}
