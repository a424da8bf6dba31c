package plan

import (
	"net/netip"

	"github.com/glb-dns/glb/store/schema"
)

// Trickle: a failover name sends a fixed share of client subnets to its
// standbys while its first region is up (schema.Name.Trickle), like Google
// Cloud DNS's trickleTraffic, so a standby is proven to take traffic
// before it has to. Which subnets is decided by hashing the client's
// sticky subnet (default /24 and /56), so a client keeps its region and
// the ECS scope, which is never wider than that subnet, stays true.

// trickleSalt keys the trickle hash apart from the region draw; it cannot
// be a region id (':' is not allowed in one).
const trickleSalt = "trickle:"

// setTrickle sets the trickle threshold and, for a trickle name, the
// subnet the choice is made for.
func (g *Name) setTrickle(nm *schema.Name) {
	if nm.Trickle <= 0 || nm.PolicyOrDefault() != schema.PolicyFailover {
		return
	}
	// The share of the 2^64 hash values below the threshold is Trickle.
	g.trickle = uint64(nm.Trickle*(1<<53)) << 11
	if g.stickyV4 == 0 {
		s := schema.Sticky{}
		if nm.Sticky != nil {
			s = *nm.Sticky
		}
		g.stickyV4, g.stickyV6 = s.Bits(true), s.Bits(false)
	}
}

// TrickleShare is the name's trickle share, 0 without one.
func (g *Name) TrickleShare() float64 { return float64(g.trickle>>11) / (1 << 53) }

// Trickle returns the region that answers client: first, or, for the
// trickle share of client subnets, one of the plan's standbys (the rest of
// the ranking after the tier), chosen by weighted rendezvous hashing.
func (g *Name) Trickle(p *Plan, client netip.Addr, first uint8) uint8 {
	bits := g.StickyBits(client)
	if g.trickle == 0 || bits == 0 || p.NTier != 1 || p.N < 2 {
		return first
	}
	subnet := netip.PrefixFrom(client, bits).Masked().Addr().As16()
	if hrwHash(subnet, trickleSalt) >= g.trickle {
		return first
	}
	return g.hrw(subnet, p.Order[1:p.N])
}
