package server

import (
	"encoding/binary"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnswire"
	"github.com/glb-dns/glb/server/limit"
	"github.com/glb-dns/glb/server/plan"
)

// The fast path answers the query shape that nearly all traffic has — one
// question for a GSLB name, A or AAAA, class IN, at most one OPT (version
// 0) with an ECS option — from bytes to bytes, with no dns.Msg and no
// allocation. Anything it does not fully understand it declines, and the
// general path answers instead; so the fast path may be conservative, but
// when it answers it must answer exactly as the general path would.

// maxFastName bounds the names the fast path handles; longer ones go the
// general way.
const maxFastName = 255

// fastQuery is what the fast path parses out of a packet.
type fastQuery struct {
	id, flags uint16
	// The question name is pkt[12:nameEnd] in wire form, as asked;
	// nameLen is the length of its presentation form (trailing dot).
	nameEnd, nameLen int
	qEnd             int // end of the question section in the packet
	qtype            uint16
	opt              bool
	do               bool
	co               bool // Compact Answers OK (RFC 9824)
	echoCO           bool // the reply echoes CO: a compact NXDOMAIN (fastdenial.go)
	udpSize          int
	ecs              dnswire.ClientSubnet
	ecsAt            int // offset of the ECS address octets in the packet
	cookieAt         int // offset of the COOKIE option's data in the packet, 0 if none
	cookieLen        int
}

// fastAnswer answers pkt, received at now, into dst when it can; handled
// false means the general path must answer (and nothing was counted).
func (h *Handler) fastAnswer(dst, pkt []byte, q *query, now time.Time) (out []byte, handled bool) {
	if q.observe || h.noFast {
		return dst, false // observers get the query and reply as messages
	}
	var f fastQuery
	if !f.parse(pkt) {
		return dst, false
	}
	snap := h.snap.Load()
	if snap == nil {
		return dst, false
	}
	z, n, ok := snap.LookupWire(pkt[12:f.nameEnd])
	if !ok || z == nil {
		return dst, false
	}
	signed := f.do && z.Signed // the answer must be signed (or SERVFAIL)
	switch {
	case n == nil && signed:
		return h.fastDenial(dst, pkt, q, &f, snap, z, nil, nil, nil, now) // fastdenial.go
	case n == nil:
		return h.fastNegative(dst, pkt, q, &f, snap, z, dns.RcodeNameError) // fastneg.go
	case n.CNAME != nil:
		return dst, false
	case n.GSLB == nil || !addrType(f.qtype):
		if len(n.RRsets[f.qtype]) > 0 {
			return dst, false // static data: the general path
		}
		if signed {
			return h.fastDenial(dst, pkt, q, &f, snap, z, n, nil, nil, now)
		}
		return h.fastNegative(dst, pkt, q, &f, snap, z, dns.RcodeSuccess)
	}
	g := n.GSLB
	zs, keys, signs := fastSigning(snap, z, g, f.do)
	if !signs {
		return dst, false // a signed zone without usable keys: the general path answers SERVFAIL
	}
	q.snap, q.qtype, q.ecs, q.zone = snap, f.qtype, f.ecs, z.Label
	q.udpSize = dns.MinMsgSize
	if f.opt {
		q.udpSize = max(dns.MinMsgSize, min(f.udpSize, h.maxUDP))
	}
	if !q.tcp && f.maxReply(g.Answers)+sigRoom(zs, keys) > q.udpSize {
		return dst, false // might need truncation: the general path does it
	}
	q.client = q.remote
	if q.ecs.Addr.IsValid() { // dnswire.ClientSubnet.Usable, without the call
		q.client = q.ecs.Addr
	}
	// The scope table holds the plan of the client's network ready-made:
	// no GeoIP lookup and no ranking per query. Without a table (not built
	// yet, or an address the database aliases), decide as the general path.
	var p plan.Plan
	pin, pinBits, havePlan := g.Pins.Find(q.client)
	if havePlan {
		p, q.scope = g.PinPlan(q.qtype, pin, snap.Health, nil), max(pinBits, g.StickyBits(q.client))
	} else if t := snap.TableFor(g, q.qtype); t != nil {
		var tp *plan.Plan
		var bits int
		if tp, bits, havePlan = t.Lookup(q.client); havePlan {
			p, q.scope = *tp, max(bits, g.StickyBits(q.client), snap.Health.ShedBits(q.client))
		}
	}
	if !havePlan {
		loc, network, found := h.geo.Lookup(q.client)
		p = g.Plan(q.qtype, loc, found, snap.Health)
		q.scope = h.scopeBits(q, g, network)
	}
	q.scope = max(q.scope, pinBits) // an unpinned client's scope stays clear of pinned networks
	switch p.Outcome {
	case plan.OutcomeNormal, plan.OutcomeFailOpen, plan.OutcomeFallback, plan.OutcomePanic:
	case plan.OutcomeNone, plan.OutcomeDrained, plan.OutcomeNoData:
		if zs != nil {
			return h.fastDenial(dst, pkt, q, &f, snap, z, n, g, &p, now)
		}
		if !f.fitsNegative(z, q, h.maxUDP) {
			return dst, false // might need truncation: the general path does it
		}
		h.readFastCookie(q, &f, pkt)
		q.recordOutcome(g, &p)
		q.fast = true
		return f.writeNegative(dst, pkt, q, z, dns.RcodeSuccess, &h.cookies), true
	default:
		return dst, false // SERVFAIL: the general path
	}

	// From here on the general path would answer the same way, so the
	// decision's side effects (draws, counters) happen here once.
	h.readFastCookie(q, &f, pkt)
	h.answerPlan(q, g, &p)
	q.fast = true // finish counts it with the name's resolved counters
	sig, ok := fastSig(zs, keys, g, q, now)
	if !ok {
		return dnswire.ServFail(dst, pkt)
	}
	return f.writeReply(dst, pkt, q, &h.cookies, sig), true
}

// maxReply bounds the size of a reply with n addresses.
func (f *fastQuery) maxReply(n int) int {
	size := f.qEnd + n*(12+16)
	if f.opt {
		size += 11 + 8 + 16
	}
	if f.cookieAt > 0 {
		size += 4 + limit.ClientCookieLen + limit.ServerCookieLen
	}
	return size
}

// parse reads the header, the question and an optional OPT. It accepts only
// what it fully understands.
func (f *fastQuery) parse(pkt []byte) bool {
	if len(pkt) < 12 {
		return false
	}
	// A query (QR 0), opcode QUERY, no rcode bits, one question, nothing in
	// answer and authority, at most the OPT in additional. The counts are
	// read as one 64-bit word: QD 1, AN 0, NS 0, AR 0 or 1.
	f.id, f.flags = binary.BigEndian.Uint16(pkt), binary.BigEndian.Uint16(pkt[2:])
	if counts := binary.BigEndian.Uint64(pkt[4:]); f.flags&(dnswire.FlagQR|0x7800|0xf) != 0 || counts&^1 != 1<<48 {
		return false
	}
	// The name is only measured: it is looked up as it is in the packet
	// (plan.Snapshot.LookupWire), which also declines bytes that would
	// need escaping in presentation form.
	off := 12
	for {
		if off >= len(pkt) {
			return false
		}
		l := int(pkt[off])
		off += 1 + l
		if l == 0 {
			break
		}
		if l > 63 || off > len(pkt) {
			return false // compression pointers: general path
		}
	}
	f.nameEnd, f.nameLen = off, off-13
	if f.nameLen == 0 || f.nameLen > maxFastName || off+4 > len(pkt) {
		return false
	}
	f.qtype = binary.BigEndian.Uint16(pkt[off:])
	class := binary.BigEndian.Uint16(pkt[off+2:])
	off += 4
	f.qEnd = off
	if _, ok := fastNegType(f.qtype); class != dns.ClassINET || !ok {
		return false // A and AAAA, or a type that may be denied (fastneg.go)
	}
	if pkt[11] == 1 { // ARCOUNT 1
		var ok bool
		if off, ok = f.parseOPT(pkt, off); !ok {
			return false
		}
	}
	return off == len(pkt)
}

// parseOPT reads an OPT record at off: root owner, version 0, no extended
// rcode, and options of which only ECS and COOKIE are read (others are
// ignored, as the general path ignores them). A malformed or repeated
// COOKIE goes to the general path, which answers FORMERR.
func (f *fastQuery) parseOPT(pkt []byte, off int) (int, bool) {
	if off+11 > len(pkt) || pkt[off] != 0 || binary.BigEndian.Uint16(pkt[off+1:]) != dns.TypeOPT {
		return 0, false
	}
	f.opt = true
	f.udpSize = int(binary.BigEndian.Uint16(pkt[off+3:]))
	ttl := binary.BigEndian.Uint32(pkt[off+5:])
	if ttl>>16 != 0 { // extended rcode or version: general path (BADVERS)
		return 0, false
	}
	f.do = ttl&(1<<15) != 0
	f.co = ttl&(1<<14) != 0
	rdlen := int(binary.BigEndian.Uint16(pkt[off+9:]))
	off += 11
	end := off + rdlen
	if end > len(pkt) {
		return 0, false
	}
	for off < end {
		if off+4 > end {
			return 0, false
		}
		code := binary.BigEndian.Uint16(pkt[off:])
		olen := int(binary.BigEndian.Uint16(pkt[off+2:]))
		off += 4
		if off+olen > end {
			return 0, false
		}
		if code == dns.EDNS0SUBNET {
			if f.ecs.Present {
				return 0, false
			}
			var err error
			// What dnswire.ParseECS rejects the general path answers FORMERR,
			// with the same parser.
			if f.ecs, err = dnswire.ParseECS(pkt[off : off+olen]); err != nil || f.ecs.Family == 0 {
				return 0, false
			}
			f.ecsAt = off + 4
		}
		if code == dns.EDNS0COOKIE {
			if f.cookieAt > 0 || !limit.CookieOK(olen) {
				return 0, false
			}
			f.cookieAt, f.cookieLen = off, olen
		}
		off += olen
	}
	return end, true
}

// writeReply appends the reply: header, the question as asked, the answers
// with their owner compressed to the question name, and the OPT with the
// ECS scope and our cookie, in the general path's order.
// sig, when not nil, is the answers' RRSIG from its type on (fastdnssec.go).
func (f *fastQuery) writeReply(dst, pkt []byte, q *query, cookies *limit.CookieSecrets, sig []byte) []byte {
	nOpt := uint16(0)
	if f.opt {
		nOpt = 1
	}
	nAns := q.nFastAns
	if sig != nil {
		nAns++
	}
	dst = f.appendHeader(dst, pkt, dns.RcodeSuccess, uint16(nAns), 0, nOpt)
	for _, a := range q.fastAns[:q.nFastAns] {
		dst = append(dst, 0xc0, 12) // pointer to the question name
		dst = append(dst, a.Wire()...)
	}
	if sig != nil {
		dst = append(dst, 0xc0, 12)
		dst = append(dst, sig...)
	}
	return f.appendOPT(dst, pkt, q, cookies)
}

// appendHeader appends the reply's header, authoritative, with rcode
// and the counts of its sections, and the question as asked.
func (f *fastQuery) appendHeader(dst, pkt []byte, rcode int, an, ns, ar uint16) []byte {
	flags := uint16(dnswire.FlagQR|dnswire.FlagAA) | f.flags&(dnswire.FlagRD|dnswire.FlagCD) | uint16(rcode)
	dst = binary.BigEndian.AppendUint16(dst, f.id)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, 1)
	dst = binary.BigEndian.AppendUint16(dst, an)
	dst = binary.BigEndian.AppendUint16(dst, ns)
	dst = binary.BigEndian.AppendUint16(dst, ar)
	return append(dst, pkt[12:f.qEnd]...)
}

// appendOPT appends the reply's OPT record, when the query had one: DO
// echoed, the ECS option with the answer's scope, and our cookie.
func (f *fastQuery) appendOPT(dst, pkt []byte, q *query, cookies *limit.CookieSecrets) []byte {
	if f.opt {
		dst = append(dst, 0) // root owner
		dst = binary.BigEndian.AppendUint16(dst, dns.TypeOPT)
		dst = binary.BigEndian.AppendUint16(dst, dnswire.UDPSize)
		var ttl uint32
		if f.do {
			ttl = 1 << 15
		}
		if f.echoCO {
			ttl |= 1 << 14
		}
		dst = binary.BigEndian.AppendUint32(dst, ttl)
		n := (int(f.ecs.Source) + 7) / 8 // address octets, as in the query
		rdlen := 0
		if f.ecs.Present {
			rdlen += 8 + n
		}
		if q.cookie.Present {
			rdlen += 4 + limit.ClientCookieLen + limit.ServerCookieLen
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(rdlen))
		if f.ecs.Present {
			dst = binary.BigEndian.AppendUint16(dst, dns.EDNS0SUBNET)
			dst = binary.BigEndian.AppendUint16(dst, uint16(4+n))
			dst = binary.BigEndian.AppendUint16(dst, f.ecs.Family)
			dst = append(dst, f.ecs.Source, uint8(f.ecs.ScopeFor(q.scope)))
			// The address octets as asked: ParseECS checked there are
			// exactly n, with no bit set beyond the prefix.
			dst = append(dst, pkt[f.ecsAt:f.ecsAt+n]...)
		}
		if q.cookie.Present {
			dst = binary.BigEndian.AppendUint16(dst, dns.EDNS0COOKIE)
			dst = binary.BigEndian.AppendUint16(dst, limit.ClientCookieLen+limit.ServerCookieLen)
			dst = cookies.Append(dst, &q.cookie.Client, q.remote, q.cookie.Now)
		}
	}
	return dst
}
