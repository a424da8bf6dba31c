package server

import (
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// The DNSSEC side of the fast path. A DO query for a GSLB name of a signed
// zone is answered from bytes to bytes like any other: the draw is the
// same, and the signature of the drawn RRset comes from the zone's answer
// cache by a key made from the records' addresses (dnssec.Cache.AddrSig),
// already packed, so a cache hit parses, packs and allocates nothing. It
// shares the cache with the general path (the same key for the same
// RRset), so either path's signature serves the other, and the hourly
// refresh (dnsseckeys.go) keeps both from signing in steady state.

// fastSigning returns the signing of zone z for a query of name g with
// DO set (do): nil when the answer is not signed (no DO, or the zone is
// not signed). The name's keys (plan.SigKeys), made when the snapshot was
// built, give it without a lookup. signs is false when the zone must
// sign and cannot (no usable keys): the general path answers that one
// SERVFAIL, counted.
func fastSigning(snap *plan.Snapshot, z *plan.Zone, g *plan.Name, do bool) (zs *plan.ZoneSigning, keys *plan.SigKeys, signs bool) {
	if !do || !z.Signed {
		return nil, nil, true
	}
	if keys = g.SigKeys(); keys != nil {
		return keys.Zone, keys, true
	}
	zs = snap.DNSSEC.For(z)
	return zs, nil, zs != nil
}

// sigRoom is the room an answer's RRSIG may take in the reply.
func sigRoom(zs *plan.ZoneSigning, keys *plan.SigKeys) int {
	switch {
	case zs == nil:
		return 0
	case keys != nil:
		return keys.SigRoom
	}
	return zs.Signer.MaxRRSIGLen()
}

// fastSig returns the RRSIG of the answers q drew for g, valid at now, in
// wire form from its type on; nil when there is nothing to sign. keys,
// when not nil, are g's for zs. ok is false when the signature cannot be
// made, which a checked key and the name's own records never cause; the
// reply is then SERVFAIL, as on the general path (a wrong answer is worse
// than none).
func fastSig(zs *plan.ZoneSigning, keys *plan.SigKeys, g *plan.Name, q *query, now time.Time) (sig []byte, ok bool) {
	if zs == nil || q.nFastAns == 0 {
		return nil, true
	}
	var set [schema.MaxAnswers]dns.RR
	for i, a := range q.fastAns[:q.nFastAns] {
		set[i] = a.RR
	}
	rrs := set[:q.nFastAns]
	hd := rrs[0].Header()
	var err error
	if start, found := keyStart(keys, g, hd); found {
		sig, err = zs.Answers.AddrSigFrom(start, g.Owner, rrs, now)
	} else {
		sig, err = zs.Answers.AddrSig(g.Owner, rrs, now)
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
				n.GSLB.SetSigKeys(zs)
			}
		}
	}
}

// keyStart returns the start of the cache key of g's RRset with header hd
// from g's keys; found false without keys or for another TTL.
func keyStart(keys *plan.SigKeys, g *plan.Name, hd *dns.RR_Header) (start dnssec.RRsetKey, found bool) {
	if keys == nil {
		return start, false
	}
	return keys.Start(g, hd.Rrtype, hd.Ttl)
}
