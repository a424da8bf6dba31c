package plan

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
)

// Signing is the DNSSEC part of a snapshot: the signer and signature
// caches of each signed zone whose keys are usable, by origin. It is
// built by the snapshot's owner when keys change, and shared unchanged by
// the snapshots that follow, so its caches outlive configuration and
// health changes.
type Signing struct {
	Zones map[string]*ZoneSigning
}

// ZoneSigning is one zone's signer and its two caches: one for answers
// (each region's RRset, SOA, NS, static data) and one for the compact
// denials of names that do not exist, so that a flood of random names
// cannot evict the answers' signatures.
type ZoneSigning struct {
	Signer  *dnssec.Signer
	Answers *dnssec.Cache
	Denials *dnssec.Cache
	// negSOA is the zone's negative SOA in wire form, for the fast
	// path's denials (NegSOA); made on first use.
	negSOA atomic.Pointer[NegSOAWire]
}

// NegSOAWire is a zone's negative SOA ready to write after its owner
// name (type, class, TTL, data length and data) and the key of its RRSIG
// in the zone's answers cache.
type NegSOAWire struct {
	SOA  *dns.SOA
	Wire []byte
	Key  dnssec.RRsetKey
}

// NegSOA returns z's negative SOA in wire form. It is made on the first
// call for each SOA (a new configuration has a new one) and kept: the
// SOA is the same for every denial of the zone.
func (zs *ZoneSigning) NegSOA(z *Zone) (*NegSOAWire, error) {
	if w := zs.negSOA.Load(); w != nil && w.SOA == z.NegSOA {
		return w, nil
	}
	soa := dns.Copy(z.NegSOA) // PackRR writes the record's length: never the shared one
	buf := make([]byte, dns.Len(soa)+16)
	n, err := dns.PackRR(soa, buf, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("pack the negative SOA of %s: %w", z.Name, err)
	}
	k, err := zs.Answers.Key([]dns.RR{z.NegSOA})
	if err != nil {
		return nil, err
	}
	w := &NegSOAWire{SOA: z.NegSOA, Wire: buf[len(z.Name)+1 : n : n], Key: k} // the owner is the apex, uncompressed
	zs.negSOA.Store(w)
	return w, nil
}

// For returns the signing of zone z, nil when it has none.
func (s *Signing) For(z *Zone) *ZoneSigning {
	if s == nil || z == nil {
		return nil
	}
	return s.Zones[z.Name]
}

// Families says whether some region of the name has IPv4 and IPv6
// addresses: the A and AAAA of a denial's type bitmap.
func (n *Name) Families() (v4, v6 bool) {
	for _, r := range n.Regions {
		v4 = v4 || len(r.A) > 0
		v6 = v6 || len(r.aaaa) > 0
	}
	return v4, v6
}

// SigKeys are what a DO answer of a GSLB name needs from its zone's
// signing, made when the snapshot is built: the signing itself and the
// starts of the signature cache keys of the name's answer RRsets
// (dnssec.Cache.KeyStart: owner, type and TTL), so that a DO query adds
// only its records' addresses to find its signature.
type SigKeys struct {
	Zone *ZoneSigning
	// SigRoom bounds the wire length of one RRSIG of the zone's signer
	// (dnssec.Signer.MaxRRSIGLen), kept here so a query reads it from
	// the memory it reads anyway.
	SigRoom int
	start   [2][2]dnssec.RRsetKey // [A, AAAA][TTL, degraded TTL]
}

// SetSigKeys makes g's keys for the signing zs, unless it has them. They
// sit behind an atomic pointer because a Name outlives the signing it
// was built with: snapshots in use share it while new keys come in, and
// a query of one of them may take the newer keys, which are in force.
func (g *Name) SetSigKeys(zs *ZoneSigning) {
	if k := g.sigKeys.Load(); k != nil && k.Zone == zs {
		return
	}
	k := &SigKeys{Zone: zs, SigRoom: zs.Signer.MaxRRSIGLen()}
	for i, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		k.start[i][0] = zs.Answers.KeyStart(g.Owner, t, g.TTL)
		k.start[i][1] = zs.Answers.KeyStart(g.Owner, t, g.TTLDegraded)
	}
	g.sigKeys.Store(k)
}

// SigKeys returns g's keys; nil when none were made (not signed yet).
func (g *Name) SigKeys() *SigKeys { return g.sigKeys.Load() }

// Start returns the start of the key of g's RRset of rrtype at ttl in
// k's answer cache; ok false for a TTL that is neither of g's.
func (k *SigKeys) Start(g *Name, rrtype uint16, ttl uint32) (start dnssec.RRsetKey, ok bool) {
	i := 0
	if rrtype == dns.TypeAAAA {
		i = 1
	}
	switch {
	case ttl == g.TTL:
		return k.start[i][0], true
	case ttl == g.TTLDegraded && ttl != 0:
		return k.start[i][1], true
	}
	return start, false
}

// BelowCut reports whether name (lower case, fully qualified, inside z)
// is at or below a zone cut: a name other than the apex with NS records,
// on the way up from name. Records there are a delegation's glue, not
// the zone's own data, and are never signed (RFC 4035 section 2.2).
func (z *Zone) BelowCut(name string) bool {
	for n := name; len(n) > len(z.Name); {
		if node := z.Nodes[n]; node != nil && len(node.RRsets[dns.TypeNS]) > 0 {
			return true
		}
		i := strings.IndexByte(n, '.')
		if i < 0 {
			break
		}
		n = n[i+1:]
	}
	return false
}
