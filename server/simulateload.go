package server

import (
	"net/netip"

	"github.com/glb-dns/glb/server/plan"
)

// shedSamples is how many client subnets simulate stands in for the
// networks at one location with, when shedding or headroom makes the
// answer depend on the subnet and on load: the shares are then within a
// few points of what the subnets get.
const shedSamples = 256

// loadShares adds n clients of one location to out as the query path
// splits them under load: the tier's draw by TierWeight, then shedding per
// sampled subnet.
func loadShares(out map[string]float64, g *plan.Name, p *plan.Plan, ht *plan.HealthTable, n float64) {
	tier := p.Tier()
	sum := 0.0
	for _, i := range tier {
		sum += g.TierWeight(i, ht)
	}
	if sum == 0 {
		for _, i := range tier {
			sum += float64(plan.DrawWeight(g.Regions[i]))
		}
	}
	for s := range shedSamples {
		// Spread over the IPv4 space so the subnets' hashes are unrelated.
		client := netip.AddrFrom4([4]byte{byte(s * 37), byte(s * 101), byte(s), 1})
		for _, i := range tier {
			w := g.TierWeight(i, ht)
			if sum == 0 {
				w = float64(plan.DrawWeight(g.Regions[i]))
			}
			r, _ := g.AfterShed(p, i, client, ht)
			out[g.Regions[r].ID] += n * w / sum / shedSamples
		}
	}
}
