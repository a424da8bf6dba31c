package server

import (
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// nameCounters are the counters a fast-path answer for one name touches,
// resolved once: looking a labelled counter up by its label values hashes
// the labels and takes a lock, a cost the fast path does not want to pay
// per query.
type nameCounters struct {
	answers  []prometheus.Counter     // by index in gslbName.regions
	noErrors [2][2]prometheus.Counter // [udp, tcp][A, AAAA]: glb_dns_queries_total with rcode NOERROR
}

// counters returns the resolved counters of g, creating them on first use.
func (h *Handler) counters(g *gslbName) *nameCounters {
	if c, ok := h.nameCounters.Load(g); ok {
		return c.(*nameCounters)
	}
	c := &nameCounters{}
	for _, r := range g.regions {
		c.answers = append(c.answers, h.metrics.answers.WithLabelValues(g.zone, g.label, r.id))
	}
	for i, transport := range []string{"udp", "tcp"} {
		for j, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
			c.noErrors[i][j] = h.metrics.queries.WithLabelValues(g.zone, qtypeLabel(qtype), rcodeLabel(dns.RcodeSuccess), transport)
		}
	}
	actual, _ := h.nameCounters.LoadOrStore(g, c)
	return actual.(*nameCounters)
}

// noError is the query counter for q's transport and type.
func (c *nameCounters) noError(q *query) prometheus.Counter {
	i, j := 0, 0
	if q.tcp() {
		i = 1
	}
	if q.qtype == dns.TypeAAAA {
		j = 1
	}
	return c.noErrors[i][j]
}
