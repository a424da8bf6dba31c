package server

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
)

// TestDNSSECGlueSigned: the addresses of the in-zone name server
// (ns1.<zone>) in the additional section of an NS answer carry their
// RRSIGs when DO is set (RFC 4035 3.1.1), and so do answers to queries
// for ns1 itself, over UDP and TCP, for both algorithms; without DO the
// sections are as before, unsigned.
func TestDNSSECGlueSigned(t *testing.T) {
	for _, alg := range []uint8{dnssec.AlgECDSAP256, dnssec.AlgEd25519} {
		h, _, addr, _ := signedHandler(t)
		ks, zk := zoneKeys(t, alg, false, 1)
		h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
		key := ks.DNSKEYs()[0].(*dns.DNSKEY)
		ns1 := "ns1." + testZone
		for _, net := range []string{"udp", "tcp"} {
			for _, c := range []struct {
				name     string
				qname    string
				qtype    uint16
				do       bool
				answer   int // records in the answer, RRSIGs included
				glueSigs int // RRSIGs in the additional section
			}{
				{"NS with DO", testZone, dns.TypeNS, true, 3, 2},
				{"NS without DO", testZone, dns.TypeNS, false, 2, 0},
				{"ns1 A with DO", ns1, dns.TypeA, true, 2, 0},
				{"ns1 AAAA with DO", ns1, dns.TypeAAAA, true, 2, 0},
				{"ns1 A without DO", ns1, dns.TypeA, false, 1, 0},
			} {
				what := net + " " + c.name
				q := new(dns.Msg)
				q.SetQuestion(c.qname, c.qtype)
				q.SetEdns0(4096, c.do)
				m := exchange(t, net, addr, q)
				if m.Rcode != dns.RcodeSuccess || len(m.Answer) != c.answer {
					t.Fatalf("%s: %s with %d answers, want %d:\n%v", what, dns.RcodeToString[m.Rcode], len(m.Answer), c.answer, m)
				}
				if c.do {
					verifyAnswerSigs(t, what, m, key)
				}
				sets := map[uint16][]dns.RR{}
				sigs := 0
				for _, rr := range m.Extra {
					switch v := rr.(type) {
					case *dns.A, *dns.AAAA:
						if !strings.EqualFold(rr.Header().Name, ns1) {
							t.Errorf("%s: additional record %v is not the in-zone name server's", what, rr)
						}
						sets[rr.Header().Rrtype] = append(sets[rr.Header().Rrtype], rr)
					case *dns.RRSIG:
						sigs++
						if err := v.Verify(key, sets[v.TypeCovered]); err != nil {
							t.Errorf("%s: glue RRSIG over %s does not verify: %v", what, dns.TypeToString[v.TypeCovered], err)
						}
					}
				}
				if sigs != c.glueSigs {
					t.Errorf("%s: %d RRSIGs in the additional section, want %d:\n%v", what, sigs, c.glueSigs, m)
				}
				if c.qtype == dns.TypeNS && (len(sets[dns.TypeA]) != 1 || len(sets[dns.TypeAAAA]) != 1) {
					t.Errorf("%s: glue %v, want ns1's A and AAAA", what, sets)
				}
			}
		}
	}
}
