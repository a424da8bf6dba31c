package server

import (
	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/store/schema"
)

// Tier tolerance: regions whose distance (geo) or estimated RTT (latency)
// from the client is within TierSlack of the best one, or TierMinKm (its RTT
// equivalent TierMinMs), whichever is larger, share the best tier and split
// its traffic by weight. Two regions in one metro area then share load,
// while a region an ocean away does not.
const (
	TierSlack = 0.10  // 10 % of the best region's distance or RTT
	TierMinKm = 100.0 // but never less than 100 km (1.5 ms)
)

// maxCandidates bounds the per-query lists so they live on the stack.
const maxCandidates = schema.MaxNameRegions

// outcome says which rule produced a plan.
type outcome uint8

const (
	outcomeNormal   outcome = iota // the policy ranked healthy regions
	outcomeNone                    // no region (in the client's fence) has an address of the family: NODATA
	outcomeDrained                 // every such region has weight 0: NODATA
	outcomeFailOpen                // nothing up: answer as if every live region were up
	outcomeFallback                // the name's fallback regions, health and weight ignored
	outcomePanic                   // too many regions down: health ignored
	outcomeNoData                  // on_all_down / on_no_data = nodata
	outcomeServFail                // on_all_down / on_no_data = servfail
)

var outcomeNames = [...]string{"normal", "none", "all_drained", "fail_open", "fallback", "panic", "nodata", "servfail"}

func (o outcome) String() string { return outcomeNames[o] }

// plan is everything about a name's answer that depends on the client's
// location and on health, but not on the per-query draw: the regions that
// may answer (the tier, best first) followed by the rest of the ranking,
// which spread fills from. Two clients with equal plans get answers from
// the same distribution, which is what the ECS scope promises.
type plan struct {
	outcome  outcome
	allAddrs bool // health is ignored: every address of a region may answer
	degraded bool // answer with ttl_degraded
	nTier    uint8
	n        uint8
	order    [maxCandidates]uint8 // indices into gslbName.regions
	tr       *planTrace           // nil on the query path; set by Explain
}

// planTrace records how a plan was made, for Explain: the masks over the
// name's regions at each step and the ranking scores.
type planTrace struct {
	allowed, family, live, up, checked uint64
	scored                             uint64                 // regions with a score
	score                              [maxCandidates]float64 // km (geo) or ms (latency), by region index
	latency                            [maxCandidates]bool    // the score is a measured-RTT estimate
}

// tier returns the regions that may answer.
func (p *plan) tier() []uint8 { return p.order[:p.nTier] }

// plan decides for a client at loc (found: the location has coordinates)
// asking for qtype (A or AAAA), given health ht. It is pure.
func (g *gslbName) plan(qtype uint16, loc geo.Location, found bool, ht *healthTable) plan {
	return g.tracedPlan(qtype, loc, found, ht, nil)
}

// tracedPlan is plan, recording its steps in tr when tr is not nil.
func (g *gslbName) tracedPlan(qtype uint16, loc geo.Location, found bool, ht *healthTable, tr *planTrace) plan {
	allowed := g.fence.allowed(loc)
	var family, live, up, checked uint64
	for i, r := range g.regions {
		bit := uint64(1) << i
		rrs, pos := r.addrs(qtype)
		if allowed&bit == 0 || len(rrs) == 0 {
			continue
		}
		family |= bit
		if r.weight <= 0 {
			continue
		}
		live |= bit
		h := ht.regions[r.idx]
		if h.checked {
			checked |= bit
		}
		if h.up && anyUp(pos, h.mask) {
			up |= bit
		}
	}
	p := plan{degraded: live != family || up != live, tr: tr}
	if tr != nil {
		tr.allowed, tr.family, tr.live, tr.up, tr.checked = allowed, family, live, up, checked
	}
	switch {
	case family == 0:
		p.outcome = outcomeNone
		return p
	case live == 0:
		// Drained by the operator. A fenced client gets the name's
		// all-down outcome, still inside its fence; others get NODATA.
		if g.fence == nil {
			p.outcome = outcomeDrained
			return p
		}
		return g.allDown(p, g.onAllDown, family&g.fallback, live, loc, found, ht)
	case checked == 0 && g.hasChecks && g.onNoData != schema.OutcomeUp:
		// No prober has fresh data on any region: nothing is known.
		return g.allDown(p, g.onNoData, family&g.fallback, live, loc, found, ht)
	}
	if g.panicPct > 0 && popcount(live&^up)*100 > g.panicPct*popcount(live) {
		p.outcome, p.allAddrs, p.degraded = outcomePanic, true, true
		return g.rank(p, live, loc, found, ht)
	}
	if up == 0 {
		return g.allDown(p, g.onAllDown, family&g.fallback, live, loc, found, ht)
	}
	return g.rank(p, up, loc, found, ht)
}

// allDown applies an all-down (or no-data) outcome. fallback is the name's
// fallback regions that the client may get; live the regions not drained.
// The regions it answers with are ranked by the policy as usual.
func (g *gslbName) allDown(p plan, rule string, fallback, live uint64, loc geo.Location, found bool, ht *healthTable) plan {
	p.degraded, p.allAddrs = true, true
	switch rule {
	case schema.OutcomeFailOpen:
		if live == 0 {
			p.outcome = outcomeDrained
			return p
		}
		p.outcome = outcomeFailOpen
		return g.rank(p, live, loc, found, ht)
	case schema.OutcomeFallback:
		if fallback == 0 {
			p.outcome = outcomeNoData
			return p
		}
		p.outcome = outcomeFallback
		return g.rank(p, fallback, loc, found, ht)
	case schema.OutcomeServFail:
		p.outcome = outcomeServFail
	default:
		p.outcome = outcomeNoData
	}
	return p
}

// listed puts the regions of mask in listed order, all in the tier (they
// are split by weight), or only the first for failover.
func (g *gslbName) listed(p plan, mask uint64) plan {
	for i := range g.regions {
		if mask&(1<<i) != 0 {
			p.order[p.n] = uint8(i)
			p.n++
		}
	}
	p.nTier = p.n
	if g.policy == schema.PolicyFailover && p.n > 0 {
		p.nTier = 1
	}
	return p
}

// rank orders the candidate regions by the name's policy and marks the
// best tier.
func (g *gslbName) rank(p plan, cands uint64, loc geo.Location, found bool, ht *healthTable) plan {
	p = g.listed(p, cands)
	if (g.policy != schema.PolicyGeo && g.policy != schema.PolicyLatency) || !found || p.n < 2 {
		// weighted, roundrobin and unknown locations: the whole list is
		// the tier; failover: the first (set by listed).
		return p
	}
	var score [maxCandidates]float64
	floor := TierMinKm
	if g.policy == schema.PolicyLatency {
		var order [maxProbers]int
		var pdist [maxProbers]float64
		n := ht.proberOrder(loc, order[:], pdist[:])
		for k, i := range p.order[:p.n] {
			r := g.regions[i]
			if ms, ok := ht.estimateRTT(r.idx, order[:n], pdist[:n]); ok {
				score[k] = ms
				if p.tr != nil {
					p.tr.latency[i] = true
				}
			} else {
				score[k] = geo.Distance(loc.Lat, loc.Lon, r.lat, r.lon) * MsPerKm
			}
		}
		floor = TierMinMs
	} else {
		for k, i := range p.order[:p.n] {
			r := g.regions[i]
			score[k] = geo.Distance(loc.Lat, loc.Lon, r.lat, r.lon)
		}
	}
	if p.tr != nil {
		for k, i := range p.order[:p.n] {
			p.tr.scored |= 1 << i
			p.tr.score[i] = score[k]
		}
	}
	// Insertion sort by score; stable, so ties keep the listed order.
	for a := 1; a < int(p.n); a++ {
		for b := a; b > 0 && score[b] < score[b-1]; b-- {
			score[b], score[b-1] = score[b-1], score[b]
			p.order[b], p.order[b-1] = p.order[b-1], p.order[b]
		}
	}
	limit := score[0] + max(score[0]*TierSlack, floor)
	p.nTier = 1
	for p.nTier < p.n && score[p.nTier] <= limit {
		p.nTier++
	}
	return p
}

// anyUp reports whether any of the positions is set in mask.
func anyUp(pos []uint8, mask uint64) bool {
	for _, p := range pos {
		if mask&(1<<p) != 0 {
			return true
		}
	}
	return false
}
