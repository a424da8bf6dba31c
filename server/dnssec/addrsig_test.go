package dnssec

import (
	"testing"

	"github.com/miekg/dns"
)

// TestAddrSig: the fast path's key is the general path's key for the same
// RRset (whatever the order and the records' own owners), so both share
// one entry; its wire form is the cached RRSIG, which verifies; a hit
// allocates nothing.
func TestAddrSig(t *testing.T) {
	c := newClock()
	cache := newCache(t, c, 0)
	owned := func(owner string, ss ...string) []dns.RR {
		out := rrs(t, ss...)
		for _, r := range out {
			r.Header().Name = owner
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		owner  string
		shared []dns.RR // as a region holds them: no owner
		other  []dns.RR // another RRset: must not share the key
	}{
		{"one A", "www.gslb.example.com.", owned("", "x. 30 IN A 192.0.2.10"), owned("", "x. 30 IN A 192.0.2.11")},
		{"two A", "www.gslb.example.com.", owned("", "x. 30 IN A 192.0.2.10", "x. 30 IN A 192.0.2.11"), owned("", "x. 20 IN A 192.0.2.10", "x. 20 IN A 192.0.2.11")},
		{"AAAA", "api.gslb.example.com.", owned("", "x. 30 IN AAAA 2001:db8::10"), owned("", "x. 30 IN AAAA 2001:db8::11")},
		{"owner matters", "api.gslb.example.com.", owned("", "x. 30 IN A 192.0.2.10"), owned("", "x. 30 IN A 192.0.2.10")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withOwner := make([]dns.RR, len(tc.shared))
			for i := range tc.shared {
				withOwner[len(withOwner)-1-i] = dns.Copy(tc.shared[i]) // reversed: order does not matter
				withOwner[len(withOwner)-1-i].Header().Name = tc.owner
			}
			k, err := cache.Key(withOwner)
			must(t, err)
			if got := cache.AddrKey(tc.owner, tc.shared); got != k {
				t.Fatalf("AddrKey %v, Key %v: the paths would not share the entry", got, k)
			}
			otherOwner := tc.owner
			if tc.name == "owner matters" {
				otherOwner = "www.gslb.example.com."
			}
			if cache.AddrKey(otherOwner, tc.other) == k {
				t.Fatal("another RRset has the same key")
			}
			sigs, err := cache.Sigs(k, withOwner)
			must(t, err)
			wire, err := cache.AddrSig(tc.owner, tc.shared, c.now())
			must(t, err)
			// The wire form is the cached RRSIG: put an owner before it and read it back.
			buf := make([]byte, 255)
			n, err := dns.PackDomainName(tc.owner, buf, 0, nil, false)
			must(t, err)
			back, _, err := dns.UnpackRR(append(buf[:n], wire...), 0)
			must(t, err)
			if back.String() != sigs[0].String() {
				t.Fatalf("AddrSig gives\n%v\nthe cache holds\n%v", back, sigs[0])
			}
			if _, err := verify(back.(*dns.RRSIG), withOwner, cache.Signer().DNSKEY(), c.now()); err != nil {
				t.Error(err)
			}
			if n := testing.AllocsPerRun(200, func() { _, _ = cache.AddrSig(tc.owner, tc.shared, c.now()) }); n != 0 {
				t.Errorf("AddrSig hit: %.1f allocs, want 0", n)
			}
		})
	}
	if st := cache.Stats(); st.Signs != 4 {
		t.Errorf("%d signs for 4 RRsets asked for by both paths, want 4", st.Signs)
	}
	if _, err := cache.AddrSig("x.gslb.example.com.", rrs(t, "x. 30 IN TXT hi"), c.now()); err == nil {
		t.Error("AddrSig signed a TXT record: it takes address records only")
	}
}

// TestKeyOne: the key of a one-record RRset from its packed data is
// Key's, for the records the fast path's denials key this way.
func TestKeyOne(t *testing.T) {
	cache := newCache(t, newClock(), 0)
	for _, r := range []dns.RR{
		DenyName("nope.gslb.example.com.", 30),
		DenyName("a.b.gslb.example.com.", 300),
		rr(t, "gslb.example.com. 30 IN SOA ns1.gslb.example.com. hostmaster.gslb.example.com. 1 3600 600 86400 30"),
	} {
		k, err := cache.Key([]dns.RR{r})
		must(t, err)
		buf := make([]byte, 512)
		n, err := dns.PackRR(dns.Copy(r), buf, 0, nil, false)
		must(t, err)
		h := r.Header()
		rd := buf[len(h.Name)+1+10 : n] // after the owner (uncompressed), type, class, TTL and length
		if got := cache.KeyOne(h.Name, h.Rrtype, h.Ttl, rd); got != k {
			t.Errorf("%v: KeyOne %v, Key %v", r, got, k)
		}
	}
}
