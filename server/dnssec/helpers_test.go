package dnssec

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const zone = "gslb.example.com."

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time        { return c.t }
func (c *clock) add(d time.Duration)   { c.t = c.t.Add(d) }
func newClock() *clock                 { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func halfJitter(n int64) int64         { return n / 2 }
func cfgAt(c *clock) SignerConfig      { return SignerConfig{Now: c.now, Rand: halfJitter} }
func rr(t testing.TB, s string) dns.RR { t.Helper(); r, err := dns.NewRR(s); must(t, err); return r }
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
func rrs(t testing.TB, ss ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, s := range ss {
		out = append(out, rr(t, s))
	}
	return out
}

// zoneKeys makes the keys of a zone: a CSK, or a KSK and a ZSK.
func zoneKeys(t testing.TB, alg uint8, split bool, now time.Time) (*KeySet, map[uint16]string) {
	t.Helper()
	roles := []Role{RoleCSK}
	if split {
		roles = []Role{RoleKSK, RoleZSK}
	}
	var keys []*Key
	priv := map[uint16]string{}
	for _, r := range roles {
		k, err := GenerateKey(zone, alg, r, DefaultDNSKEYTTL)
		must(t, err)
		keys = append(keys, k)
		priv[k.Tag()] = k.PrivateText()
	}
	return roundTrip(t, NewKeySet(zone, alg, now, keys...)), priv
}

// roundTrip encodes and decodes a key set, as etcd would store it.
func roundTrip(t testing.TB, ks *KeySet) *KeySet {
	t.Helper()
	b, err := ks.Encode()
	must(t, err)
	out, err := DecodeKeySet("test", b)
	must(t, err)
	return out
}

// verify checks sig over rrset against the key of its tag in dnskeys, and
// its validity at now; it returns the key's flags.
func verify(sig *dns.RRSIG, rrset []dns.RR, dnskeys []dns.RR, now time.Time) (uint16, error) {
	for _, k := range dnskeys {
		k := k.(*dns.DNSKEY)
		if k.KeyTag() != sig.KeyTag {
			continue
		}
		if err := sig.Verify(k, rrset); err != nil {
			return 0, fmt.Errorf("verify %s/%s with key %d: %w", sig.Hdr.Name, dns.TypeToString[sig.TypeCovered], sig.KeyTag, err)
		}
		if !sig.ValidityPeriod(now) {
			return 0, fmt.Errorf("signature of %s not valid at %s", sig.Hdr.Name, now)
		}
		return k.Flags, nil
	}
	return 0, fmt.Errorf("no DNSKEY with tag %d in the set", sig.KeyTag)
}
