package dnssec

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func newCache(t testing.TB, c *clock, size int) *Cache {
	ks, priv := zoneKeys(t, AlgECDSAP256, false, c.t)
	s, err := NewSigner(ks, priv, cfgAt(c))
	must(t, err)
	return NewCache(s, size)
}

// TestCacheReuse asks for three regions' answers many times, the records
// in every order: each RRset is signed once, and the signatures served
// are the ones made then, still verifying.
func TestCacheReuse(t *testing.T) {
	c := newClock()
	cache := newCache(t, c, 0)
	regions := [][]dns.RR{
		rrs(t, "www.gslb.example.com. 30 IN A 192.0.2.10", "www.gslb.example.com. 30 IN A 192.0.2.11", "www.gslb.example.com. 30 IN A 192.0.2.12"),
		rrs(t, "www.gslb.example.com. 30 IN A 198.51.100.10", "www.gslb.example.com. 30 IN A 198.51.100.11"),
		rrs(t, "www.gslb.example.com. 30 IN AAAA 2001:db8::10"),
	}
	first := map[int]dns.RR{}
	for round := range 50 {
		for i, rrset := range regions {
			// Rotated, as answers are: the same RRset, another order.
			rot := slices.Clone(rrset)
			for range round % len(rot) {
				rot = append(rot[1:], rot[0])
			}
			k, err := cache.Key(rot)
			must(t, err)
			sigs, err := cache.Sigs(k, rot)
			must(t, err)
			if round == 0 {
				first[i] = sigs[0]
			} else if sigs[0] != first[i] {
				t.Fatalf("round %d region %d: a new signature, want the cached one", round, i)
			}
			if _, err := verify(sigs[0].(*dns.RRSIG), rot, cache.Signer().DNSKEY(), c.t); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := cache.Stats()
	if st.Signs != 3 || st.Misses != 3 || st.Hits != 147 || st.Entries != 3 {
		t.Errorf("stats %+v; want 3 signs, 3 misses, 147 hits, 3 entries", st)
	}

	// What is signed is part of the key: another TTL, owner case aside,
	// or another address is another RRset.
	base, _ := cache.Key(rrs(t, "www.gslb.example.com. 30 IN A 192.0.2.10"))
	for _, other := range []string{
		"www.gslb.example.com. 31 IN A 192.0.2.10",
		"www.gslb.example.com. 30 IN A 192.0.2.11",
		"ww2.gslb.example.com. 30 IN A 192.0.2.10",
	} {
		if k, _ := cache.Key(rrs(t, other)); k == base {
			t.Errorf("%q has the key of another RRset", other)
		}
	}
	if k, _ := cache.Key(rrs(t, "WWW.gslb.example.com. 30 IN A 192.0.2.10")); k != base {
		t.Error("the owner's case changed the key")
	}
}

// TestCacheRefresh moves the clock: an entry is served as it is until
// its refresh time and after it (nothing signed on the query path), until
// Refresh signs it again, before it expires; the new signature verifies
// at a time the old one no longer would. Without Refresh, Sigs signs
// again itself rather than serve a signature with less than its
// serve-until margin left.
func TestCacheRefresh(t *testing.T) {
	c := newClock()
	cache := newCache(t, c, 0)
	rrset := rrs(t, "www.gslb.example.com. 30 IN A 192.0.2.10")
	k, _ := cache.Key(rrset)
	sigs, err := cache.Sigs(k, rrset)
	must(t, err)
	old := sigs[0].(*dns.RRSIG)
	exp := time.Unix(int64(old.Expiration), 0)
	margin := (DefaultValidity - DefaultJitter) / 3
	refreshAt := exp.Add(-margin)

	c.t = refreshAt.Add(-time.Second)
	if n := cache.Refresh(); n != 0 {
		t.Errorf("Refresh a second before the refresh time signed %d", n)
	}
	c.t = refreshAt.Add(time.Hour)
	if s, _ := cache.Sigs(k, rrset); s[0] != old {
		t.Error("Sigs signed on the query path past the refresh time; Refresh's job")
	}
	if n := cache.Refresh(); n != 1 {
		t.Fatalf("Refresh after the refresh time signed %d, want 1", n)
	}
	s, _ := cache.Sigs(k, rrset)
	fresh := s[0].(*dns.RRSIG)
	if fresh == old || fresh.Expiration <= old.Expiration {
		t.Fatalf("after Refresh: expiry %d, old %d; want a later one", fresh.Expiration, old.Expiration)
	}
	if st := cache.Stats(); st.Signs != 2 || st.Misses != 1 || st.Hits != 2 {
		t.Errorf("stats %+v: want 2 signs (first and refresh), 1 miss, 2 hits", st)
	}
	c.t = exp.Add(time.Hour) // the old signature has expired
	if _, err := verify(old, rrset, cache.Signer().DNSKEY(), c.t); err == nil {
		t.Error("old signature still valid after its expiry")
	}
	if _, err := verify(fresh, rrset, cache.Signer().DNSKEY(), c.t); err != nil {
		t.Errorf("refreshed signature: %v", err)
	}

	// No Refresh: a second before serve-until the entry is served, at
	// serve-until it is signed again on the query path.
	serveUntil := time.Unix(int64(fresh.Expiration), 0).Add(-margin / 2)
	c.t = serveUntil.Add(-time.Second)
	if s, _ := cache.Sigs(k, rrset); s[0] != fresh {
		t.Error("signed again before serve-until")
	}
	c.t = serveUntil
	s, _ = cache.Sigs(k, rrset)
	if s[0] == fresh {
		t.Fatal("served a signature past its serve-until time")
	}
	if left := time.Unix(int64(s[0].(*dns.RRSIG).Expiration), 0).Sub(c.t); left < DefaultValidity-DefaultJitter {
		t.Errorf("new signature valid for %s only", left)
	}
}

// TestCacheConcurrent looks up and refreshes from several goroutines at
// once (for the race detector): every signature served verifies, and
// each RRset is signed once.
func TestCacheConcurrent(t *testing.T) {
	c := newClock()
	cache := newCache(t, c, 0)
	type set struct {
		rrs []dns.RR
		key RRsetKey
	}
	var sets []set
	for i := range 8 {
		r := rrs(t, fmt.Sprintf("www.gslb.example.com. 30 IN A 192.0.2.%d", i))
		k, err := cache.Key(r)
		must(t, err)
		sets = append(sets, set{r, k})
	}
	for _, s := range sets {
		_, _ = cache.Sigs(s.key, s.rrs)
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 400 {
				s := sets[(g+i)%len(sets)]
				sigs, err := cache.Sigs(s.key, s.rrs)
				if err == nil {
					_, err = verify(sigs[0].(*dns.RRSIG), s.rrs, cache.Signer().DNSKEY(), c.t)
				}
				if err != nil {
					errs <- err
					return
				}
				if i%100 == 0 {
					cache.Refresh()
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := cache.Stats(); st.Signs != 8 || st.Hits != 1600 {
		t.Errorf("stats %+v: want 8 signs, 1600 hits", st)
	}
}

// TestCacheBounded fills a small cache past its size.
func TestCacheBounded(t *testing.T) {
	c := newClock()
	cache := newCache(t, c, 32)
	for i := range 200 {
		rrset := rrs(t, fmt.Sprintf("www.gslb.example.com. 30 IN A 192.0.2.%d", i))
		k, _ := cache.Key(rrset)
		if _, err := cache.Sigs(k, rrset); err != nil {
			t.Fatal(err)
		}
	}
	if st := cache.Stats(); st.Entries > 32 || st.Entries == 0 || st.Signs != 200 {
		t.Errorf("stats %+v: want at most 32 entries after 200 RRsets", st)
	}
}

// TestCacheHitAllocs is the query path's promise: a hit allocates nothing.
func TestCacheHitAllocs(t *testing.T) {
	c := newClock()
	cache := newCache(t, c, 0)
	rrset := rrs(t, "www.gslb.example.com. 30 IN A 192.0.2.10")
	k, _ := cache.Key(rrset)
	_, _ = cache.Sigs(k, rrset)
	if n := testing.AllocsPerRun(1000, func() { _, _ = cache.Sigs(k, rrset) }); n != 0 {
		t.Errorf("cache hit: %.1f allocs, want 0", n)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	c := newClock()
	cache := newCache(b, c, 0)
	rrset, _ := dns.NewRR("www.gslb.example.com. 30 IN A 192.0.2.10")
	set := []dns.RR{rrset}
	k, _ := cache.Key(set)
	_, _ = cache.Sigs(k, set)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = cache.Sigs(k, set)
	}
}

// BenchmarkCacheHitParallel is the hit from every core at once, as the
// transport's workers will call it.
func BenchmarkCacheHitParallel(b *testing.B) {
	cache := newCache(b, newClock(), 0)
	set := rrs(b, "www.gslb.example.com. 30 IN A 192.0.2.10")
	k, _ := cache.Key(set)
	_, _ = cache.Sigs(k, set)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = cache.Sigs(k, set)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	for _, alg := range []uint8{AlgECDSAP256, AlgEd25519} {
		b.Run(fmt.Sprintf("alg%d", alg), func(b *testing.B) {
			k, _ := GenerateKey(zone, alg, RoleCSK, DefaultDNSKEYTTL)
			s, err := NewSigner(NewKeySet(zone, alg, time.Now(), k), map[uint16]string{k.Tag(): k.PrivateText()}, SignerConfig{})
			if err != nil {
				b.Fatal(err)
			}
			rr, _ := dns.NewRR("www.gslb.example.com. 30 IN A 192.0.2.10")
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Sign([]dns.RR{rr}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
