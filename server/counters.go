package server

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/server/plan"
)

// nameCounters are the counters an answer for one name touches, resolved
// once: looking a labelled counter up by its label values hashes the labels
// and takes a lock, a cost the query path does not want to pay per query.
// They live outside the snapshot, in Handler.names, so a configuration
// change that leaves a name alone keeps its resolved counters.
type nameCounters struct {
	// answers are resolved on a region's first answer, not all at once:
	// with thousands of names, every name x region series would be
	// created up front, most of them never used.
	answers  []atomic.Pointer[prometheus.Counter] // by index in gslbName.regions
	totals   []*atomic.Uint64                     // answers per region over all names, for the status page
	noErrors [2][2]prometheus.Counter             // [udp, tcp][A, AAAA]: glb_dns_queries_total with rcode NOERROR
	// outcomes, drained and failOpen are resolved on first use too: an
	// outage makes every answer of a name count one.
	outcomes [len(plan.OutcomeNames)]atomic.Pointer[prometheus.Counter]
	drained  atomic.Pointer[prometheus.Counter]
	failOpen atomic.Pointer[prometheus.Counter]
}

// nameKey identifies a name's counters: its zone, label and regions in
// order (the answers are indexed by region), so a name whose regions
// change gets fresh counters.
type nameKey struct{ zone, label, regions string }

func keyOf(g *plan.Name) nameKey {
	k := nameKey{zone: g.Zone, label: g.Label}
	for _, r := range g.Regions {
		k.regions += r.ID + " "
	}
	return k
}

// linkCounters gives every name of a newly built configuration its
// counters: the ones it had, or new ones, and forgets those of names that
// are gone. It runs off the query path, under h.mu, before the swap.
func (h *Handler) linkCounters(cfg *plan.Config) {
	names := make(map[nameKey]*nameCounters, len(cfg.Names))
	for _, g := range cfg.Names {
		k := keyOf(g)
		c := h.names[k]
		if c == nil {
			c = names[k]
		}
		if c == nil {
			c = h.newCounters(g)
		}
		names[k], g.Counters = c, c
	}
	h.names = names
	zones := make(map[string]*zoneCounters, len(cfg.Zones))
	for _, z := range cfg.Zones {
		c := h.zones[z.Label]
		if c == nil {
			c = &zoneCounters{}
		}
		zones[z.Label], z.Counters = c, c
	}
	h.zones = zones
}

// counters returns the counters of g: linked by the snapshot's owner; a
// name of a snapshot never served (Explain's what-if) has none linked,
// and counts nowhere shared.
func (h *Handler) counters(g *plan.Name) *nameCounters {
	if c, ok := g.Counters.(*nameCounters); ok {
		return c
	}
	return h.newCounters(g)
}

// newCounters resolves the counters of g that are resolved up front.
func (h *Handler) newCounters(g *plan.Name) *nameCounters {
	c := &nameCounters{answers: make([]atomic.Pointer[prometheus.Counter], len(g.Regions))}
	for _, r := range g.Regions {
		c.totals = append(c.totals, h.regionTotal(r.ID))
	}
	for i, transport := range []string{"udp", "tcp"} {
		for j, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
			c.noErrors[i][j] = h.metrics.queries.WithLabelValues(g.Zone, qtypeLabel(qtype), rcodeLabel(dns.RcodeSuccess), transport)
		}
	}
	return c
}

// countAnswers counts n answers of g (whose counters c are) from its
// region i.
func (c *nameCounters) countAnswers(h *Handler, g *plan.Name, i uint8, n int) {
	p := c.answers[i].Load()
	if p == nil {
		ctr := h.metrics.answers.WithLabelValues(g.Zone, h.nameLabel(g), g.Regions[i].ID)
		p = &ctr
		c.answers[i].Store(p)
	}
	(*p).Add(float64(n))
	c.totals[i].Add(uint64(n))
}

// allNames is the name label of answers and outcomes counted per zone.
const allNames = "*"

// nameLabel is g's value of the name label: its name, or allNames when
// counting per zone.
func (h *Handler) nameLabel(g *plan.Name) string {
	if h.perZone {
		return allNames
	}
	return g.Label
}

// countOutcome counts outcome o of an answer of g (whose counters c are),
// an outcome other than the policy's own.
func (c *nameCounters) countOutcome(h *Handler, g *plan.Name, o plan.Outcome) {
	p := c.outcomes[o].Load()
	if p == nil {
		ctr := h.metrics.outcomes.WithLabelValues(g.Zone, h.nameLabel(g), o.String())
		p = &ctr
		c.outcomes[o].Store(p)
	}
	(*p).Inc()
	var extra *atomic.Pointer[prometheus.Counter]
	var vec *prometheus.CounterVec
	switch o {
	case plan.OutcomeDrained:
		extra, vec = &c.drained, h.metrics.drained
	case plan.OutcomeFailOpen:
		extra, vec = &c.failOpen, h.metrics.failOpen
	default:
		return
	}
	p = extra.Load()
	if p == nil {
		ctr := vec.WithLabelValues(g.Zone, h.nameLabel(g))
		p = &ctr
		extra.Store(p)
	}
	(*p).Inc()
}

// noError is the query counter for q's transport and type.
func (c *nameCounters) noError(q *query) prometheus.Counter {
	i, j := 0, 0
	if q.tcp {
		i = 1
	}
	if q.qtype == dns.TypeAAAA {
		j = 1
	}
	return c.noErrors[i][j]
}

// regionTotals counts answers per region over all names: cheap to read for
// the status page, which would otherwise gather every name x region series.
type regionTotals struct {
	mu sync.Mutex
	m  map[string]*atomic.Uint64
}

func (h *Handler) regionTotal(id string) *atomic.Uint64 {
	h.totals.mu.Lock()
	defer h.totals.mu.Unlock()
	if h.totals.m == nil {
		h.totals.m = map[string]*atomic.Uint64{}
	}
	t := h.totals.m[id]
	if t == nil {
		t = new(atomic.Uint64)
		h.totals.m[id] = t
	}
	return t
}

// AnswersByRegion returns how many GSLB answers each region has given since
// the process started, over all names.
func (h *Handler) AnswersByRegion() map[string]uint64 {
	h.totals.mu.Lock()
	m := maps.Clone(h.totals.m)
	h.totals.mu.Unlock()
	out := make(map[string]uint64, len(m))
	for id, t := range m {
		out[id] = t.Load()
	}
	return out
}

// countQuery counts an answered query: glb_dns_queries_total, and for a
// GSLB name the decision recordOutcome and recordAnswer noted (outcomes
// other than the policy's own, the answer per region). Only the serving
// pipeline (finish) calls it, so Explain, which runs the same answer path,
// counts nothing. A fast-path query uses its name's counters resolved
// once, not a labelled lookup.
func (h *Handler) countQuery(q *query, qtype uint16, rcode int) {
	if g := q.gslb; g != nil {
		c := h.counters(g)
		if q.outcome != plan.OutcomeNormal {
			c.countOutcome(h, g, q.outcome)
		}
		if q.fast && q.reader != nil && !q.tcp {
			q.reader.tally.add(h, q) // the answer and NOERROR, per batch
			return
		}
		if q.answered {
			c.countAnswers(h, g, q.drawn, 1)
		}
		if q.fast {
			c.noError(q).Inc()
			return
		}
	}
	if q.fast && q.fastZone != nil {
		if c, ok := q.fastZone.Counters.(*zoneCounters); ok {
			if ctr := c.query(h, q, qtype, rcode); ctr != nil {
				ctr.Inc()
				return
			}
		}
	}
	h.metrics.queries.WithLabelValues(q.zone, qtypeLabel(qtype), rcodeLabel(rcode), q.transport).Inc()
}

// zoneCounters are the glb_dns_queries_total series of one zone that the
// fast path's denials count, resolved on first use: a denial names no
// GSLB name, so it has no name's counters, and a labelled lookup per
// query allocates.
type zoneCounters struct {
	queries [2][2][len(fastNegTypes)]atomic.Pointer[prometheus.Counter] // [udp, tcp][NOERROR, NXDOMAIN][fastNegTypes]
}

// query returns the counter of q's transport, qtype and rcode; nil for
// an rcode or type it does not keep.
func (c *zoneCounters) query(h *Handler, q *query, qtype uint16, rcode int) prometheus.Counter {
	i, j := 0, 0
	if q.tcp {
		i = 1
	}
	switch rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		j = 1
	default:
		return nil
	}
	k, ok := fastNegType(qtype)
	if !ok {
		return nil
	}
	p := c.queries[i][j][k].Load()
	if p == nil {
		ctr := h.metrics.queries.WithLabelValues(q.zone, qtypeLabel(qtype), rcodeLabel(rcode), q.transport)
		p = &ctr
		c.queries[i][j][k].Store(p)
	}
	return *p
}
