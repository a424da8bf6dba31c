package server

import (
	"net/netip"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/plan"
)

// answerGSLB answers a GSLB name: plan (location and health), then the
// per-query draw inside the tier, then the addresses.
func (h *Handler) answerGSLB(q *query, z *plan.Zone, g *plan.Name) {
	m := q.m
	p, pc := h.planFor(q, g)
	q.recordOutcome(g, &p)
	switch p.Outcome {
	case plan.OutcomeNone, plan.OutcomeDrained, plan.OutcomeNoData:
		m.Ns = append(m.Ns, z.NegSOA)
		q.scope = h.planScope(q, g, pc)
		return
	case plan.OutcomeServFail:
		m.Rcode, m.Authoritative = dns.RcodeServerFailure, false
		return
	}

	h.answerPlan(q, g, &p)
	q.scope = h.planScope(q, g, pc)
}

// planCtx is what the scope of a plan made by planFor depends on.
type planCtx struct {
	pinned  bool
	pinBits int          // pinned: the pinned range's width; else the bound that keeps clear of pinned ranges
	network netip.Prefix // the GeoIP network, unpinned
}

// planFor plans q for g: the pin's regions for a pinned client, else by
// its GeoIP location.
func (h *Handler) planFor(q *query, g *plan.Name) (plan.Plan, planCtx) {
	pin, pinBits, pinned := g.Pins.Find(q.client)
	if pinned {
		return g.PinPlan(q.qtype, pin, q.snap.Health, nil), planCtx{pinned: true, pinBits: pinBits}
	}
	loc, network, found := h.geo.Lookup(q.client)
	return g.Plan(q.qtype, loc, found, q.snap.Health), planCtx{pinBits: pinBits, network: network}
}

// planScope is the scope of an answer planned by planFor.
func (h *Handler) planScope(q *query, g *plan.Name, pc planCtx) int {
	if pc.pinned {
		return max(pc.pinBits, g.StickyBits(q.client))
	}
	return max(h.scopeBits(q, g, pc.network), pc.pinBits)
}

// answerPlan notes the plan's outcome on q, draws the region and adds its
// addresses: the step both answer paths share once the plan says to
// answer with addresses.
func (h *Handler) answerPlan(q *query, g *plan.Name, p *plan.Plan) {
	q.recordOutcome(g, p)
	q.recordAnswer(g, h.pickAnswers(q, g, p))
}

// recordOutcome sets q's reason and decision from the plan. Both answer
// paths call it; the counting happens later, in countDecision, which only
// the serving pipeline calls, so that Explain can run this code and count
// nothing.
func (q *query) recordOutcome(g *plan.Name, p *plan.Plan) {
	q.gslb, q.outcome, q.answered = g, p.Outcome, false
	q.reason = g.Policy
	if p.Outcome != plan.OutcomeNormal {
		q.reason = p.Outcome.String()
	}
}

// recordAnswer notes that q was answered from region first of g.
func (q *query) recordAnswer(g *plan.Name, first uint8) {
	q.region, q.drawn, q.answered = g.Regions[first].ID, first, true
}

// pickAnswers draws the region and adds its addresses (and spread ones) to
// q's answer, returning the region drawn. The draw is plan's (Name.Pick),
// the same for both paths, so their answers cannot differ; a reply built as
// a message gets copies owned by the name.
func (h *Handler) pickAnswers(q *query, g *plan.Name, p *plan.Plan) uint8 {
	intn := h.intn
	if q.reader != nil {
		intn = q.reader.intn
	}
	n, first := g.Pick(p, q.qtype, q.client, q.snap.Health, intn, q.fastAns[:])
	if q.m == nil {
		q.nFastAns = n
		return first
	}
	for _, a := range q.fastAns[:n] {
		rr := dns.Copy(a.RR) // the name's own record is shared: copy before setting the owner
		rr.Header().Name = g.Owner
		q.m.Answer = append(q.m.Answer, rr)
	}
	return first
}

// scopeBits returns the width of the network the answer to q holds for:
// from the scope table when it is ready, else the GeoIP network when the
// name's plan can depend on the location, else 0; never wider than the
// sticky subnet for sticky names, nor than the shedding subnet while a
// region sheds.
func (h *Handler) scopeBits(q *query, g *plan.Name, network netip.Prefix) int {
	bits := 0
	if t := q.snap.TableFor(g, q.qtype); t != nil {
		if b, ok := t.Widest(q.client); ok {
			bits = b
		} else if network.IsValid() {
			bits = network.Bits()
		}
	} else if g.LocationSensitive() && network.IsValid() {
		bits = network.Bits()
	}
	return max(bits, g.StickyBits(q.client), q.snap.Health.ShedBits(q.client))
}
