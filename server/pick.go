package server

import (
	"math"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/store/schema"
)

// maxRoundRobin bounds how many addresses roundrobin gathers per query.
const maxRoundRobin = 256

// answerGSLB answers a GSLB name: plan (location and health), then the
// per-query draw inside the tier, then the addresses.
func (h *Handler) answerGSLB(q *query, z *zone, g *gslbName) {
	m := q.m
	loc, network, found := h.geo.Lookup(q.client)
	p := g.plan(q.qtype, loc, found, q.snap.health)
	q.recordOutcome(g, &p)
	switch p.outcome {
	case outcomeNone, outcomeDrained, outcomeNoData:
		m.Ns = append(m.Ns, z.negSOA)
		q.scope = h.scopeBits(q, g, network)
		return
	case outcomeServFail:
		m.Rcode, m.Authoritative = dns.RcodeServerFailure, false
		return
	}

	h.answerPlan(q, g, &p)
	q.scope = h.scopeBits(q, g, network)
}

// answerPlan notes the plan's outcome on q, draws the region and adds its
// addresses: the step both answer paths share once the plan says to
// answer with addresses.
func (h *Handler) answerPlan(q *query, g *gslbName, p *plan) {
	q.recordOutcome(g, p)
	q.recordAnswer(g, h.pickAnswers(q, g, p))
}

// recordOutcome sets q's reason and decision from the plan. Both answer
// paths call it; the counting happens later, in countDecision, which only
// the serving pipeline calls, so that Explain can run this code and count
// nothing.
func (q *query) recordOutcome(g *gslbName, p *plan) {
	q.gslb, q.outcome, q.answered = g, p.outcome, false
	q.reason = g.policy
	if p.outcome != outcomeNormal {
		q.reason = p.outcome.String()
	}
}

// recordAnswer notes that q was answered from region first of g.
func (q *query) recordAnswer(g *gslbName, first uint8) {
	q.region, q.drawn, q.answered = g.regions[first].id, first, true
}

// pickAnswers draws the region and adds its addresses (and spread ones) to
// q's answer, returning the region drawn. The general path and the fast
// path share it, so their answers cannot differ.
func (h *Handler) pickAnswers(q *query, g *gslbName, p *plan) uint8 {
	if g.policy == schema.PolicyRoundRobin {
		return h.answerRoundRobin(q, g, p)
	}
	first := g.draw(p, q.client, h.intn)
	n := h.appendAddrs(q, g, p, first, g.answers)
	if g.spread {
		for _, i := range p.order[:p.n] {
			if n >= g.answers {
				break
			}
			if i != first {
				n += h.appendAddrs(q, g, p, i, g.answers-n)
			}
		}
	}
	return first
}

// draw picks one region of the tier: by rendezvous hashing of the client's
// subnet when the name is sticky, else at random by weight.
func (g *gslbName) draw(p *plan, client netip.Addr, intn func(int) int) uint8 {
	tier := p.tier()
	if len(tier) == 1 {
		return tier[0]
	}
	if bits := g.stickyBits(client); bits > 0 {
		subnet := netip.PrefixFrom(client, bits).Masked().Addr().As16()
		best, bestScore := tier[0], math.Inf(-1)
		for _, i := range tier {
			// Weighted rendezvous hashing: -w/ln(u) with u uniform in
			// (0,1) from the hash; the largest score wins, so a region
			// leaving moves only its own clients.
			u := (float64(hrwHash(subnet, g.regions[i].id)>>11) + 0.5) / (1 << 53)
			if s := -float64(drawWeight(g.regions[i])) / math.Log(u); s > bestScore {
				best, bestScore = i, s
			}
		}
		return best
	}
	total := 0
	for _, i := range tier {
		total += drawWeight(g.regions[i])
	}
	n := intn(total)
	for _, i := range tier {
		if n < drawWeight(g.regions[i]) {
			return i
		}
		n -= drawWeight(g.regions[i])
	}
	return tier[len(tier)-1]
}

// drawWeight is a region's weight in draws; fallback regions may be
// drained and still draw (the operator listed them as the last resort).
func drawWeight(r *regionAnswer) int { return max(r.weight, 1) }

// appendAddrs appends up to limit usable addresses of region i, starting at
// a random one, and returns how many it appended.
func (h *Handler) appendAddrs(q *query, g *gslbName, p *plan, i uint8, limit int) int {
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
func usable(q *query, g *gslbName, p *plan, i uint8) (rrs []dns.RR, pos []uint8, mask uint64) {
	r := g.regions[i]
	rrs, pos = r.addrs(q.qtype)
	if p.degraded && g.ttlDegraded > 0 {
		rrs = r.degraded(q.qtype)
	}
	mask = q.snap.health.regions[r.idx].mask
	if p.allAddrs {
		mask = math.MaxUint64
	}
	return rrs, pos, mask
}

// answerRoundRobin answers with the usable addresses of every region in the
// tier, rotated, and returns the region of the first one.
func (h *Handler) answerRoundRobin(q *query, g *gslbName, p *plan) uint8 {
	var all [maxRoundRobin]dns.RR
	var from [maxRoundRobin]uint8
	n := 0
	for _, i := range p.tier() {
		rrs, pos, mask := usable(q, g, p, i)
		for k, b := range pos {
			if mask&(1<<b) != 0 && n < maxRoundRobin {
				all[n], from[n] = rrs[k], i
				n++
			}
		}
	}
	if n == 0 {
		return p.order[0]
	}
	off := h.intn(n)
	for j := range min(g.answers, n) {
		q.addNameAnswer(g, all[(off+j)%n])
	}
	return from[off]
}

// hrwHash mixes a client subnet and a region id (FNV-1a, then the
// splitmix64 finaliser for a well spread result).
func hrwHash(subnet [16]byte, id string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, b := range subnet {
		h = (h ^ uint64(b)) * prime
	}
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
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
func (q *query) addNameAnswer(g *gslbName, rr dns.RR) {
	if q.m != nil {
		rr = dns.Copy(rr)
		rr.Header().Name = g.owner
	}
	q.addAnswer(rr)
}

// stickyBits is the subnet length a sticky choice is made for, 0 when the
// name is not sticky.
func (g *gslbName) stickyBits(client netip.Addr) int {
	if !client.IsValid() {
		return 0
	}
	if client.Is4() {
		return g.stickyV4
	}
	return g.stickyV6
}

// addrs returns the region's records of the asked family and their
// positions in the health mask.
func (r *regionAnswer) addrs(qtype uint16) ([]dns.RR, []uint8) {
	if qtype == dns.TypeAAAA {
		return r.aaaa, r.aaaaPos
	}
	return r.a, r.aPos
}

// degraded returns the records with the degraded TTL.
func (r *regionAnswer) degraded(qtype uint16) []dns.RR {
	if qtype == dns.TypeAAAA {
		return r.aaaaDeg
	}
	return r.aDeg
}
