package dnssec

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSignVerifies signs every kind of RRset glb answers with, for both
// algorithms and both key layouts, and checks each RRSIG with miekg/dns
// against the zone's published DNSKEY RRset: data by the key that signs
// data, key RRsets by the key with the SEP flag, inception backdated an
// hour, expiry jittered inside the validity.
func TestSignVerifies(t *testing.T) {
	for _, alg := range []uint8{AlgECDSAP256, AlgEd25519} {
		for _, split := range []bool{false, true} {
			t.Run(fmt.Sprintf("alg%d/split=%v", alg, split), func(t *testing.T) {
				c := newClock()
				ks, priv := zoneKeys(t, alg, split, c.t)
				s, err := NewSigner(ks, priv, cfgAt(c))
				must(t, err)
				tests := []struct {
					name  string
					rrset []dns.RR
				}{
					{"A us-east", rrs(t, "www.gslb.example.com. 30 IN A 192.0.2.10", "www.gslb.example.com. 30 IN A 192.0.2.11")},
					{"A eu-west", rrs(t, "www.gslb.example.com. 30 IN A 198.51.100.10")},
					{"A ap-south, mixed-case owner", rrs(t, "WwW.gslb.Example.com. 30 IN A 203.0.113.10")},
					{"AAAA eu-west", rrs(t, "www.gslb.example.com. 30 IN AAAA 2001:db8::10")},
					{"SOA", rrs(t, "gslb.example.com. 3600 IN SOA ns1.gslb.example.com. hostmaster.example.com. 1 7200 3600 1209600 60")},
					{"NS", rrs(t, "gslb.example.com. 3600 IN NS ns1.gslb.example.com.", "gslb.example.com. 3600 IN NS ns2.example.net.")},
					{"TXT", rrs(t, `gslb.example.com. 300 IN TXT "v=spf1 -all"`)},
					{"MX", rrs(t, "gslb.example.com. 300 IN MX 10 mail.example.net.")},
					{"CNAME", rrs(t, "alias.gslb.example.com. 300 IN CNAME www.gslb.example.com.")},
					{"NSEC missing name", []dns.RR{DenyName("nope.gslb.example.com.", 60)}},
					{"NSEC missing type", []dns.RR{DenyType("www.gslb.example.com.", 60, []uint16{dns.TypeA, dns.TypeAAAA})}},
					{"DNSKEY", s.DNSKEY()},
					{"CDS", s.CDS()},
					{"CDNSKEY", s.CDNSKEY()},
				}
				for _, tc := range tests {
					t.Run(tc.name, func(t *testing.T) {
						// Through the wire and back, as a resolver sees it.
						m := new(dns.Msg)
						sig, exp, err := s.Sign(tc.rrset)
						must(t, err)
						m.Answer = append(append(m.Answer, tc.rrset...), sig)
						b, err := m.Pack()
						must(t, err)
						must(t, m.Unpack(b))
						got := m.Answer[len(m.Answer)-1].(*dns.RRSIG)
						flags, err := verify(got, m.Answer[:len(m.Answer)-1], s.DNSKEY(), c.t)
						if err != nil {
							t.Fatal(err)
						}
						keyRRset := tc.name == "DNSKEY" || tc.name == "CDS" || tc.name == "CDNSKEY"
						if sep := flags&dns.SEP != 0; split && sep != keyRRset {
							t.Errorf("signed by a key with SEP=%v; want SEP only for the key RRsets", sep)
						}
						if in := time.Unix(int64(got.Inception), 0); c.t.Sub(in) < time.Hour {
							t.Errorf("inception %s is less than an hour before now %s", in, c.t)
						}
						wantExp := c.t.Add(DefaultValidity - DefaultJitter/2)
						if e := time.Unix(int64(got.Expiration), 0); !e.Equal(wantExp) || !exp.Equal(wantExp) {
							t.Errorf("expiry %s (returned %s), want %s (validity less half the jitter)", e, exp, wantExp)
						}
					})
				}
				if len(s.CDS()) != 1 || len(s.CDNSKEY()) != 1 || len(s.DNSKEY()) != len(priv) {
					t.Errorf("CDS %d, CDNSKEY %d, DNSKEY %d records", len(s.CDS()), len(s.CDNSKEY()), len(s.DNSKEY()))
				}
			})
		}
	}
}

// TestSignRefuses checks RRsets that are not one RRset of the zone.
func TestSignRefuses(t *testing.T) {
	c := newClock()
	ks, priv := zoneKeys(t, AlgECDSAP256, false, c.t)
	s, err := NewSigner(ks, priv, cfgAt(c))
	must(t, err)
	for name, rrset := range map[string][]dns.RR{
		"empty":        nil,
		"outside zone": rrs(t, "www.example.org. 30 IN A 192.0.2.1"),
		"mixed TTLs":   rrs(t, "www.gslb.example.com. 30 IN A 192.0.2.1", "www.gslb.example.com. 60 IN A 192.0.2.2"),
		"mixed owners": rrs(t, "a.gslb.example.com. 30 IN A 192.0.2.1", "b.gslb.example.com. 30 IN A 192.0.2.2"),
		"mixed types":  rrs(t, "a.gslb.example.com. 30 IN A 192.0.2.1", "a.gslb.example.com. 30 IN AAAA 2001:db8::1"),
	} {
		if _, _, err := s.Sign(rrset); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

// TestApexTypes checks the apex bitmap of a signed zone.
func TestApexTypes(t *testing.T) {
	c := newClock()
	ks, priv := zoneKeys(t, AlgEd25519, false, c.t)
	s, err := NewSigner(ks, priv, cfgAt(c))
	must(t, err)
	got := s.ApexTypes(dns.TypeMX, dns.TypeA, dns.TypeNS)
	want := []uint16{dns.TypeA, dns.TypeNS, dns.TypeSOA, dns.TypeMX, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY}
	if !slices.Equal(got, want) {
		t.Errorf("apex types %v, want %v", got, want)
	}
}
