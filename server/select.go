package server

import (
	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/store/schema"
)

// Tier tolerance of the geo policy: regions whose distance from the client is
// within TierSlack of the nearest one, or TierMinKm, whichever is larger,
// share the nearest tier and split its traffic by weight. Two regions in one
// metro area then share load, while a region an ocean away does not.
const (
	TierSlack = 0.10  // 10 % of the nearest region's distance
	TierMinKm = 100.0 // but never less than 100 km
)

// maxCandidates bounds the per-query candidate list so it lives on the stack.
const maxCandidates = schema.MaxNameRegions

// outcome is what selection decided for one query.
type outcome struct {
	region *regionAnswer // nil: nothing to answer with (NODATA)
	// byClient says whether the choice depended on the client's address, so
	// the ECS scope must be the client's network rather than 0.
	byClient bool
	// drained is set when every region of the name has weight 0.
	drained bool
}

// selectRegion picks the region that answers a query of type qtype (A or
// AAAA) from a client at loc (found=false: location unknown). It is pure:
// randomness comes from intn, which returns a value in [0, n).
//
// Candidates are the name's regions with weight > 0 that have an address of
// the asked family. With the location known, the nearest tier (see
// TierSlack) is split by weight; unknown locations get a weighted choice
// among all candidates, the fallback documented in README.md.
func (g *gslbName) selectRegion(qtype uint16, loc geo.Location, found bool, intn func(int) int) outcome {
	var buf [maxCandidates]*regionAnswer
	cands := buf[:0]
	live := 0
	for _, r := range g.regions {
		if r.weight <= 0 {
			continue
		}
		live++
		if len(r.addrs(qtype)) > 0 {
			cands = append(cands, r)
		}
	}
	switch {
	case live == 0:
		return outcome{drained: len(g.regions) > 0}
	case len(cands) == 0:
		return outcome{}
	case len(cands) == 1:
		return outcome{region: cands[0]}
	case !found:
		return outcome{region: weighted(cands, intn), byClient: true}
	}

	var dist [maxCandidates]float64
	best := -1.0
	for i, r := range cands {
		dist[i] = geo.Distance(loc.Lat, loc.Lon, r.lat, r.lon)
		if best < 0 || dist[i] < best {
			best = dist[i]
		}
	}
	limit := best + max(best*TierSlack, TierMinKm)
	tier := cands[:0] // filtering in place: cands is not used after this
	for i, r := range cands {
		if dist[i] <= limit {
			tier = append(tier, r)
		}
	}
	return outcome{region: weighted(tier, intn), byClient: true}
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

// addrs returns the region's records of the asked family.
func (r *regionAnswer) addrs(qtype uint16) []dns.RR {
	if qtype == dns.TypeAAAA {
		return r.aaaa
	}
	return r.a
}
