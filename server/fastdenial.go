package server

import (
	"encoding/binary"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/server/dnswire"
	"github.com/glb-dns/glb/server/plan"
)

// The fast path's compact denial: a DO query (A or AAAA) of a signed zone
// for a name that does not exist, answered from bytes to bytes as the
// general path answers it (dnssecanswer.go's compactDenial): NOERROR, and
// in the authority section the negative SOA, its RRSIG, the NSEC at the
// name (next name \000.<name>, bitmap RRSIG NSEC NXNAME) and its RRSIG.
// Random names are what an attack on a signed zone sends, and each needs
// its own signature (signed once, then from the denials cache); the rest
// of the answer costs no message building or packing. A query with
// Compact Answers OK (NXDOMAIN and CO in the reply) and a zone without
// usable keys go the general way; one without DO is fastneg.go's.

// fastDenial answers pkt, a query for a name of zone z that z does not
// have, when it can; handled false means the general path must answer
// (and nothing was counted).
func (h *Handler) fastDenial(dst, pkt []byte, q *query, f *fastQuery, snap *plan.Snapshot, z *plan.Zone, now time.Time) (out []byte, handled bool) {
	if !f.do || f.co || !z.Signed {
		return dst, false
	}
	zs := snap.DNSSEC.For(z)
	if zs == nil {
		return dst, false // no usable keys: the general path answers SERVFAIL
	}
	soa, err := zs.NegSOA(z)
	if err != nil {
		return dst, false
	}
	nsec := dnssec.DenyName(string(f.name[:f.nameLen]), z.NegSOA.Hdr.Ttl)
	nsecWire, err := plan.PackAfterOwner(nsec)
	if err != nil {
		return dst, false
	}
	q.udpSize = dns.MinMsgSize
	if f.opt {
		q.udpSize = max(dns.MinMsgSize, min(f.udpSize, h.maxUDP))
	}
	sig := zs.Signer.MaxRRSIGLen()
	if !q.tcp && f.maxReply(0)+2+len(soa.Wire)+2+len(nsecWire)+2*sig > q.udpSize {
		return dst, false // might need truncation: the general path does it
	}

	// From here on the general path would answer the same way: the
	// decision's side effects happen here once.
	q.snap, q.qtype, q.ecs, q.zone, q.reason = snap, f.qtype, f.ecs, z.Label, ReasonNXDomain
	q.client = q.remote
	if q.ecs.Addr.IsValid() {
		q.client = q.ecs.Addr
	}
	if f.cookieAt > 0 {
		h.readCookie(q, pkt[f.cookieAt:f.cookieAt+f.cookieLen])
	}
	soaSig, err := zs.Answers.Wire(soa.Key, now, func() []dns.RR { return []dns.RR{z.NegSOA} })
	if err != nil {
		return dnswire.ServFail(dst, pkt)
	}
	// The NSEC is packed already: its key from those bytes (after type,
	// class, TTL and data length) is Key's.
	k := zs.Denials.KeyOne(nsec.Hdr.Name, dns.TypeNSEC, nsec.Hdr.Ttl, nsecWire[10:])
	nsecSig, err := zs.Denials.Wire(k, now, func() []dns.RR { return []dns.RR{nsec} })
	if err != nil {
		return dnswire.ServFail(dst, pkt)
	}

	flags := uint16(dnswire.FlagQR|dnswire.FlagAA) | f.flags&(dnswire.FlagRD|dnswire.FlagCD)
	dst = binary.BigEndian.AppendUint16(dst, f.id)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, 1)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, 4)
	dst = binary.BigEndian.AppendUint16(dst, 1) // the OPT: DO was set
	dst = append(dst, pkt[12:f.qEnd]...)
	// The apex is the question name's suffix: point at it.
	apex := uint16(f.qEnd - 4 - (len(z.Name) + 1))
	for _, rr := range [...]struct {
		owner uint16
		wire  []byte
	}{{apex, soa.Wire}, {apex, soaSig}, {12, nsecWire}, {12, nsecSig}} {
		dst = binary.BigEndian.AppendUint16(dst, 0xc000|rr.owner)
		dst = append(dst, rr.wire...)
	}
	return f.appendOPT(dst, q, &h.cookies), true
}
