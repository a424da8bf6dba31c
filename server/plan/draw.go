package plan

import (
	"math"
	"net/netip"

	"github.com/miekg/dns"
)

// The draw: which region of the plan's tier answers one query.

// Draw picks one region of the tier: by rendezvous hashing of the client's
// subnet when the name is sticky, else at random by weight.
func (g *Name) Draw(p *Plan, client netip.Addr, intn func(int) int) uint8 {
	tier := p.Tier()
	if len(tier) == 1 {
		return tier[0]
	}
	if bits := g.StickyBits(client); bits > 0 {
		subnet := netip.PrefixFrom(client, bits).Masked().Addr().As16()
		best, bestScore := tier[0], math.Inf(-1)
		for _, i := range tier {
			// Weighted rendezvous hashing: -w/ln(u) with u uniform in
			// (0,1) from the hash; the largest score wins, so a region
			// leaving moves only its own clients.
			u := (float64(hrwHash(subnet, g.Regions[i].ID)>>11) + 0.5) / (1 << 53)
			if s := -float64(DrawWeight(g.Regions[i])) / math.Log(u); s > bestScore {
				best, bestScore = i, s
			}
		}
		return best
	}
	total := 0
	for _, i := range tier {
		total += DrawWeight(g.Regions[i])
	}
	n := intn(total)
	for _, i := range tier {
		if n < DrawWeight(g.Regions[i]) {
			return i
		}
		n -= DrawWeight(g.Regions[i])
	}
	return tier[len(tier)-1]
}

// DrawWeight is a region's weight in draws; fallback regions may be
// drained and still draw (the operator listed them as the last resort).
func DrawWeight(r *RegionAnswer) int { return max(r.Weight, 1) }

// StickyBits is the subnet length a sticky choice is made for, 0 when the
// name is not sticky.
func (g *Name) StickyBits(client netip.Addr) int {
	if !client.IsValid() {
		return 0
	}
	if client.Is4() {
		return g.stickyV4
	}
	return g.stickyV6
}

// Addrs returns the region's records of the asked family and their
// positions in the health mask.
func (r *RegionAnswer) Addrs(qtype uint16) ([]dns.RR, []uint8) {
	if qtype == dns.TypeAAAA {
		return r.aaaa, r.aaaaPos
	}
	return r.A, r.aPos
}

// Degraded returns the records with the degraded TTL.
func (r *RegionAnswer) Degraded(qtype uint16) []dns.RR {
	if qtype == dns.TypeAAAA {
		return r.aaaaDeg
	}
	return r.aDeg
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
