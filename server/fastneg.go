package server

import (
	"encoding/binary"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/limit"
	"github.com/glb-dns/glb/server/plan"
)

// The fast path's unsigned denials: a query for a name of our zone that
// does not exist (NXDOMAIN) or for a type a name lacks (NODATA), answered
// from bytes to bytes as the general path answers it (resolve.go): the
// question as asked and the zone's negative SOA, packed when the
// configuration was built (plan.Zone.NegWire), with its owner pointing at
// the apex in the question. Random names are what resolvers send when
// they probe, and what a flood sends; they are a fifth of the loadtest's
// mix, and on the general path cost as much as the rest together.
//
// The ECS scope is the general path's for these answers: 0 for a name
// that is missing or has only static data (the denial holds for every
// client), the plan's scope for a GSLB name with no address of the type
// (fast.go). A reply that must be signed (DO, signed zone) goes to
// fastDenial or the general path.

// fastNegTypes are the query types the fast path parses: A and AAAA,
// which it answers, and the ordinary data types, which it may deny. Meta
// types (ANY, AXFR, IXFR, NXNAME), DNSKEY, CDS, CDNSKEY and DS go the
// general way, which answers them specially.
var fastNegTypes = [...]uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeNS, dns.TypeSOA, dns.TypeMX,
	dns.TypeTXT, dns.TypeSRV, dns.TypeCAA, dns.TypePTR, dns.TypeHTTPS, dns.TypeSVCB,
}

// fastNegType returns the index of t in fastNegTypes.
func fastNegType(t uint16) (int, bool) {
	for i, ft := range fastNegTypes {
		if ft == t {
			return i, true
		}
	}
	return 0, false
}

// addrType reports whether t is a type a GSLB name answers with addresses.
func addrType(t uint16) bool { return t == dns.TypeA || t == dns.TypeAAAA }

// fastNegative answers q, for a name of zone z that z does not have
// (rcode NXDOMAIN) or a type an existing name lacks (NOERROR: NODATA),
// unsigned; handled false means the general path must answer (and
// nothing was counted).
func (h *Handler) fastNegative(dst, pkt []byte, q *query, f *fastQuery, snap *plan.Snapshot, z *plan.Zone, rcode int) (out []byte, handled bool) {
	if !f.fitsNegative(z, q, h.maxUDP) {
		return dst, false
	}
	q.snap, q.qtype, q.ecs, q.zone = snap, f.qtype, f.ecs, z.Label
	q.reason = ReasonNoData
	if rcode == dns.RcodeNameError {
		q.reason = ReasonNXDomain
	}
	q.client = q.remote
	if q.ecs.Addr.IsValid() { // dnswire.ClientSubnet.Usable, without the call
		q.client = q.ecs.Addr
	}
	h.readFastCookie(q, f, pkt)
	q.fast, q.fastRcode, q.fastZone = true, rcode, z
	return f.writeNegative(dst, pkt, q, z, rcode, &h.cookies), true
}

// fitsNegative reports whether the denial of z can be written for q: the
// zone's negative SOA packed, and a reply that cannot need truncation
// over UDP. It sets q.udpSize.
func (f *fastQuery) fitsNegative(z *plan.Zone, q *query, maxUDP int) bool {
	q.udpSize = dns.MinMsgSize
	if f.opt {
		q.udpSize = max(dns.MinMsgSize, min(f.udpSize, maxUDP))
	}
	if z.NegWire.Wire == nil || len(z.Name) < 2 || f.nameLen < len(z.Name) {
		return false // the root zone's apex is no suffix to point at
	}
	return q.tcp || f.maxReply(0)+2+len(z.NegWire.Wire) <= q.udpSize
}

// readFastCookie reads the query's COOKIE option, when it has one (parse
// checked it is well-formed).
func (h *Handler) readFastCookie(q *query, f *fastQuery, pkt []byte) {
	if f.cookieAt > 0 {
		h.readCookie(q, pkt[f.cookieAt:f.cookieAt+f.cookieLen])
	}
}

// writeNegative appends the denial: the header with rcode, the question
// as asked, z's negative SOA owned by the apex (a pointer to it in the
// question name, as are the ends of its MNAME and RNAME when they are
// under the apex) and the OPT, in the general path's order.
func (f *fastQuery) writeNegative(dst, pkt []byte, q *query, z *plan.Zone, rcode int, cookies *limit.CookieSecrets) []byte {
	nOpt := uint16(0)
	if f.opt {
		nOpt = 1
	}
	dst = f.appendHeader(dst, pkt, rcode, 0, 1, nOpt)
	// The question name is f.name in wire form from offset 12; the apex
	// is its suffix (each label one length byte before its dot).
	apex := 0xc000 | uint16(12+f.nameLen-len(z.Name))
	dst = binary.BigEndian.AppendUint16(dst, apex)
	w := &z.NegWire
	at := len(dst)
	dst = append(dst, w.Wire...)
	if p := w.ApexAt[0]; p > 0 {
		binary.BigEndian.PutUint16(dst[at+p:], apex)
	}
	if p := w.ApexAt[1]; p > 0 {
		binary.BigEndian.PutUint16(dst[at+p:], apex)
	}
	return f.appendOPT(dst, pkt, q, cookies)
}
