package server

import (
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

// fastSig returns the RRSIG of the answers q drew for g, in wire form from
// its type on; nil when there is nothing to sign. ok is false when the
// signature cannot be made, which a checked key and the name's own
// records never cause; the reply is then SERVFAIL, as on the general
// path (a wrong answer is worse than none).
func (h *Handler) fastSig(zs *plan.ZoneSigning, g *plan.Name, q *query) (sig []byte, ok bool) {
	if zs == nil || q.nFastAns == 0 {
		return nil, true
	}
	sig, err := zs.Answers.AddrSig(g.Owner, q.fastAns[:q.nFastAns], h.now())
	return sig, err == nil
}
