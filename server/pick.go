package server

import (
	"math"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// maxRoundRobin bounds how many addresses roundrobin gathers per query.
const maxRoundRobin = 256

// answerGSLB answers a GSLB name: plan (location and health), then the
// per-query draw inside the tier, then the addresses.
func (h *Handler) answerGSLB(q *query, z *plan.Zone, g *plan.Name) {
	m := q.m
	loc, network, found := h.geo.Lookup(q.client)
	p := g.Plan(q.qtype, loc, found, q.snap.Health)
	q.recordOutcome(g, &p)
	switch p.Outcome {
	case plan.OutcomeNone, plan.OutcomeDrained, plan.OutcomeNoData:
		m.Ns = append(m.Ns, z.NegSOA)
		q.scope = h.scopeBits(q, g, network)
		return
	case plan.OutcomeServFail:
		m.Rcode, m.Authoritative = dns.RcodeServerFailure, false
		return
	}

	h.answerPlan(q, g, &p)
	q.scope = h.scopeBits(q, g, network)
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
// q's answer, returning the region drawn. The general path and the fast
// path share it, so their answers cannot differ.
func (h *Handler) pickAnswers(q *query, g *plan.Name, p *plan.Plan) uint8 {
	if g.Policy == schema.PolicyRoundRobin {
		return h.answerRoundRobin(q, g, p)
	}
	first := g.Draw(p, q.client, h.intn)
	n := h.appendAddrs(q, g, p, first, g.Answers)
	if g.Spread {
		for _, i := range p.Order[:p.N] {
			if n >= g.Answers {
				break
			}
			if i != first {
				n += h.appendAddrs(q, g, p, i, g.Answers-n)
			}
		}
	}
	return first
}

// appendAddrs appends up to limit usable addresses of region i, starting at
// a random one, and returns how many it appended.
func (h *Handler) appendAddrs(q *query, g *plan.Name, p *plan.Plan, i uint8, limit int) int {
	rrs, pos, mask := usable(q, g, p, i)
	var up [schema.MaxRegionAddrs]uint8
	n := 0
	for k, b := range pos {
		if mask&(1<<b) != 0 {
			up[n] = uint8(k)
			n++
		}
	}
	off := 0
	if n > 1 {
		off = h.intn(n)
	}
	k := min(limit, n)
	for j := range k {
		q.addNameAnswer(g, rrs[up[(off+j)%n]])
	}
	return k
}

// usable returns region i's records for q (the degraded-TTL ones when
// the plan says so), their address positions, and the mask of positions
// that may be answered.
func usable(q *query, g *plan.Name, p *plan.Plan, i uint8) (rrs []dns.RR, pos []uint8, mask uint64) {
	r := g.Regions[i]
	rrs, pos = r.Addrs(q.qtype)
	if p.Degraded && g.TTLDegraded > 0 {
		rrs = r.Degraded(q.qtype)
	}
	mask = q.snap.Health.Regions[r.Idx].Mask
	if p.AllAddrs {
		mask = math.MaxUint64
	}
	return rrs, pos, mask
}

// answerRoundRobin answers with the usable addresses of every region in the
// tier, rotated, and returns the region of the first one.
func (h *Handler) answerRoundRobin(q *query, g *plan.Name, p *plan.Plan) uint8 {
	var all [maxRoundRobin]dns.RR
	var from [maxRoundRobin]uint8
	n := 0
	for _, i := range p.Tier() {
		rrs, pos, mask := usable(q, g, p, i)
		for k, b := range pos {
			if mask&(1<<b) != 0 && n < maxRoundRobin {
				all[n], from[n] = rrs[k], i
				n++
			}
		}
	}
	if n == 0 {
		return p.Order[0]
	}
	off := h.intn(n)
	for j := range min(g.Answers, n) {
		q.addNameAnswer(g, all[(off+j)%n])
	}
	return from[off]
}

// addAnswer adds an answer record to the reply being built.
func (q *query) addAnswer(rr dns.RR) {
	if q.m != nil {
		q.m.Answer = append(q.m.Answer, rr)
		return
	}
	if q.nFastAns < len(q.fastAns) {
		q.fastAns[q.nFastAns] = rr
		q.nFastAns++
	}
}

// addNameAnswer adds one of g's shared records to the reply: as it is for
// the fast path, which writes the owner as a pointer to the question, and
// as a copy with g's owner for a reply built as a message.
func (q *query) addNameAnswer(g *plan.Name, rr dns.RR) {
	if q.m != nil {
		rr = dns.Copy(rr)
		rr.Header().Name = g.Owner
	}
	q.addAnswer(rr)
}

// scopeBits returns the width of the network the answer to q holds for:
// from the scope table when it is ready, else the GeoIP network when the
// name's plan can depend on the location, else 0; never wider than the
// sticky subnet for sticky names.
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
	return max(bits, g.StickyBits(q.client))
}
