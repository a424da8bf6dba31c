package server

import (
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/server/explain"
	"github.com/glb-dns/glb/server/plan"
)

// The DNSSEC side of the general path. Queries with DO set for a signed
// zone never take the fast path (fast.go declines them); queries without
// DO are answered exactly as before, signed zone or not.

// answerKeyTypes answers the types only a signed zone has, DNSKEY, CDS
// and CDNSKEY at the apex, and FORMERR to a query of the NXNAME
// pseudo-type (RFC 9824 section 3.5). handled false: resolve answers.
func (h *Handler) answerKeyTypes(q *query, z *plan.Zone, qname string) (handled bool) {
	m := q.m
	if rcode, ok := dnssec.QueryRcode(q.qtype); !ok {
		m.Rcode, m.Authoritative = rcode, false
		q.reason = ReasonInvalid
		return true
	}
	zs := q.snap.DNSSEC.For(z)
	if zs == nil || qname != z.Name {
		return false
	}
	var rrs []dns.RR
	switch q.qtype {
	case dns.TypeDNSKEY:
		rrs = zs.Signer.DNSKEY()
	case dns.TypeCDS:
		rrs = zs.Signer.CDS()
	case dns.TypeCDNSKEY:
		rrs = zs.Signer.CDNSKEY()
	default:
		return false
	}
	q.reason = ReasonStatic
	if len(rrs) == 0 {
		m.Ns = append(m.Ns, z.NegSOA)
		q.reason = ReasonNoData
		return true
	}
	m.Answer = append(m.Answer, rrs...)
	return true
}

// signReply adds the RRSIGs to q.m and turns its denials into compact
// denials, for a query with DO set. RRsets of zones that are not signed
// stay as they are. A signed zone without usable keys gets SERVFAIL rather
// than an answer a validator would take as bogus (or, worse, an insecure
// one it could not tell from an attack): see README "DNSSEC".
func (h *Handler) signReply(q *query, opt *dns.OPT) {
	m := q.m
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return
	}
	final := q.snap.Match(strings.ToLower(ownerOf(m)))
	if final != nil && final.Signed {
		if !h.compactDenial(q, final, opt) {
			return
		}
	}
	var ok bool
	if m.Answer, ok = h.signSection(q, m.Answer); !ok {
		return
	}
	m.Ns, _ = h.signSection(q, m.Ns)
	m.Extra = signGlue(q, m.Extra)
}

// signGlue returns the additional section with an RRSIG after each A and
// AAAA RRset of an in-zone name server: authoritative data of a signed
// zone, which RFC 4035 section 3.1.1 asks to be signed. Glue below a zone
// cut (a delegation's) is not the zone's data and stays unsigned, and so
// do other records (the OPT). A signature that cannot be made leaves its
// RRset unsigned: the additional section is optional, the answer is not.
func signGlue(q *query, extra []dns.RR) []dns.RR {
	if !slices.ContainsFunc(extra, func(rr dns.RR) bool { t := rr.Header().Rrtype; return t == dns.TypeA || t == dns.TypeAAAA }) {
		return extra // the OPT alone, most of the time
	}
	var out []dns.RR
	for i := 0; i < len(extra); {
		hd, j := extra[i].Header(), rrsetEnd(extra, i)
		out = append(out, extra[i:j]...)
		if hd.Rrtype == dns.TypeA || hd.Rrtype == dns.TypeAAAA {
			owner := strings.ToLower(hd.Name)
			z := q.snap.Match(owner)
			if zs := q.snap.DNSSEC.For(z); zs != nil && z.Signed && !z.BelowCut(owner) {
				if k, err := zs.Answers.Key(extra[i:j]); err == nil {
					if sigs, err := zs.Answers.Sigs(k, extra[i:j]); err == nil && len(sigs) > 0 {
						out = append(out, sigs[0])
					}
				}
			}
		}
		i = j
	}
	return out
}

// compactDenial rewrites a NXDOMAIN or NODATA of zone z (RFC 9824): the
// negative SOA stays, and one NSEC at the denied name says what it has.
// It returns false when it answered SERVFAIL.
func (h *Handler) compactDenial(q *query, z *plan.Zone, opt *dns.OPT) bool {
	m := q.m
	if !hasNegSOA(m, z) {
		return true // not a denial (an answer out of zone, say)
	}
	zs := q.snap.DNSSEC.For(z)
	if zs == nil {
		h.unsignedServFail(q, z)
		return false
	}
	name := ownerOf(m)
	ttl := z.NegSOA.Hdr.Ttl
	var nsec *dns.NSEC
	cache := zs.Answers
	if m.Rcode == dns.RcodeNameError {
		nsec, cache = dnssec.DenyName(name, ttl), zs.Denials
		rcode, co := dnssec.DenialRcode(opt)
		m.Rcode = rcode
		if co {
			m.IsEdns0().SetCo()
		}
	} else {
		nsec = dnssec.DenyType(name, ttl, nodeTypes(zs, z, z.Nodes[strings.ToLower(name)], name == z.Name, q.qtype))
	}
	sig, ok := h.sigOf(q, zs, cache, []dns.RR{nsec})
	if !ok {
		return false
	}
	m.Ns = append(m.Ns, nsec, sig)
	return true
}

func hasNegSOA(m *dns.Msg, z *plan.Zone) bool {
	for _, rr := range m.Ns {
		if rr == z.NegSOA {
			return true
		}
	}
	return false
}

// nodeTypes returns the types of a denial's bitmap for name n: its static
// types, CNAME, A and AAAA when the name is a GSLB name with addresses of
// that family, the apex's key types; never the type denied, so the bitmap
// tells the truth about this answer whatever health or drains decided.
func nodeTypes(zs *plan.ZoneSigning, z *plan.Zone, n *plan.Node, apex bool, denied uint16) []uint16 {
	types := appendNodeTypes(nil, zs, n, apex, denied)
	slices.Sort(types)
	return slices.Compact(types)
}

// appendNodeTypes appends nodeTypes' types to dst, unsorted and maybe
// repeated; the fast path's denials (fastdenial.go) call it with an array
// of their own.
func appendNodeTypes(dst []uint16, zs *plan.ZoneSigning, n *plan.Node, apex bool, denied uint16) []uint16 {
	start := len(dst)
	if n != nil {
		for t, rrs := range n.RRsets {
			if len(rrs) > 0 {
				dst = append(dst, t)
			}
		}
		if n.CNAME != nil {
			dst = append(dst, dns.TypeCNAME)
		}
		if n.GSLB != nil {
			v4, v6 := n.GSLB.Families()
			if v4 {
				dst = append(dst, dns.TypeA)
			}
			if v6 {
				dst = append(dst, dns.TypeAAAA)
			}
		}
	}
	if apex {
		dst = zs.Signer.AppendApexTypes(dst)
	}
	out := dst[:start]
	for _, t := range dst[start:] {
		if t != denied {
			out = append(out, t)
		}
	}
	return out
}

// signSection returns sec with an RRSIG after each RRset of a signed zone
// (records of one owner and type in a row). It returns false when it
// answered SERVFAIL.
func (h *Handler) signSection(q *query, sec []dns.RR) ([]dns.RR, bool) {
	if len(sec) == 0 {
		return sec, true
	}
	out := make([]dns.RR, 0, len(sec)+4)
	for i := 0; i < len(sec); {
		hd, j := sec[i].Header(), rrsetEnd(sec, i)
		out = append(out, sec[i:j]...)
		if hd.Rrtype != dns.TypeRRSIG && hd.Rrtype != dns.TypeNSEC {
			z := q.snap.Match(strings.ToLower(hd.Name))
			if z != nil && z.Signed {
				zs := q.snap.DNSSEC.For(z)
				if zs == nil {
					h.unsignedServFail(q, z)
					return nil, false
				}
				sig, ok := h.sigOf(q, zs, zs.Answers, sec[i:j])
				if !ok {
					return nil, false
				}
				out = append(out, sig)
			}
		}
		i = j
	}
	return out, true
}

// rrsetEnd returns the end of the RRset that starts at sec[i]: the
// records of its owner and type that follow it in a row.
func rrsetEnd(sec []dns.RR, i int) int {
	hd := sec[i].Header()
	j := i + 1
	for j < len(sec) && sec[j].Header().Rrtype == hd.Rrtype && strings.EqualFold(sec[j].Header().Name, hd.Name) {
		j++
	}
	return j
}

// sigOf returns the RRSIG of rrset from cache, or answers SERVFAIL.
func (h *Handler) sigOf(q *query, zs *plan.ZoneSigning, cache *dnssec.Cache, rrset []dns.RR) (dns.RR, bool) {
	k, err := cache.Key(rrset)
	var sigs []dns.RR
	if err == nil {
		sigs, err = cache.Sigs(k, rrset)
	}
	if err != nil || len(sigs) == 0 {
		// Cannot happen with a checked key and a well-formed RRset; a
		// wrong answer is worse than none.
		servFailKeepOPT(q.m)
		return nil, false
	}
	return sigs[0], true
}

// unsignedServFail answers SERVFAIL to a DO query for a zone that says it
// is signed but has no usable keys, keeping the OPT record.
func (h *Handler) unsignedServFail(q *query, z *plan.Zone) {
	servFailKeepOPT(q.m)
	q.reason = ReasonUnsigned
	h.metrics.dnssec.servfail.WithLabelValues(z.Label).Inc()
}

// servFailKeepOPT turns m into a SERVFAIL with no records but its OPT.
func servFailKeepOPT(m *dns.Msg) {
	m.Rcode, m.Authoritative = dns.RcodeServerFailure, false
	m.Answer, m.Ns = nil, nil
	var extra []dns.RR
	if o := m.IsEdns0(); o != nil {
		extra = []dns.RR{o}
	}
	m.Extra = extra
}

// ReasonUnsigned is the reason of a DO query answered SERVFAIL because its
// signed zone has no usable keys.
const ReasonUnsigned = "dnssec_no_keys"

// explainDNSSEC says whether DO answers of zone z are signed, and with
// which key; nil for a zone that is not signed.
func explainDNSSEC(snap *plan.Snapshot, z *plan.Zone) *explain.DNSSEC {
	if z == nil || !z.Signed {
		return nil
	}
	zs := snap.DNSSEC.For(z)
	if zs == nil {
		return &explain.DNSSEC{Reason: "the zone says dnssec but has no usable keys: DO queries get SERVFAIL"}
	}
	return &explain.DNSSEC{Signed: true, KeyTag: dataKeyTag(zs.Signer), Algorithm: zs.Signer.Keys().Algorithm}
}
