package dnssec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// KeyState is where a key is in its life. A key leaves the set when its
// last state ends.
type KeyState string

// The states of a key.
const (
	// StatePublished: in the DNSKEY RRset, not signing yet (a ZSK or CSK
	// published ahead of use, so that caches learn it first).
	StatePublished KeyState = "published"
	// StateActive: in the DNSKEY RRset and signing.
	StateActive KeyState = "active"
	// StateRetired: in the DNSKEY RRset, no longer signing, kept until the
	// signatures it made have left every cache.
	StateRetired KeyState = "retired"
	// StateDSPublished: a new KSK of a double-DS rollover: its DS goes to
	// the parent (CDS and glbctl dnssec ds show it) before its DNSKEY is
	// published.
	StateDSPublished KeyState = "ds-published"
	// StateDSRetired: an old KSK of a double-DS rollover: out of the
	// DNSKEY RRset; its DS is removed from the parent at the last step.
	StateDSRetired KeyState = "ds-retired"
)

// inDNSKEY says whether keys in this state are in the DNSKEY RRset.
func (s KeyState) inDNSKEY() bool {
	return s == StatePublished || s == StateActive || s == StateRetired
}

// DefaultDNSKEYTTL is the TTL of the DNSKEY, CDS and CDNSKEY RRsets.
const DefaultDNSKEYTTL = 3600

// KeyRecord is one key of a KeySet: its public half and where it stands.
type KeyRecord struct {
	Tag    uint16    `json:"tag"`
	Role   Role      `json:"role"`
	State  KeyState  `json:"state"`
	DNSKEY string    `json:"dnskey"` // the DNSKEY record in zone-file text
	Since  time.Time `json:"since"`  // when it entered State

	dnskey *dns.DNSKEY
}

// Public returns the key's DNSKEY record (shared: copy before changing).
func (r *KeyRecord) Public() *dns.DNSKEY { return r.dnskey }

// Roll is a rollover in progress.
type Roll struct {
	Kind  Role      `json:"kind"`  // the role of the key being rolled
	Step  int       `json:"step"`  // steps done: 1 or 2 (a finished roll is removed)
	Since time.Time `json:"since"` // when the last step was taken
}

// KeySet is the public half of a zone's keys, stored as JSON under
// /glb-keys/public/<zone>. It holds no secret.
type KeySet struct {
	Zone      string      `json:"zone"` // fully qualified, lower case
	Algorithm uint8       `json:"algorithm"`
	DNSKEYTTL uint32      `json:"dnskey_ttl"`
	Keys      []KeyRecord `json:"keys"`
	Roll      *Roll       `json:"roll,omitempty"`
}

// NewKeySet returns the key set of a zone signed with the given keys, all
// active since now.
func NewKeySet(zone string, alg uint8, now time.Time, keys ...*Key) *KeySet {
	ks := &KeySet{Zone: dns.Fqdn(strings.ToLower(zone)), Algorithm: alg, DNSKEYTTL: DefaultDNSKEYTTL}
	for _, k := range keys {
		ks.add(k, StateActive, now)
	}
	return ks
}

// add appends a key in a state.
func (ks *KeySet) add(k *Key, st KeyState, now time.Time) {
	k.DNSKEY.Hdr.Ttl = ks.DNSKEYTTL
	ks.Keys = append(ks.Keys, KeyRecord{Tag: k.Tag(), Role: k.Role, State: st, DNSKEY: k.DNSKEY.String(), Since: now.UTC(), dnskey: k.DNSKEY})
}

// Encode returns the JSON stored in etcd.
func (ks *KeySet) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(ks, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode key set of %s: %w", ks.Zone, err)
	}
	return append(b, '\n'), nil
}

// DecodeKeySet parses and checks a key set. name (its etcd key) is named
// in errors. Unknown fields, records that do not parse, tags that do not
// match their record and sets no one could sign with are refused.
func DecodeKeySet(name string, b []byte) (*KeySet, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var ks KeySet
	if err := dec.Decode(&ks); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, name, err)
	}
	if err := ks.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, name, err)
	}
	return &ks, nil
}

// check validates the set and fills in the parsed records.
func (ks *KeySet) check() error {
	if _, ok := dns.IsDomainName(ks.Zone); !ok || !dns.IsFqdn(ks.Zone) || ks.Zone != strings.ToLower(ks.Zone) {
		return fmt.Errorf("zone %q: want a fully qualified lower-case name", ks.Zone)
	}
	if ks.Algorithm != AlgECDSAP256 && ks.Algorithm != AlgEd25519 {
		return fmt.Errorf("algorithm %d: want %d or %d", ks.Algorithm, AlgECDSAP256, AlgEd25519)
	}
	if ks.DNSKEYTTL == 0 {
		return fmt.Errorf("dnskey_ttl: must be positive")
	}
	seen := map[uint16]bool{}
	for i := range ks.Keys {
		r := &ks.Keys[i]
		rr, err := dns.NewRR(r.DNSKEY)
		if err != nil {
			return fmt.Errorf("key %d: dnskey: %w", r.Tag, err)
		}
		k, ok := rr.(*dns.DNSKEY)
		switch {
		case !ok:
			return fmt.Errorf("key %d: dnskey: a %s record, want DNSKEY", r.Tag, dns.TypeToString[rr.Header().Rrtype])
		case k.Hdr.Name != ks.Zone:
			return fmt.Errorf("key %d: owner %s, want the zone %s", r.Tag, k.Hdr.Name, ks.Zone)
		case k.KeyTag() != r.Tag:
			return fmt.Errorf("key %d: the record's tag is %d", r.Tag, k.KeyTag())
		case k.Algorithm != ks.Algorithm:
			return fmt.Errorf("key %d: algorithm %d, the set's is %d", r.Tag, k.Algorithm, ks.Algorithm)
		case r.Role != RoleCSK && r.Role != RoleKSK && r.Role != RoleZSK:
			return fmt.Errorf("key %d: role %q: want csk, ksk or zsk", r.Tag, r.Role)
		case k.Flags != r.Role.flags():
			return fmt.Errorf("key %d: flags %d do not fit role %s", r.Tag, k.Flags, r.Role)
		case seen[r.Tag]:
			return fmt.Errorf("key %d: tag twice", r.Tag)
		}
		switch r.State {
		case StatePublished, StateActive, StateRetired, StateDSPublished, StateDSRetired:
		default:
			return fmt.Errorf("key %d: state %q unknown", r.Tag, r.State)
		}
		k.Hdr.Ttl = ks.DNSKEYTTL
		seen[r.Tag] = true
		r.dnskey = k
	}
	if n := ks.count(func(r *KeyRecord) bool { return r.State == StateActive && r.Role.signsData() }); n != 1 {
		return fmt.Errorf("%d active keys sign the zone's data, want 1", n)
	}
	if n := ks.count(func(r *KeyRecord) bool { return r.State == StateActive && r.Role.signsKeys() }); n != 1 {
		return fmt.Errorf("%d active keys sign the DNSKEY RRset, want 1", n)
	}
	return nil
}

func (ks *KeySet) count(f func(*KeyRecord) bool) int {
	n := 0
	for i := range ks.Keys {
		if f(&ks.Keys[i]) {
			n++
		}
	}
	return n
}

// Split says whether the zone has a KSK/ZSK pair rather than a CSK.
func (ks *KeySet) Split() bool {
	return slices.ContainsFunc(ks.Keys, func(r KeyRecord) bool { return r.Role == RoleZSK })
}

// DNSKEYs returns the DNSKEY RRset the zone publishes now.
func (ks *KeySet) DNSKEYs() []dns.RR {
	var out []dns.RR
	for i := range ks.Keys {
		if ks.Keys[i].State.inDNSKEY() {
			out = append(out, ks.Keys[i].dnskey)
		}
	}
	return out
}

// ParentKeys returns the keys whose DS the parent should have now: the
// KSKs (or CSKs) that are active or about to be, in double-DS or
// pre-publish. CDS, CDNSKEY and glbctl dnssec ds are built from them.
func (ks *KeySet) ParentKeys() []*dns.DNSKEY {
	var out []*dns.DNSKEY
	for i := range ks.Keys {
		r := &ks.Keys[i]
		if r.Role.signsKeys() && (r.State == StateActive || r.State == StatePublished || r.State == StateDSPublished) {
			out = append(out, r.dnskey)
		}
	}
	return out
}

// DS returns the DS records (SHA-256) for the parent.
func (ks *KeySet) DS() []*dns.DS {
	var out []*dns.DS
	for _, k := range ks.ParentKeys() {
		out = append(out, k.ToDS(dns.SHA256))
	}
	return out
}

// CDS returns the CDS RRset (RFC 7344) built from ParentKeys.
func (ks *KeySet) CDS() []dns.RR {
	return ks.parentRRset(func(k *dns.DNSKEY) dns.RR { return k.ToDS(dns.SHA256).ToCDS() })
}

// CDNSKEY returns the CDNSKEY RRset built from ParentKeys.
func (ks *KeySet) CDNSKEY() []dns.RR {
	return ks.parentRRset(func(k *dns.DNSKEY) dns.RR { return k.ToCDNSKEY() })
}

// parentRRset returns one record per ParentKeys, at the DNSKEY TTL.
func (ks *KeySet) parentRRset(record func(*dns.DNSKEY) dns.RR) []dns.RR {
	var out []dns.RR
	for _, k := range ks.ParentKeys() {
		r := record(k)
		r.Header().Ttl = ks.DNSKEYTTL
		out = append(out, r)
	}
	return out
}

// Private returns the tags of keys whose private half must exist: every
// key in the DNSKEY RRset, as any of them may sign after the next step.
func (ks *KeySet) Private() []uint16 {
	var out []uint16
	for i := range ks.Keys {
		if ks.Keys[i].State.inDNSKEY() || ks.Keys[i].State == StateDSPublished {
			out = append(out, ks.Keys[i].Tag)
		}
	}
	return out
}
