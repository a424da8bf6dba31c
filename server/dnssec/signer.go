package dnssec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// SignerConfig sets the validity of the signatures a Signer makes. The
// zero value means the defaults.
type SignerConfig struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand returns a number in [0, n): the expiry jitter. Default
	// math/rand/v2's Int64N.
	Rand func(n int64) int64
	// Backdate is how far inception lies before now, for validators whose
	// clocks are behind. Default and minimum 1 hour.
	Backdate time.Duration
	// Validity is how long a signature is valid from now. Default 7 days.
	Validity time.Duration
	// Jitter is the most taken off Validity at random, so that signatures
	// made together do not all expire together. Default 1 day.
	Jitter time.Duration
}

// Signer defaults.
const (
	DefaultBackdate = time.Hour
	DefaultValidity = 7 * 24 * time.Hour
	DefaultJitter   = 24 * time.Hour
)

func (c SignerConfig) withDefaults() SignerConfig {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Int64N
	}
	c.Backdate = max(c.Backdate, DefaultBackdate)
	if c.Validity <= 0 {
		c.Validity = DefaultValidity
	}
	if c.Jitter <= 0 {
		c.Jitter = DefaultJitter
	}
	// Keep at least half the validity whatever the jitter.
	c.Jitter = min(c.Jitter, c.Validity/2)
	return c
}

// Signer signs the RRsets of one zone with the keys in force. It is
// immutable and safe for concurrent use; a key change makes a new Signer
// (and a new Cache: signatures by a retired key must not be served on).
type Signer struct {
	zone    string
	cfg     SignerConfig
	dataKey *Key // signs everything but the key RRsets
	keysKey *Key // signs DNSKEY, CDS and CDNSKEY
	keys    *KeySet
	dnskey  []dns.RR
	cds     []dns.RR
	cdnskey []dns.RR
}

// NewSigner returns the signer of a key set. private holds the private
// texts by key tag (as read from /glb-keys/private/<zone>/<tag>); every key
// in the DNSKEY RRset must have one. Errors name the key and wrap ErrKey.
func NewSigner(ks *KeySet, private map[uint16]string, cfg SignerConfig) (*Signer, error) {
	s := &Signer{zone: ks.Zone, cfg: cfg.withDefaults(), keys: ks}
	for _, tag := range ks.Private() {
		r := ks.record(tag)
		k, err := ParseKey(fmt.Sprintf("%s key %d (%s)", ks.Zone, tag, r.Role), r.dnskey, r.Role, private[tag])
		if err != nil {
			return nil, err
		}
		if r.State != StateActive {
			continue
		}
		if r.Role.signsData() {
			s.dataKey = k
		}
		if r.Role.signsKeys() {
			s.keysKey = k
		}
	}
	if s.dataKey == nil || s.keysKey == nil {
		return nil, fmt.Errorf("%w: %s: no active signing key", ErrKey, ks.Zone)
	}
	s.dnskey, s.cds, s.cdnskey = ks.DNSKEYs(), ks.CDS(), ks.CDNSKEY()
	return s, nil
}

func (ks *KeySet) record(tag uint16) *KeyRecord {
	for i := range ks.Keys {
		if ks.Keys[i].Tag == tag {
			return &ks.Keys[i]
		}
	}
	return nil
}

// Zone returns the zone, fully qualified.
func (s *Signer) Zone() string { return s.zone }

// Keys returns the key set the signer was made from.
func (s *Signer) Keys() *KeySet { return s.keys }

// DNSKEY returns the zone's DNSKEY RRset (shared: do not change).
func (s *Signer) DNSKEY() []dns.RR { return s.dnskey }

// CDS returns the zone's CDS RRset (shared: do not change).
func (s *Signer) CDS() []dns.RR { return s.cds }

// CDNSKEY returns the zone's CDNSKEY RRset (shared: do not change).
func (s *Signer) CDNSKEY() []dns.RR { return s.cdnskey }

// ApexTypes returns the types the zone's apex has when signed, for the
// bitmap of a denial at the apex: SOA, NS, DNSKEY, CDS, CDNSKEY, and the
// given ones (static records, A/AAAA of a GSLB name at the apex).
func (s *Signer) ApexTypes(more ...uint16) []uint16 {
	types := s.AppendApexTypes(slices.Clone(more))
	slices.Sort(types)
	return slices.Compact(types)
}

// AppendApexTypes appends the types ApexTypes adds to dst, unsorted: the
// fast path builds a bitmap in an array of its own, without allocating.
func (s *Signer) AppendApexTypes(dst []uint16) []uint16 {
	dst = append(dst, dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY)
	if len(s.cds) > 0 {
		dst = append(dst, dns.TypeCDS, dns.TypeCDNSKEY)
	}
	return dst
}

// keyFor returns the key that signs RRsets of type t.
func (s *Signer) keyFor(t uint16) *Key {
	switch t {
	case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
		return s.keysKey
	}
	return s.dataKey
}

// Sign returns the RRSIG over rrset: all records of one owner, type and
// class, inside the zone. The owner keeps the case it has (validators
// compare in canonical form). It also returns when the signature expires.
func (s *Signer) Sign(rrset []dns.RR) (*dns.RRSIG, time.Time, error) {
	if len(rrset) == 0 {
		return nil, time.Time{}, fmt.Errorf("sign in %s: empty RRset", s.zone)
	}
	h := rrset[0].Header()
	for _, rr := range rrset[1:] {
		o := rr.Header()
		if !equalName(o.Name, h.Name) || o.Rrtype != h.Rrtype || o.Class != h.Class || o.Ttl != h.Ttl {
			return nil, time.Time{}, fmt.Errorf("sign %s/%s in %s: records of different owner, type, class or TTL", h.Name, dns.TypeToString[h.Rrtype], s.zone)
		}
	}
	if !dns.IsSubDomain(s.zone, dns.CanonicalName(h.Name)) {
		return nil, time.Time{}, fmt.Errorf("sign %s/%s: not in zone %s", h.Name, dns.TypeToString[h.Rrtype], s.zone)
	}
	k := s.keyFor(h.Rrtype)
	now := s.cfg.Now()
	exp := now.Add(s.cfg.Validity - time.Duration(s.cfg.Rand(int64(s.cfg.Jitter))))
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: h.Class, Ttl: h.Ttl},
		Algorithm:  k.DNSKEY.Algorithm,
		KeyTag:     k.Tag(),
		SignerName: s.zone,
		Inception:  uint32(now.Add(-s.cfg.Backdate).Unix()),
		Expiration: uint32(exp.Unix()),
	}
	if err := sig.Sign(k.signer, rrset); err != nil {
		return nil, time.Time{}, fmt.Errorf("sign %s/%s with key %d: %w", h.Name, dns.TypeToString[h.Rrtype], k.Tag(), err)
	}
	return sig, exp, nil
}

func equalName(a, b string) bool {
	return len(a) == len(b) && dns.CanonicalName(a) == dns.CanonicalName(b)
}
