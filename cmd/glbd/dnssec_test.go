package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/etcdtest"
)

// seedKeys makes the keys of the seed's signed zone (ECDSA P-256, one
// combined key), as dev mode and glbctl dnssec keygen do, so that glbd
// serves it signed.
func seedKeys(t *testing.T, srv *etcdtest.Server) {
	t.Helper()
	makeKeys(t, srv, dnssec.AlgECDSAP256, false)
}

func makeKeys(t *testing.T, srv *etcdtest.Server, alg uint8, split bool) *dnssec.KeySet {
	t.Helper()
	name := strings.TrimSuffix(zone, ".")
	ks, private, err := dnssec.MakeKeys(name, alg, split, dnssec.DefaultDNSKEYTTL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ks.Encode()
	if err != nil {
		t.Fatal(err)
	}
	adm := store.NewAdmin(srv.Client(t), "/glb/")
	zk, err := adm.ReadZoneKeys(t.Context(), name, true)
	if err != nil {
		t.Fatal(err)
	}
	var del []uint16
	for tag := range zk.Private {
		del = append(del, tag)
	}
	if err := adm.WriteZoneKeys(t.Context(), name, zk.ModRevision, b, private, del); err != nil {
		t.Fatal(err)
	}
	return ks
}

// askDO sends a query with DO set (and the CO flag when co), over
// network, with a UDP size of bufsize.
func askDO(t *testing.T, network, addr, name string, qtype uint16, ecs string, bufsize uint16, co bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.SetEdns0(bufsize, true)
	if co {
		q.IsEdns0().SetCo()
	}
	if ecs != "" {
		q.IsEdns0().Option = append(q.IsEdns0().Option, ecsOpt(ecs))
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second, UDPSize: bufsize}
	m, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", network, name, err)
	}
	return m
}

// verifyReply checks every RRset of the answer and authority sections
// against the zone's DNSKEY set: each has an RRSIG that verifies and is
// valid now. It returns the key tags that signed.
func verifyReply(t *testing.T, m *dns.Msg, keys []dns.RR) []uint16 {
	t.Helper()
	var tags []uint16
	for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
		sets := map[[2]string][]dns.RR{}
		var sigs []*dns.RRSIG
		for _, rr := range sec {
			if s, ok := rr.(*dns.RRSIG); ok {
				sigs = append(sigs, s)
				continue
			}
			k := [2]string{strings.ToLower(rr.Header().Name), dns.TypeToString[rr.Header().Rrtype]}
			sets[k] = append(sets[k], rr)
		}
		for k, set := range sets {
			ok := false
			for _, s := range sigs {
				if strings.ToLower(s.Hdr.Name) != k[0] || dns.TypeToString[s.TypeCovered] != k[1] {
					continue
				}
				for _, kr := range keys {
					key := kr.(*dns.DNSKEY)
					if key.KeyTag() != s.KeyTag {
						continue
					}
					if err := s.Verify(key, set); err != nil {
						t.Errorf("%s/%s: RRSIG by %d does not verify: %v", k[0], k[1], s.KeyTag, err)
						continue
					}
					if !s.ValidityPeriod(time.Now()) {
						t.Errorf("%s/%s: RRSIG by %d not valid now", k[0], k[1], s.KeyTag)
						continue
					}
					if time.Unix(int64(s.Inception), 0).After(time.Now().Add(-time.Hour + time.Minute)) {
						t.Errorf("%s/%s: inception %d not backdated an hour", k[0], k[1], s.Inception)
					}
					ok = true
					tags = append(tags, s.KeyTag)
				}
			}
			if !ok {
				t.Errorf("%s/%s: no RRSIG that verifies", k[0], k[1])
			}
		}
	}
	return tags
}

// dnskeys fetches the zone's DNSKEY RRset over TCP, checks its signature
// and that the KSKs are those of ks's DS records.
func dnskeys(t *testing.T, addr string, ks *dnssec.KeySet) []dns.RR {
	t.Helper()
	m := askDO(t, "tcp", addr, zone, dns.TypeDNSKEY, "", 1232, false)
	var keys []dns.RR
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == dns.TypeDNSKEY {
			keys = append(keys, rr)
		}
	}
	if len(keys) == 0 {
		t.Fatalf("no DNSKEY: %v", m)
	}
	// The key that signs the DNSKEY set has a DS at the parent (during a
	// double-DS rollover the parent has a DS more than the set has keys).
	signers := verifyReply(t, m, keys)
	ok := false
	for _, ds := range ks.DS() {
		ok = ok || slices.Contains(signers, ds.KeyTag)
	}
	if !ok {
		t.Errorf("the DNSKEY set is signed by %v, none of which has a DS in %v", signers, ks.DS())
	}
	return keys
}

// TestDNSSECSignedAnswers asks glbd, over UDP and TCP, for every kind of
// answer of a signed zone with DO set, for both algorithms and both key
// layouts, and verifies every signature against the DNSKEY set whose DS
// the key set gives.
func TestDNSSECSignedAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alg   uint8
		split bool
	}{{"ecdsa-csk", dnssec.AlgECDSAP256, false}, {"ed25519-split", dnssec.AlgEd25519, true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := seededEtcd(t) // with an ECDSA CSK: replaced below, picked up without a restart
			a := startApp(t, Config{Etcd: srv.Endpoints()})
			ks := makeKeys(t, srv, tc.alg, tc.split)
			addr := a.dnsAddr()
			waitFor(t, 10*time.Second, "the new keys in force", func() bool {
				m := askDO(t, "udp", addr, zone, dns.TypeDNSKEY, "", 1232, false)
				return len(m.Answer) > 0 && m.Answer[0].(*dns.DNSKEY).KeyTag() == ks.Keys[0].Tag
			})
			keys := dnskeys(t, addr, ks)
			dataTag := ks.Keys[len(ks.Keys)-1].Tag // the CSK, or the ZSK (made second)
			for _, net := range []string{"udp", "tcp"} {
				regions := map[string]bool{}
				for _, q := range []struct {
					name   string
					qtype  uint16
					ecs    string
					rcode  int
					answer bool   // records in the answer section
					nsec   uint16 // a compact denial: the NSEC bitmap has this type (0: no NSEC)
					co     bool
				}{
					{"www", dns.TypeA, "", dns.RcodeSuccess, true, 0, false},
					{"www", dns.TypeA, "81.2.69.0/24", dns.RcodeSuccess, true, 0, false},
					{"www", dns.TypeA, "216.160.83.0/24", dns.RcodeSuccess, true, 0, false},
					{"www", dns.TypeA, "133.242.1.0/24", dns.RcodeSuccess, true, 0, false},
					{"www", dns.TypeAAAA, "81.2.69.0/24", dns.RcodeSuccess, true, 0, false},
					{"www", dns.TypeAAAA, "133.242.1.0/24", dns.RcodeSuccess, true, 0, false},
					{"@", dns.TypeSOA, "", dns.RcodeSuccess, true, 0, false},
					{"@", dns.TypeNS, "", dns.RcodeSuccess, true, 0, false},
					{"@", dns.TypeMX, "", dns.RcodeSuccess, true, 0, false},
					{"mail", dns.TypeA, "", dns.RcodeSuccess, true, 0, false},
					{"docs", dns.TypeA, "81.2.69.0/24", dns.RcodeSuccess, true, 0, false}, // CNAME to www
					{"@", dns.TypeCDS, "", dns.RcodeSuccess, true, 0, false},
					{"@", dns.TypeCDNSKEY, "", dns.RcodeSuccess, true, 0, false},
					{"nope", dns.TypeA, "", dns.RcodeSuccess, false, dns.TypeNXNAME, false},
					{"nope", dns.TypeA, "", dns.RcodeNameError, false, dns.TypeNXNAME, true},
					{"www", dns.TypeTXT, "", dns.RcodeSuccess, false, dns.TypeA, false},
					{"mail", dns.TypeAAAA, "", dns.RcodeSuccess, false, dns.TypeA, false},
					{"@", dns.TypeA, "", dns.RcodeSuccess, false, dns.TypeDNSKEY, false},
					{"@", dns.TypeNXNAME, "", dns.RcodeFormatError, false, 0, false},
				} {
					name := zone
					if q.name != "@" {
						name = q.name + "." + zone
					}
					m := askDO(t, net, addr, name, q.qtype, q.ecs, 1232, q.co)
					what := net + " " + name + " " + dns.TypeToString[q.qtype] + " " + q.ecs
					if m.Rcode != q.rcode || (len(m.Answer) > 0) != q.answer {
						t.Errorf("%s: rcode %s, %d answers; want %s, answers %v", what, dns.RcodeToString[m.Rcode], len(m.Answer), dns.RcodeToString[q.rcode], q.answer)
						continue
					}
					if o := m.IsEdns0(); o == nil || !o.Do() || m.AuthenticatedData {
						t.Errorf("%s: DO not echoed or AD set: %v", what, m)
					}
					if q.rcode == dns.RcodeFormatError {
						continue
					}
					tags := verifyReply(t, m, keys)
					if q.qtype != dns.TypeCDS && q.qtype != dns.TypeCDNSKEY && !slices.Contains(tags, dataTag) {
						t.Errorf("%s: signed by %v, want the data key %d", what, tags, dataTag)
					}
					if q.nsec != 0 {
						var nsec *dns.NSEC
						for _, rr := range m.Ns {
							if n, ok := rr.(*dns.NSEC); ok {
								nsec = n
							}
						}
						if nsec == nil || !slices.Contains(nsec.TypeBitMap, q.nsec) || slices.Contains(nsec.TypeBitMap, q.qtype) ||
							nsec.NextDomain != "\\000."+strings.ToLower(name) {
							t.Errorf("%s: NSEC %v, want one at the name with %s and without %s in its bitmap", what, nsec,
								dns.TypeToString[q.nsec], dns.TypeToString[q.qtype])
						}
					}
					if q.qtype == dns.TypeA && q.name == "www" {
						regions[strings.Join(rrText(m.Answer), ",")] = true
					}
				}
				if len(regions) < 3 {
					t.Errorf("%s: answers of %d regions, want at least 3", net, len(regions))
				}
			}
			// Without DO, no signature and the same answer as before.
			if m := ask(t, "udp", addr, "www."+zone, dns.TypeA, "81.2.69.0/24"); hasRRSIG(m) {
				t.Errorf("no DO: answer has RRSIGs: %v", m)
			}
		})
	}
}

func rrText(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

func hasRRSIG(m *dns.Msg) bool {
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeRRSIG {
				return true
			}
		}
	}
	return false
}

// TestDNSSECRollovers walks a ZSK rollover (pre-publish) and then a KSK
// rollover (double-DS) through glbctl's step function, writing each step
// to etcd as glbctl dnssec roll does: glbd picks up each step without a
// restart, publishes the step's DNSKEY set, and its answers verify at
// every step, signed by the key the step makes active.
func TestDNSSECRollovers(t *testing.T) {
	srv := seededEtcd(t)
	a := startApp(t, Config{Etcd: srv.Endpoints()})
	addr := a.dnsAddr()
	ks := makeKeys(t, srv, dnssec.AlgECDSAP256, true)
	name := strings.TrimSuffix(zone, ".")
	adm := store.NewAdmin(srv.Client(t), "/glb/")
	ttls := dnssec.TTLs{DNSKEY: time.Hour, MaxZone: time.Hour, DS: time.Hour, Propagation: time.Minute}
	newKey := func(role dnssec.Role) (*dnssec.Key, error) {
		return dnssec.GenerateKey(name, dnssec.AlgECDSAP256, role, dnssec.DefaultDNSKEYTTL)
	}
	now := time.Now()
	for _, kind := range []dnssec.Role{dnssec.RoleZSK, dnssec.RoleKSK} {
		for step := 1; step <= 3; step++ {
			now = now.Add(48 * time.Hour) // every wait is over: the TTLs' checks are rollover_test's
			st, err := dnssec.Next(ks, kind, now, ttls, newKey)
			if err != nil {
				t.Fatalf("%s step %d: %v", kind, step, err)
			}
			zk, err := adm.ReadZoneKeys(t.Context(), name, false)
			if err != nil {
				t.Fatal(err)
			}
			b, err := st.Keys.Encode()
			if err != nil {
				t.Fatal(err)
			}
			put := map[uint16]string{}
			if st.New != nil {
				put[st.New.Tag()] = st.New.PrivateText()
			}
			if err := adm.WriteZoneKeys(t.Context(), name, zk.ModRevision, b, put, st.Removed); err != nil {
				t.Fatal(err)
			}
			ks = st.Keys
			var want []uint16
			for _, rr := range ks.DNSKEYs() {
				want = append(want, rr.(*dns.DNSKEY).KeyTag())
			}
			slices.Sort(want)
			var dataTag uint16
			for _, r := range ks.Keys {
				if r.State == dnssec.StateActive && r.Role == dnssec.RoleZSK {
					dataTag = r.Tag
				}
			}
			waitFor(t, 10*time.Second, string(kind)+" step published", func() bool {
				m := askDO(t, "udp", addr, zone, dns.TypeSOA, "", 1232, false)
				if len(m.Answer) != 2 || m.Answer[1].(*dns.RRSIG).KeyTag != dataTag {
					return false
				}
				var got []uint16
				for _, rr := range askDO(t, "udp", addr, zone, dns.TypeDNSKEY, "", 1232, false).Answer {
					if k, ok := rr.(*dns.DNSKEY); ok {
						got = append(got, k.KeyTag())
					}
				}
				slices.Sort(got)
				return slices.Equal(got, want)
			})
			keys := dnskeys(t, addr, ks)
			for _, q := range []struct {
				name  string
				qtype uint16
			}{{"www." + zone, dns.TypeA}, {zone, dns.TypeSOA}, {"nope." + zone, dns.TypeA}} {
				m := askDO(t, "udp", addr, q.name, q.qtype, "81.2.69.0/24", 1232, false)
				if tags := verifyReply(t, m, keys); !slices.Contains(tags, dataTag) {
					t.Errorf("%s step %d: %s signed by %v, want the active ZSK %d", kind, step, q.name, tags, dataTag)
				}
			}
		}
	}
}
