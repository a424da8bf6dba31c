package server

import (
	"time"

	"github.com/glb-dns/glb/server/plan"
)

// The DNSSEC side of the fast path. A DO query for a GSLB name of a signed
// zone is answered from bytes to bytes like any other: the draw is the
// same, and the signature of the drawn RRset comes from the zone's answer
// cache by a key made from the records' addresses (dnssec.Cache.AddrSig),
// already packed, so a cache hit parses, packs and allocates nothing. It
// shares the cache with the general path (the same key for the same
// RRset), so either path's signature serves the other, and the hourly
// refresh (dnsseckeys.go) keeps both from signing in steady state.

// fastSigning returns the signing of zone z for a query with DO set (do):
// nil when the answer is not signed (no DO, or the zone is not signed).
// signs is false when the zone must sign and cannot (no usable keys):
// the general path answers that one SERVFAIL, counted.
func fastSigning(snap *plan.Snapshot, z *plan.Zone, do bool) (zs *plan.ZoneSigning, signs bool) {
	if !do || !z.Signed {
		return nil, true
	}
	zs = snap.DNSSEC.For(z)
	return zs, zs != nil
}

// sigRoom is the room an answer's RRSIG may take in the reply.
func sigRoom(zs *plan.ZoneSigning) int {
	if zs == nil {
		return 0
	}
	return zs.Signer.MaxRRSIGLen()
}

// fastSig returns the RRSIG of the answers q drew for g, valid at now, in
// wire form from its type on; nil when there is nothing to sign. ok is false when the
// signature cannot be made, which a checked key and the name's own
// records never cause; the reply is then SERVFAIL, as on the general
// path (a wrong answer is worse than none).
func fastSig(zs *plan.ZoneSigning, g *plan.Name, q *query, now time.Time) (sig []byte, ok bool) {
	if zs == nil || q.nFastAns == 0 {
		return nil, true
	}
	rrs := q.fastAns[:q.nFastAns]
	hd := rrs[0].Header()
	var err error
	if start, ok := g.SigKeyStart(zs.Answers, hd.Rrtype, hd.Ttl); ok {
		sig, err = zs.Answers.AddrSigFrom(start, g.Owner, rrs, now)
	} else {
		sig, err = zs.Answers.AddrSig(g.Owner, rrs, now) // keys not made yet for these
	}
	return sig, err == nil
}

// prepareSigKeys makes, for each GSLB name of a signed zone, the start of
// its answers' signature cache keys (plan.Name.SetSigKeys), so that DO
// queries hash only their records. Names and caches that have them
// already are skipped, so a rebuild for health costs a pass of pointer
// compares. h.mu is held.
func prepareSigKeys(snap *plan.Snapshot) {
	for _, z := range snap.Config.Zones {
		zs := snap.DNSSEC.For(z)
		if zs == nil || !z.Signed {
			continue
		}
		for _, n := range z.Nodes {
			if n.GSLB != nil {
				n.GSLB.SetSigKeys(zs.Answers)
			}
		}
	}
}
