package server

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/server/dnswire"
	"github.com/glb-dns/glb/server/plan"
)

// The fast path's compact denials: a DO query of a signed zone for a name
// that does not exist, or for a type a name lacks, answered from bytes to
// bytes as the general path answers it (dnssecanswer.go's compactDenial):
// in the authority section the negative SOA, its RRSIG, the NSEC at the
// name (next name \000.<name>; bitmap RRSIG NSEC NXNAME for a missing
// name, the name's own types for a missing type) and its RRSIG; NOERROR,
// or NXDOMAIN with CO echoed for a missing name asked with Compact
// Answers OK. The NSEC is written into an array on the stack and its
// cache key taken from those bytes, so a denial whose signature is
// cached allocates nothing. Random names are what an attack on a signed
// zone sends, and each needs its own signature (signed once, then from
// the denials cache); missing types share the answers cache, like the
// general path. A zone without usable keys goes the general way
// (SERVFAIL).

// maxDenialTypes bounds the bitmap of a fast denial: a name with more
// types than this is denied by the general path.
const maxDenialTypes = 32

// fastDenial answers pkt, a DO query of signed zone z for a name z does
// not have (n nil) or a type node n lacks, when it can; handled false
// means the general path must answer (and nothing was counted). g and p
// are the GSLB name and its plan when the denial is a plan's (no address
// of the type), else nil.
func (h *Handler) fastDenial(dst, pkt []byte, q *query, f *fastQuery, snap *plan.Snapshot, z *plan.Zone, n *plan.Node, g *plan.Name, p *plan.Plan, now time.Time) (out []byte, handled bool) {
	zs := snap.DNSSEC.For(z)
	if zs == nil || len(z.Name) < 2 {
		return dst, false // no usable keys: the general path answers SERVFAIL
	}
	soa, err := zs.NegSOA(z)
	if err != nil {
		return dst, false
	}
	var nameArr [maxFastName + 1]byte
	name := dnswire.AppendPresentation(nameArr[:0], pkt[12:f.nameEnd]) // LookupWire accepted it
	var typeArr [maxDenialTypes]uint16
	types, cache, rcode := typeArr[:0], zs.Denials, dns.RcodeSuccess
	if n == nil {
		types = append(types, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME)
		if f.co {
			rcode = dns.RcodeNameError
		}
	} else {
		types = appendNodeTypes(types, zs, n, f.nameLen == len(z.Name), f.qtype)
		types = append(types, dns.TypeRRSIG, dns.TypeNSEC)
		cache = zs.Answers
	}
	if len(types) > maxDenialTypes {
		return dst, false
	}
	slices.Sort(types)
	types = slices.Compact(types)
	ttl := z.NegSOA.Hdr.Ttl
	var nsecArr [16 + maxFastName + 2 + 2*34]byte
	nsec := appendDenialNSEC(nsecArr[:0], pkt[12:f.qEnd-4], ttl, types)
	q.udpSize = dns.MinMsgSize
	if f.opt {
		q.udpSize = max(dns.MinMsgSize, min(f.udpSize, h.maxUDP))
	}
	sig := zs.Signer.MaxRRSIGLen()
	if !q.tcp && f.maxReply(0)+2+len(soa.Wire)+2+len(nsec)+2*sig > q.udpSize {
		return dst, false // might need truncation: the general path does it
	}

	// From here on the general path would answer the same way: the
	// decision's side effects happen here once.
	q.snap, q.qtype, q.ecs, q.zone = snap, f.qtype, f.ecs, z.Label
	q.client = q.remote
	if q.ecs.Addr.IsValid() {
		q.client = q.ecs.Addr
	}
	switch {
	case g != nil:
		q.recordOutcome(g, p)
	case n == nil:
		q.reason, q.fastZone = ReasonNXDomain, z
	default:
		q.reason, q.fastZone = ReasonNoData, z
	}
	h.readFastCookie(q, f, pkt)
	q.fast, q.fastRcode = true, rcode
	soaSig, err := zs.Answers.Wire(soa.Key, now, func() []dns.RR { return []dns.RR{z.NegSOA} })
	if err != nil {
		q.fastRcode = dns.RcodeServerFailure // counted as such
		return dnswire.ServFail(dst, pkt)
	}
	// The NSEC is packed already: its key from those bytes (after type,
	// class, TTL and data length) is Key's.
	k := cache.KeyOneBytes(name, dns.TypeNSEC, ttl, nsec[10:])
	nsecSig, err := cache.Wire(k, now, func() []dns.RR { return []dns.RR{denialNSEC(string(name), ttl, n == nil, types)} })
	if err != nil {
		q.fastRcode = dns.RcodeServerFailure // counted as such
		return dnswire.ServFail(dst, pkt)
	}

	dst = f.appendHeader(dst, pkt, rcode, 0, 4, 1) // one OPT: DO was set
	// The apex is the question name's suffix: point at it.
	apex := uint16(f.qEnd - 4 - (len(z.Name) + 1))
	for _, rr := range [...]struct {
		owner uint16
		wire  []byte
	}{{apex, soa.Wire}, {apex, soaSig}, {12, nsec}, {12, nsecSig}} {
		dst = binary.BigEndian.AppendUint16(dst, 0xc000|rr.owner)
		dst = append(dst, rr.wire...)
	}
	f.echoCO = rcode == dns.RcodeNameError
	return f.appendOPT(dst, pkt, q, &h.cookies), true
}

// denialNSEC is the NSEC the general path makes for the same denial
// (dnssec.DenyName, dnssec.DenyType), for the cache to sign on a miss.
func denialNSEC(name string, ttl uint32, missingName bool, types []uint16) *dns.NSEC {
	if missingName {
		return dnssec.DenyName(name, ttl)
	}
	own := make([]uint16, 0, len(types))
	for _, t := range types {
		if t != dns.TypeRRSIG && t != dns.TypeNSEC {
			own = append(own, t)
		}
	}
	return dnssec.DenyType(name, ttl, own)
}

// appendDenialNSEC appends a compact denial's NSEC after its owner name:
// type, class, TTL, data length, the next name \000.<qname> (qname in
// wire form, lower-cased, uncompressed) and the bitmap of types (sorted,
// without duplicates).
func appendDenialNSEC(dst, qname []byte, ttl uint32, types []uint16) []byte {
	start := len(dst)
	dst = dnswire.AppendRRHeader(dst, dns.TypeNSEC, ttl, 0) // the data length is set below
	dst = append(dst, 1, 0)
	dst = dnswire.AppendLower(dst, qname) // LookupWire accepted it: no odd byte
	dst = appendTypeBitmap(dst, types)
	binary.BigEndian.PutUint16(dst[start+8:], uint16(len(dst)-start-10))
	return dst
}

// appendTypeBitmap appends the NSEC type bitmap of types, sorted and
// without duplicates (RFC 4034 section 4.1.2): per window of 256 types
// in use, its number, its length and the bits up to its last type.
func appendTypeBitmap(dst []byte, types []uint16) []byte {
	for i := 0; i < len(types); {
		window := types[i] >> 8
		var bits [32]byte
		n := 0
		for ; i < len(types) && types[i]>>8 == window; i++ {
			lo := types[i] & 0xff
			bits[lo/8] |= 0x80 >> (lo % 8)
			n = int(lo/8) + 1
		}
		dst = append(dst, byte(window), byte(n))
		dst = append(dst, bits[:n]...)
	}
	return dst
}
