package server

import (
	"github.com/miekg/dns"

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

// maxCandidates bounds the per-query candidate list so it lives on the stack.
const maxCandidates = schema.MaxNameRegions

// outcome is what selection decided for one query.
type outcome struct {
	region *regionAnswer // nil: nothing to answer with (NODATA)
	mask   uint64        // the region's addresses that may be answered (health)
	// byClient says whether the choice depended on the client's address, so
	// the ECS scope must be the client's network rather than 0.
	byClient bool
	drained  bool // every region of the name has weight 0
	failOpen bool // no candidate was up: health was ignored
}

// selectRegion picks the region that answers a query of type qtype (A or
// AAAA) from a client at loc (found=false: location unknown), given the
// health table ht. It is pure: randomness comes from intn, which returns a
// value in [0, n).
//
// Candidates are the name's regions with weight > 0 that are up and have an
// up address of the asked family. If there are none but some region has
// weight > 0 and an address of the family, selection fails open: health is
// ignored rather than the name going dark. With the location known, the
// best tier by the name's policy (see TierSlack) is split by weight;
// unknown locations get a weighted choice among all candidates.
func (g *gslbName) selectRegion(qtype uint16, loc geo.Location, found bool, intn func(int) int, ht *healthTable) outcome {
	var buf [maxCandidates]*regionAnswer
	cands := buf[:0]
	live, withFamily := 0, 0
	for _, r := range g.regions {
		if r.weight <= 0 {
			continue
		}
		live++
		rrs, pos := r.addrs(qtype)
		if len(rrs) == 0 {
			continue
		}
		withFamily++
		if h := ht.regions[r.idx]; h.up && anyUp(pos, h.mask) {
			cands = append(cands, r)
		}
	}
	out := outcome{}
	switch {
	case live == 0:
		out.drained = len(g.regions) > 0
		return out
	case withFamily == 0:
		return out
	case len(cands) == 0:
		// Fail open: every live region with the family, all addresses.
		out.failOpen = true
		for _, r := range g.regions {
			if rrs, _ := r.addrs(qtype); r.weight > 0 && len(rrs) > 0 {
				cands = append(cands, r)
			}
		}
	}
	out.region, out.byClient = g.pick(cands, loc, found, intn, ht)
	out.mask = ^uint64(0)
	if !out.failOpen {
		out.mask = ht.regions[out.region.idx].mask
	}
	return out
}

// pick chooses among candidates by the name's policy; byClient says whether
// the choice depended on the client's location.
func (g *gslbName) pick(cands []*regionAnswer, loc geo.Location, found bool, intn func(int) int, ht *healthTable) (*regionAnswer, bool) {
	switch {
	case len(cands) == 1:
		return cands[0], false
	case !found:
		return weighted(cands, intn), true
	}
	var score [maxCandidates]float64
	floor := TierMinKm
	if g.policy == schema.PolicyLatency {
		var order [maxProbers]int
		var pdist [maxProbers]float64
		n := ht.proberOrder(loc, order[:], pdist[:])
		for i, r := range cands {
			if ms, ok := ht.estimateRTT(r.idx, order[:n], pdist[:n]); ok {
				score[i] = ms
			} else {
				score[i] = geo.Distance(loc.Lat, loc.Lon, r.lat, r.lon) * MsPerKm
			}
		}
		floor = TierMinMs
	} else {
		for i, r := range cands {
			score[i] = geo.Distance(loc.Lat, loc.Lon, r.lat, r.lon)
		}
	}
	best := score[0]
	for _, s := range score[1:len(cands)] {
		best = min(best, s)
	}
	limit := best + max(best*TierSlack, floor)
	tier := cands[:0] // filtering in place: cands is not used after this
	for i, r := range cands {
		if score[i] <= limit {
			tier = append(tier, r)
		}
	}
	return weighted(tier, intn), true
}

// weighted picks one region with probability proportional to its weight.
func weighted(rs []*regionAnswer, intn func(int) int) *regionAnswer {
	if len(rs) == 1 {
		return rs[0]
	}
	total := 0
	for _, r := range rs {
		total += r.weight
	}
	n := intn(total)
	for _, r := range rs {
		if n < r.weight {
			return r
		}
		n -= r.weight
	}
	return rs[len(rs)-1]
}

// addrs returns the region's records of the asked family and their
// positions in the health mask.
func (r *regionAnswer) addrs(qtype uint16) ([]dns.RR, []uint8) {
	if qtype == dns.TypeAAAA {
		return r.aaaa, r.aaaaPos
	}
	return r.a, r.aPos
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
