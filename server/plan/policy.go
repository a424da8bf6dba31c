package plan

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

// Outcome says which rule produced a plan.
type Outcome uint8

const (
	OutcomeNormal   Outcome = iota // the policy ranked healthy regions
	OutcomeNone                    // no region (in the client's fence) has an address of the family: NODATA
	OutcomeDrained                 // every such region has weight 0: NODATA
	OutcomeFailOpen                // nothing up: answer as if every live region were up
	OutcomeFallback                // the name's fallback regions, health and weight ignored
	OutcomePanic                   // too many regions down: health ignored
	OutcomeNoData                  // on_all_down / on_no_data = nodata
	OutcomeServFail                // on_all_down / on_no_data = servfail
)

// OutcomeNames are the outcomes' names in metrics, logs and explain.
var OutcomeNames = [...]string{"normal", "none", "all_drained", "fail_open", "fallback", "panic", "nodata", "servfail"}

// String is o's name, as in OutcomeNames.
func (o Outcome) String() string { return OutcomeNames[o] }

// Plan is everything about a name's answer that depends on the client's
// location and on health, but not on the per-query draw: the regions that
// may answer (the tier, best first) followed by the rest of the ranking,
// which spread fills from. Two clients with equal plans get answers from
// the same distribution, which is what the ECS scope promises.
type Plan struct {
	Outcome  Outcome
	AllAddrs bool // health is ignored: every address of a region may answer
	Degraded bool // answer with ttl_degraded
	NTier    uint8
	N        uint8
	Order    [maxCandidates]uint8 // indices into gslbName.regions
	tr       *Trace               // nil on the query path; set by Explain
}

// Trace records how a plan was made, for Explain: the masks over the
// name's regions at each step and the ranking scores.
type Trace struct {
	Allowed, family, live, up, checked uint64
	Scored                             uint64                 // regions with a score
	Score                              [maxCandidates]float64 // km (geo) or ms (latency), by region index
	Latency                            [maxCandidates]bool    // the score is a measured-RTT estimate
}

// Tier returns the regions that may answer.
func (p *Plan) Tier() []uint8 { return p.Order[:p.NTier] }

// Plan decides for a client at loc (found: the location has coordinates)
// asking for qtype (A or AAAA), given health ht. It is pure.
func (g *Name) Plan(qtype uint16, loc geo.Location, found bool, ht *HealthTable) Plan {
	return g.TracedPlan(qtype, loc, found, ht, nil)
}

// TracedPlan is plan, recording its steps in tr when tr is not nil.
func (g *Name) TracedPlan(qtype uint16, loc geo.Location, found bool, ht *HealthTable, tr *Trace) Plan {
	return g.plan(qtype, loc, found, ht, tr, g.Fence.allowed(loc))
}

// plan is TracedPlan for the regions of allowed: the client's fence, or
// its pin.
func (g *Name) plan(qtype uint16, loc geo.Location, found bool, ht *HealthTable, tr *Trace, allowed uint64) Plan {
	var family, live, up, checked uint64
	for i, r := range g.Regions {
		bit := uint64(1) << i
		rrs := r.Addrs(qtype)
		if allowed&bit == 0 || len(rrs) == 0 {
			continue
		}
		family |= bit
		if r.Weight <= 0 {
			continue
		}
		live |= bit
		h := ht.Regions[r.Idx]
		if h.Checked {
			checked |= bit
		}
		if h.Up && anyUp(rrs, h.Mask) {
			up |= bit
		}
	}
	p := Plan{Degraded: live != family || up != live, tr: tr}
	if tr != nil {
		tr.Allowed, tr.family, tr.live, tr.up, tr.checked = allowed, family, live, up, checked
	}
	switch {
	case family == 0:
		p.Outcome = OutcomeNone
		return p
	case live == 0:
		// Drained by the operator. A fenced client gets the name's
		// all-down outcome, still inside its fence; others get NODATA.
		if g.Fence == nil {
			p.Outcome = OutcomeDrained
			return p
		}
		return g.allDown(p, g.onAllDown, family&g.fallback, live, loc, found, ht)
	case checked == 0 && g.hasChecks && g.onNoData != schema.OutcomeUp:
		// No prober has fresh data on any region: nothing is known.
		return g.allDown(p, g.onNoData, family&g.fallback, live, loc, found, ht)
	}
	if g.panicPct > 0 && popcount(live&^up)*100 > g.panicPct*popcount(live) {
		p.Outcome, p.AllAddrs, p.Degraded = OutcomePanic, true, true
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
func (g *Name) allDown(p Plan, rule string, fallback, live uint64, loc geo.Location, found bool, ht *HealthTable) Plan {
	p.Degraded, p.AllAddrs = true, true
	switch rule {
	case schema.OutcomeFailOpen:
		if live == 0 {
			p.Outcome = OutcomeDrained
			return p
		}
		p.Outcome = OutcomeFailOpen
		return g.rank(p, live, loc, found, ht)
	case schema.OutcomeFallback:
		if fallback == 0 {
			p.Outcome = OutcomeNoData
			return p
		}
		p.Outcome = OutcomeFallback
		return g.rank(p, fallback, loc, found, ht)
	case schema.OutcomeServFail:
		p.Outcome = OutcomeServFail
	default:
		p.Outcome = OutcomeNoData
	}
	return p
}

// listed puts the regions of mask in listed order, all in the tier (they
// are split by weight), or only the first for failover.
func (g *Name) listed(p Plan, mask uint64) Plan {
	for i := range g.Regions {
		if mask&(1<<i) != 0 {
			p.Order[p.N] = uint8(i)
			p.N++
		}
	}
	p.NTier = p.N
	if g.Policy == schema.PolicyFailover && p.N > 0 {
		p.NTier = 1
	}
	return p
}

// rank orders the candidate regions by the name's policy and marks the
// best tier.
func (g *Name) rank(p Plan, cands uint64, loc geo.Location, found bool, ht *HealthTable) Plan {
	p = g.listed(p, cands)
	if (g.Policy != schema.PolicyGeo && g.Policy != schema.PolicyLatency) || !found || p.N < 2 {
		// weighted, roundrobin and unknown locations: the whole list is
		// the tier; failover: the first (set by listed).
		return p
	}
	var score [maxCandidates]float64
	floor := g.tier.km
	if g.Policy == schema.PolicyLatency {
		var order [maxProbers]int
		var pdist [maxProbers]float64
		n := ht.proberOrder(loc, order[:], pdist[:])
		for k, i := range p.Order[:p.N] {
			r := g.Regions[i]
			if ms, ok := ht.estimateRTT(r.Idx, order[:n], pdist[:n]); ok {
				score[k] = ms
				if p.tr != nil {
					p.tr.Latency[i] = true
				}
			} else {
				score[k] = geo.Distance(loc.Lat, loc.Lon, r.Lat, r.Lon) * MsPerKm
			}
		}
		floor = g.tier.ms
	} else {
		for k, i := range p.Order[:p.N] {
			r := g.Regions[i]
			score[k] = geo.Distance(loc.Lat, loc.Lon, r.Lat, r.Lon)
		}
	}
	if p.tr != nil {
		for k, i := range p.Order[:p.N] {
			p.tr.Scored |= 1 << i
			p.tr.Score[i] = score[k]
		}
	}
	// Insertion sort by score; stable, so ties keep the listed order.
	for a := 1; a < int(p.N); a++ {
		for b := a; b > 0 && score[b] < score[b-1]; b-- {
			score[b], score[b-1] = score[b-1], score[b]
			p.Order[b], p.Order[b-1] = p.Order[b-1], p.Order[b]
		}
	}
	limit := score[0] + max(score[0]*g.tier.slack, floor)
	p.NTier = 1
	for !g.tier.nearest && p.NTier < p.N && score[p.NTier] <= limit {
		p.NTier++
	}
	return p
}

// anyUp reports whether the position of any of rrs is set in mask.
func anyUp(rrs []Addr, mask uint64) bool {
	for i := range rrs {
		if mask&(1<<rrs[i].pos) != 0 {
			return true
		}
	}
	return false
}
