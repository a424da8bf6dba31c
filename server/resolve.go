package server

import (
	"strings"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/plan"
)

// maxCNAMEChain bounds how many CNAMEs inside our zones one answer follows,
// so a loop configured by mistake costs a few lookups, not a hang.
const maxCNAMEChain = 8

// resolve fills m's sections for qname/qtype in zone z and returns the ECS
// scope of the answer. CNAMEs are followed while their targets stay in zones
// of this snapshot; the rcode is that of the last name (RFC 6604).
func (h *Handler) resolve(q *query, z *plan.Zone, qname string) {
	m, name := q.m, qname
	for range maxCNAMEChain {
		n := z.Nodes[name]
		if n == nil {
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, z.NegSOA)
			q.reason = ReasonNXDomain
			return
		}
		if n.CNAME != nil && q.qtype != dns.TypeCNAME {
			m.Answer = append(m.Answer, n.CNAME)
			q.reason = ReasonStatic
			target := strings.ToLower(n.CNAME.Target)
			next := q.snap.Match(target)
			if next == nil {
				return // out of our zones: the resolver follows it
			}
			z, name = next, target
			continue
		}
		h.answerNode(q, z, n)
		return
	}
}

// answerNode answers from an existing node: GSLB addresses, static data, or
// NODATA with the SOA.
func (h *Handler) answerNode(q *query, z *plan.Zone, n *plan.Node) {
	m, qtype := q.m, q.qtype
	if n.GSLB != nil && (qtype == dns.TypeA || qtype == dns.TypeAAAA) {
		h.answerGSLB(q, z, n.GSLB)
		return
	}
	q.reason = ReasonStatic
	switch {
	case qtype == dns.TypeCNAME && n.CNAME != nil:
		m.Answer = append(m.Answer, n.CNAME)
	case qtype == dns.TypeANY:
		// RFC 8482: a minimal answer instead of everything we have.
		m.Answer = append(m.Answer, &dns.HINFO{Hdr: plan.RRHeader(ownerOf(m), dns.TypeHINFO, z.NegSOA.Hdr.Ttl), Cpu: "RFC8482"})
	case len(n.RRsets[qtype]) == 0:
		m.Ns = append(m.Ns, z.NegSOA)
		q.reason = ReasonNoData
	default:
		rrs := n.RRsets[qtype]
		m.Answer = append(m.Answer, rrs...)
		if qtype == dns.TypeNS {
			m.Extra = append(m.Extra, z.Glue(rrs)...)
		}
	}
}

// ownerOf returns the name the last answer record should carry: the target
// of the last CNAME, or the question name.
func ownerOf(m *dns.Msg) string {
	for i := len(m.Answer) - 1; i >= 0; i-- {
		if c, ok := m.Answer[i].(*dns.CNAME); ok {
			return c.Target
		}
	}
	return strings.ToLower(m.Question[0].Name)
}
