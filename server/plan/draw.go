package plan

import (
	"math"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/store/schema"
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
		return g.hrw(netip.PrefixFrom(client, bits).Masked().Addr().As16(), tier)
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

// hrw picks one of regions for a client subnet by weighted rendezvous
// hashing: -w/ln(u) with u uniform in (0,1) from the hash; the largest
// score wins, so a region leaving moves only its own clients.
func (g *Name) hrw(subnet [16]byte, regions []uint8) uint8 {
	best, bestScore := regions[0], math.Inf(-1)
	for _, i := range regions {
		u := (float64(hrwHash(subnet, g.Regions[i].ID)>>11) + 0.5) / (1 << 53)
		if s := -float64(DrawWeight(g.Regions[i])) / math.Log(u); s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
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

// Addrs returns the region's records of the asked family.
func (r *RegionAnswer) Addrs(qtype uint16) []Addr {
	if qtype == dns.TypeAAAA {
		return r.aaaa
	}
	return r.A
}

// Degraded returns the records with the degraded TTL.
func (r *RegionAnswer) Degraded(qtype uint16) []Addr {
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

// maxRoundRobin bounds how many addresses roundrobin gathers per query.
const maxRoundRobin = 256

// Pick draws the region of p's tier that answers client and writes the
// records to answer with into out (at most g.Answers and len(out)): up to
// g.Answers usable addresses of the region drawn, starting at a random one,
// then of the next regions when the name spreads; for roundrobin, the
// usable addresses of every region of the tier, rotated. The records are
// shared: a caller that changes one copies it first. It returns how many
// it wrote and the region drawn (of the first record, for roundrobin).
// intn is the randomness (returns [0,n)); ht says which addresses are up.
func (g *Name) Pick(p *Plan, qtype uint16, client netip.Addr, ht *HealthTable, intn func(int) int, out []*Addr) (int, uint8) {
	limit := min(g.Answers, len(out))
	if g.Policy == schema.PolicyRoundRobin {
		return g.pickRoundRobin(p, qtype, ht, intn, out[:limit])
	}
	first, _ := g.Choose(p, client, ht, intn)
	if g.trickle != 0 {
		first = g.Trickle(p, client, first)
	}
	n := g.appendAddrs(p, first, qtype, ht, intn, out[:limit])
	if g.Spread {
		for _, i := range p.Order[:p.N] {
			if n >= limit {
				break
			}
			if i != first {
				n += g.appendAddrs(p, i, qtype, ht, intn, out[n:limit])
			}
		}
	}
	return n, first
}

// appendAddrs writes up to len(out) usable addresses of region i into out,
// starting at a random one, and returns how many it wrote.
func (g *Name) appendAddrs(p *Plan, i uint8, qtype uint16, ht *HealthTable, intn func(int) int, out []*Addr) int {
	rrs, mask := g.usable(p, i, qtype, ht)
	var up [schema.MaxRegionAddrs]uint8
	n := 0
	for k := range rrs {
		if mask&(1<<rrs[k].pos) != 0 {
			up[n] = uint8(k)
			n++
		}
	}
	off := 0
	if n > 1 {
		off = intn(n)
	}
	k := min(len(out), n)
	for j := range k {
		out[j] = &rrs[up[(off+j)%n]]
	}
	return k
}

// usable returns region i's records of qtype (the degraded-TTL ones when
// the plan says so) and the mask of address positions that may be
// answered.
func (g *Name) usable(p *Plan, i uint8, qtype uint16, ht *HealthTable) (rrs []Addr, mask uint64) {
	r := g.Regions[i]
	rrs = r.Addrs(qtype)
	if p.Degraded && g.TTLDegraded > 0 {
		rrs = r.Degraded(qtype)
	}
	mask = ht.Regions[r.Idx].Mask
	if p.AllAddrs {
		mask = math.MaxUint64
	}
	return rrs, mask
}

// pickRoundRobin writes the usable addresses of every region in the tier,
// rotated, into out, and returns how many and the region of the first one.
func (g *Name) pickRoundRobin(p *Plan, qtype uint16, ht *HealthTable, intn func(int) int, out []*Addr) (int, uint8) {
	var all [maxRoundRobin]*Addr
	var from [maxRoundRobin]uint8
	n := 0
	for _, i := range p.Tier() {
		rrs, mask := g.usable(p, i, qtype, ht)
		for k := range rrs {
			if mask&(1<<rrs[k].pos) != 0 && n < maxRoundRobin {
				all[n], from[n] = &rrs[k], i
				n++
			}
		}
	}
	if n == 0 {
		return 0, p.Order[0]
	}
	off := intn(n)
	k := min(len(out), n)
	for j := range k {
		out[j] = all[(off+j)%n]
	}
	return k, from[off]
}
