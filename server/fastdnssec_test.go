package server

import (
	"bufio"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/server/dnssec"
)

// testNetworks returns one address of every network of the test GeoIP
// database, so that a table over them reaches every region it places.
func testNetworks(t testing.TB) []netip.Prefix {
	t.Helper()
	f, err := os.Open("../testdata/geoip/networks.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []netip.Prefix
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		field, _, _ := strings.Cut(sc.Text(), ",")
		if p, err := netip.ParsePrefix(field); err == nil {
			out = append(out, p)
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d networks in the test database", len(out))
	}
	return out
}

// queryPacket returns a query for name and qtype in wire form, with EDNS
// (1232 bytes), the ECS option ecs unless it is "", and DO when do.
func queryPacket(t testing.TB, name string, qtype uint16, ecs string, do bool) []byte {
	t.Helper()
	q := mkQuery(name, qtype, ecs)
	if q.IsEdns0() == nil {
		q.SetEdns0(1232, false)
	}
	if do {
		q.IsEdns0().SetDo()
	}
	pkt, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// verifyAnswerSigs checks that the answer section is RRsets each followed
// by an RRSIG that verifies with the zone's data key at now, and returns
// how many signatures it verified.
func verifyAnswerSigs(t *testing.T, what string, m *dns.Msg, key *dns.DNSKEY) int {
	t.Helper()
	n := 0
	var set []dns.RR
	for _, rr := range m.Answer {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			set = append(set, rr)
			continue
		}
		if err := sig.Verify(key, set); err != nil {
			t.Errorf("%s: RRSIG over %d records does not verify: %v\n%v", what, len(set), err, m)
		}
		n++
		set = nil
	}
	if len(set) > 0 {
		t.Errorf("%s: %d answer records without an RRSIG after them\n%v", what, len(set), m)
	}
	return n
}

// TestFastPathSignedMatchesGeneralPath: DO queries of the signed zone for
// every GSLB name, family and network of the test database (as ECS and as
// the source address), over UDP and TCP, are answered by the fast path,
// byte for byte as the general path answers them with the same draws, and
// every signature verifies.
func TestFastPathSignedMatchesGeneralPath(t *testing.T) {
	for _, alg := range []uint8{dnssec.AlgECDSAP256, dnssec.AlgEd25519} {
		h, _ := newTestHandler(t, nil)
		ks, zk := zoneKeys(t, alg, false, 1)
		h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
		key := ks.DNSKEYs()[0].(*dns.DNSKEY)
		tookFast := false
		fastHook = func() { tookFast = true }
		t.Cleanup(func() { fastHook = nil })

		regions := map[string]bool{}
		fastN := 0
		for _, name := range []string{"www", "api", "WwW"} {
			for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
				for _, p := range testNetworks(t) {
					for _, viaECS := range []bool{true, false} {
						remote := netip.AddrPortFrom(p.Addr().Next(), 5300)
						ecs := ""
						if viaECS {
							remote = netip.MustParseAddrPort("127.0.0.1:5300")
							ecs = p.String()
						}
						pkt := queryPacket(t, name+"."+testZone, qtype, ecs, true)
						for _, tcp := range []bool{false, true} {
							what := dns.TypeToString[qtype] + " " + name + " from " + remote.Addr().String() + " ECS " + ecs
							var outs [2]*dns.Msg
							for k, noFast := range []bool{false, true} {
								draws := rand.New(rand.NewPCG(uint64(fastN), 7))
								h.intn = func(n int) int { return draws.IntN(n) }
								h.noFast, tookFast = noFast, false
								out, ok := h.AnswerPacket(nil, pkt, remote, tcp)
								if !ok {
									t.Fatalf("%s: no reply", what)
								}
								if k == 0 && !tookFast {
									t.Fatalf("%s: the fast path declined a DO query of a signed GSLB name", what)
								}
								outs[k] = new(dns.Msg)
								if err := outs[k].Unpack(out); err != nil {
									t.Fatalf("%s: reply does not parse: %v", what, err)
								}
							}
							fastN++
							if a, b := canonical(outs[0]), canonical(outs[1]); a != b {
								t.Fatalf("%s: fast and general paths differ:\nfast:\n%s\ngeneral:\n%s", what, a, b)
							}
							m := outs[0]
							if o := m.IsEdns0(); o == nil || !o.Do() || m.AuthenticatedData {
								t.Errorf("%s: DO not echoed or AD set: %v", what, m)
							}
							if verifyAnswerSigs(t, what, m, key) != 1 {
								t.Errorf("%s: want one signed RRset in the answer:\n%v", what, m)
							}
							for _, rr := range m.Answer {
								switch v := rr.(type) {
								case *dns.A:
									regions[v.A.String()] = true
								case *dns.AAAA:
									regions[v.AAAA.String()] = true
								}
							}
						}
					}
				}
			}
		}
		h.noFast = false
		if len(regions) < 8 {
			t.Errorf("algorithm %d: answers used %d addresses, want most regions' (%v)", alg, len(regions), regions)
		}
		t.Logf("algorithm %d: %d DO queries on both paths, %d addresses answered", alg, fastN, len(regions))
	}
}

// TestFastPathSignedAllocs: a DO query whose signature is cached costs no
// allocation, for both families, with and without ECS; and the first
// query of an RRset signs once, later ones hit.
func TestFastPathSignedAllocs(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	_, zk := zoneKeys(t, dnssec.AlgECDSAP256, false, 1)
	h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
	zs := h.snap.Load().DNSSEC.Zones[testZone]
	remote := netip.MustParseAddrPort("127.0.0.1:5300")
	for _, c := range []struct {
		name  string
		qtype uint16
		ecs   string
	}{
		{"A ECS London", dns.TypeA, "81.2.69.0/24"},
		{"AAAA ECS Tokyo", dns.TypeAAAA, "2001:218:1::/48"},
		{"A no ECS", dns.TypeA, ""},
	} {
		pkt := queryPacket(t, "api."+testZone, c.qtype, c.ecs, true) // one address per answer: one RRset per region
		before := zs.Answers.Stats()
		if allocs := allocsAfterFirst(t, h, pkt, remote); allocs != 0 {
			t.Errorf("%s: %v allocs per signed query on a cache hit, want 0", c.name, allocs)
		}
		after := zs.Answers.Stats()
		if signs := after.Signs - before.Signs; signs > 1 || after.Hits-before.Hits < 200 {
			t.Errorf("%s: %d signs and %d hits for 202 queries of one RRset; want at most 1 sign, the rest hits", c.name, signs, after.Hits-before.Hits)
		}
	}
}

// TestSignatureCacheMetrics: the signature caches' hits and misses are
// exported by zone and cache, over UDP and TCP, through the fast path and
// the general path, and a key change (new caches) never takes the totals
// back.
func TestSignatureCacheMetrics(t *testing.T) {
	h, reg, addr, _ := signedHandler(t)
	zone := strings.TrimSuffix(testZone, ".")
	_, zk := zoneKeys(t, dnssec.AlgECDSAP256, false, 1)
	h.ApplyKeys(map[string]*ZoneKeys{zone: zk})
	get := func(which, cache string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "glb_dnssec_signature_cache_"+which+"_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["zone"] == zone && labels["cache"] == cache {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	www, nope := "www."+testZone, "nope."+testZone
	for _, step := range []struct {
		name, net, qname string
		want             [4]float64 // answers hits, misses; denials hits, misses
	}{
		{"first answer signs", "udp", www, [4]float64{0, 1, 0, 0}},
		{"then hits, UDP", "udp", www, [4]float64{1, 1, 0, 0}},
		{"then hits, TCP", "tcp", www, [4]float64{2, 1, 0, 0}},
		{"a missing name signs its SOA and NSEC", "udp", nope, [4]float64{2, 2, 0, 1}},
		{"asked again, both hit", "tcp", nope, [4]float64{3, 2, 1, 1}},
	} {
		exchange(t, step.net, addr, doQuery(step.qname, dns.TypeA))
		got := [4]float64{get("hits", "answers"), get("misses", "answers"), get("hits", "denials"), get("misses", "denials")}
		if got != step.want {
			t.Errorf("%s: answers hits, misses; denials hits, misses = %v, want %v", step.name, got, step.want)
		}
	}
	_, zk2 := zoneKeys(t, dnssec.AlgECDSAP256, false, 2) // a new key: new caches
	h.ApplyKeys(map[string]*ZoneKeys{zone: zk2})
	exchange(t, "udp", addr, doQuery(www, dns.TypeA))
	if got := [2]float64{get("hits", "answers"), get("misses", "answers")}; got != [2]float64{3, 3} {
		t.Errorf("after a key change: answers hits, misses = %v, want [3 3] (the retired cache's counts kept)", got)
	}
	if _, err := testutil.GatherAndLint(reg); err != nil {
		t.Error(err)
	}
}

// TestFastPathSignedKeyChange: DO queries answered on several goroutines
// while the keys change (new signer, new caches, new key starts on every
// name) always carry a signature that verifies with one of the keys in
// force at the time; run with -race, it also checks that the names' keys
// are swapped safely under the queries.
func TestFastPathSignedKeyChange(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	zone := strings.TrimSuffix(testZone, ".")
	var keys []*dns.DNSKEY
	var zks []*ZoneKeys
	for rev := range 4 {
		ks, zk := zoneKeys(t, dnssec.AlgEd25519, false, int64(rev+1))
		keys, zks = append(keys, ks.DNSKEYs()[0].(*dns.DNSKEY)), append(zks, zk)
	}
	h.ApplyKeys(map[string]*ZoneKeys{zone: zks[0]})
	pkts := [][]byte{
		queryPacket(t, "www."+testZone, dns.TypeA, "81.2.69.0/24", true),
		queryPacket(t, "www."+testZone, dns.TypeAAAA, "2001:218:1::/48", true),
		queryPacket(t, "api."+testZone, dns.TypeA, "", true),
	}
	remote := netip.MustParseAddrPort("127.0.0.1:5300")
	done := make(chan struct{})
	errs := make(chan string, 8)
	var answered atomic.Int64
	for w := range 3 {
		go func() {
			defer func() { errs <- "" }()
			out := make([]byte, 0, 1232)
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				reply, ok := h.AnswerPacket(out[:0], pkts[(w+i)%len(pkts)], remote, false)
				m := new(dns.Msg)
				if !ok || m.Unpack(reply) != nil || len(m.Answer) < 2 {
					errs <- "a DO query got no signed answer"
					return
				}
				sig, _ := m.Answer[len(m.Answer)-1].(*dns.RRSIG)
				verified := false
				for _, k := range keys {
					if sig != nil && sig.KeyTag == k.KeyTag() && sig.Verify(k, m.Answer[:len(m.Answer)-1]) == nil {
						verified = true
					}
				}
				if !verified {
					errs <- "answer does not verify with any of the keys: " + m.String()
					return
				}
				answered.Add(1)
			}
		}()
	}
	for _, zk := range zks[1:] {
		h.ApplyKeys(map[string]*ZoneKeys{zone: zk})
		from := answered.Load() // queries answered on each key, before the next
		waitUntil(t, 10*time.Second, "queries on the new key", func() bool { return answered.Load() >= from+50 })
	}
	close(done)
	for range 3 {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
	// After the last change, answers are signed by the last key.
	reply, _ := h.AnswerPacket(nil, pkts[0], remote, false)
	m := new(dns.Msg)
	if err := m.Unpack(reply); err != nil {
		t.Fatal(err)
	}
	if sig := sigOf(m, dns.TypeA); sig == nil || sig.KeyTag != keys[len(keys)-1].KeyTag() {
		t.Errorf("after the last key change: signature %v, want key %d's", sig, keys[len(keys)-1].KeyTag())
	}
}

// TestFastPathSignedTruncation: a DO answer that might not fit the
// client's UDP size with its RRSIG is left to the general path, which
// truncates it (TC); over TCP, and over UDP with room, it comes whole and
// verifies.
func TestFastPathSignedTruncation(t *testing.T) {
	var addrs []string
	for i := range 16 {
		addrs = append(addrs, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x99, 15: byte(i + 1)}).String())
	}
	h, _ := newTestHandler(t, map[string]any{
		"regions/many":                       map[string]any{"lat": 51.5, "lon": -0.1, "addrs": addrs},
		"zones/gslb.example.test/names/many": map[string]any{"regions": []string{"many"}, "answers": 16},
	})
	ks, zk := zoneKeys(t, dnssec.AlgECDSAP256, false, 1)
	h.ApplyKeys(map[string]*ZoneKeys{strings.TrimSuffix(testZone, "."): zk})
	key := ks.DNSKEYs()[0].(*dns.DNSKEY)
	// The hook is set before the server starts and cleared after it stops
	// (cleanups run last first): its goroutines read it.
	var tookFast atomic.Bool
	fastHook = func() { tookFast.Store(true) }
	t.Cleanup(func() { fastHook = nil })
	addr := startServer(t, h)
	for _, c := range []struct {
		name     string
		net      string
		size     uint16
		fast, tc bool
	}{
		{"UDP at 512: truncated by the general path", "udp", 512, false, true},
		{"UDP at 1232: whole, fast", "udp", 1232, true, false},
		{"TCP: whole, fast", "tcp", 512, true, false},
	} {
		q := new(dns.Msg)
		q.SetQuestion("many."+testZone, dns.TypeAAAA)
		q.SetEdns0(c.size, true)
		tookFast.Store(false)
		m := exchange(t, c.net, addr, q)
		if tookFast.Load() != c.fast || m.Truncated != c.tc {
			t.Errorf("%s: fast path %v, TC %v; want %v, %v", c.name, tookFast.Load(), m.Truncated, c.fast, c.tc)
		}
		if !c.tc {
			if len(m.Answer) != 17 {
				t.Errorf("%s: %d answers, want 16 and the RRSIG", c.name, len(m.Answer))
			}
			verifyAnswerSigs(t, c.name, m, key)
		}
	}
}
