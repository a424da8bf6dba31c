package dnssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// The algorithms glb signs with: ECDSA P-256 with SHA-256 (13, the
// default: small signatures every validator supports) and Ed25519 (15).
const (
	AlgECDSAP256 = dns.ECDSAP256SHA256
	AlgEd25519   = dns.ED25519
)

// Role is what a key signs.
type Role string

// The roles of a key.
const (
	// RoleCSK is a combined signing key: it signs every RRset.
	RoleCSK Role = "csk"
	// RoleKSK is a key-signing key: it signs the DNSKEY, CDS and CDNSKEY
	// RRsets, and its DS is at the parent.
	RoleKSK Role = "ksk"
	// RoleZSK is a zone-signing key: it signs everything else.
	RoleZSK Role = "zsk"
)

// flags returns the DNSKEY flags of the role: the SEP bit for keys whose
// DS goes to the parent.
func (r Role) flags() uint16 {
	if r == RoleZSK {
		return dns.ZONE
	}
	return dns.ZONE | dns.SEP
}

// signsKeys says whether keys of this role sign the DNSKEY RRset.
func (r Role) signsKeys() bool { return r == RoleCSK || r == RoleKSK }

// signsData says whether keys of this role sign the zone's other RRsets.
func (r Role) signsData() bool { return r == RoleCSK || r == RoleZSK }

// ErrKey marks key material that cannot be used: missing, corrupt, or not
// matching its public half. Its message names the key.
var ErrKey = errors.New("dnssec key unusable")

// Key is one DNSKEY with its private half.
type Key struct {
	DNSKEY *dns.DNSKEY
	Role   Role
	signer crypto.Signer
}

// Tag returns the key tag that RRSIGs and DS records name the key by.
func (k *Key) Tag() uint16 { return k.DNSKEY.KeyTag() }

// GenerateKey makes a new key of the given role and algorithm for zone
// (crypto/rand is the entropy source: miekg/dns gives no other).
func GenerateKey(zone string, alg uint8, role Role, ttl uint32) (*Key, error) {
	var bits int
	switch alg {
	case AlgECDSAP256:
		bits = 256
	case AlgEd25519:
		bits = 256
	default:
		return nil, fmt.Errorf("generate %s key for %s: algorithm %d: want %d (ECDSA P-256) or %d (Ed25519)", role, zone, alg, AlgECDSAP256, AlgEd25519)
	}
	pub := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.Fqdn(strings.ToLower(zone)), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: ttl},
		Flags:     role.flags(),
		Protocol:  3,
		Algorithm: alg,
	}
	priv, err := pub.Generate(bits)
	if err != nil {
		return nil, fmt.Errorf("generate %s key for %s: %w", role, zone, err)
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("generate %s key for %s: private key of type %T cannot sign", role, zone, priv)
	}
	return &Key{DNSKEY: pub, Role: role, signer: s}, nil
}

// PrivateText returns the private key in BIND's Private-key-format v1.3,
// the text stored under /glb-keys/private/. It is secret: never log or
// print it.
func (k *Key) PrivateText() string { return k.DNSKEY.PrivateKeyString(k.signer) }

// ParseKey builds a key from its public record (as KeySet holds it) and
// its private text. name says which key this is in errors (its etcd key
// or file). A missing, corrupt or mismatched private key is an error
// wrapping ErrKey, never a panic.
func ParseKey(name string, pub *dns.DNSKEY, role Role, private string) (k *Key, err error) {
	defer func() {
		// miekg/dns trusts the lengths in the text for some algorithms;
		// a key cut short must not take the process down.
		if r := recover(); r != nil {
			k, err = nil, fmt.Errorf("%w: %s: private key corrupt (%v)", ErrKey, name, r)
		}
	}()
	if pub == nil {
		return nil, fmt.Errorf("%w: %s: no public key", ErrKey, name)
	}
	if strings.TrimSpace(private) == "" {
		return nil, fmt.Errorf("%w: %s: private key missing", ErrKey, name)
	}
	if pub.Algorithm != AlgECDSAP256 && pub.Algorithm != AlgEd25519 {
		return nil, fmt.Errorf("%w: %s: algorithm %d not supported", ErrKey, name, pub.Algorithm)
	}
	priv, err := pub.NewPrivateKey(private)
	if err != nil {
		// miekg/dns's parse errors quote the text they choke on, which
		// is secret: say what is wrong without it.
		return nil, fmt.Errorf("%w: %s: private key corrupt (not a Private-key-format v1.3 text of algorithm %d)", ErrKey, name, pub.Algorithm)
	}
	s, ok := priv.(crypto.Signer)
	if e, isECDSA := priv.(*ecdsa.PrivateKey); isECDSA {
		// miekg/dns copies the public key from the DNSKEY rather than
		// derive it from the private scalar: derive it here, which
		// also checks the scalar's range.
		if e.D == nil || e.D.BitLen() > 256 {
			return nil, fmt.Errorf("%w: %s: private key corrupt (scalar too long)", ErrKey, name)
		}
		if s, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), e.D.FillBytes(make([]byte, 32))); err != nil {
			return nil, fmt.Errorf("%w: %s: private key corrupt: %w", ErrKey, name, err)
		}
	}
	if !ok || !samePublic(pub, s) {
		return nil, fmt.Errorf("%w: %s: private key does not belong to DNSKEY with tag %d", ErrKey, name, pub.KeyTag())
	}
	return &Key{DNSKEY: pub, Role: role, signer: s}, nil
}

// samePublic says whether s is the private half of pub.
func samePublic(pub *dns.DNSKEY, s crypto.Signer) bool {
	check := &dns.DNSKEY{Hdr: pub.Hdr, Flags: pub.Flags, Protocol: pub.Protocol, Algorithm: pub.Algorithm}
	switch p := s.Public().(type) {
	case *ecdsa.PublicKey:
		if pub.Algorithm != AlgECDSAP256 || p.Curve.Params().BitSize != 256 {
			return false
		}
		b, err := p.Bytes() // 0x04 || X || Y
		if err != nil {
			return false
		}
		check.PublicKey = toBase64(b[1:])
	case ed25519.PublicKey:
		if pub.Algorithm != AlgEd25519 {
			return false
		}
		check.PublicKey = toBase64(p)
	default:
		return false
	}
	return check.PublicKey == pub.PublicKey
}

func toBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
