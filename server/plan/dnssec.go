package plan

import "github.com/glb-dns/glb/server/dnssec"

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
