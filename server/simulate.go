package server

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/server/explain"
	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// SimulateRequest asks how a name's clients split over its regions, now and
// under hypothetical changes.
type SimulateRequest struct {
	Name    string
	Qtype   uint16         // dns.TypeA (default) or dns.TypeAAAA
	WhatIf  explain.WhatIf // empty: only "now"
	Clients []netip.Addr   // nil: every network of the GeoIP database counts as one client
}

// Simulate runs the same plan as the DNS answer for every client, and
// splits each client over the regions of its tier as the draw would: by
// weight (roundrobin: evenly; failover: the first).
func (h *Handler) Simulate(req SimulateRequest) (*explain.Simulation, error) {
	cur := h.snap.Load()
	if cur == nil {
		return nil, errors.New("no configuration loaded yet")
	}
	if req.Qtype == 0 {
		req.Qtype = dns.TypeA
	}
	name, err := cur.Qualify(req.Name)
	if err != nil {
		return nil, err
	}
	sim := &explain.Simulation{Name: name, Type: dns.TypeToString[req.Qtype], Basis: "sample"}
	var units []unit
	if req.Clients != nil {
		for _, a := range req.Clients {
			loc, _, found := h.geo.Lookup(a)
			units = append(units, unit{loc: loc, found: found, n: 1, addr: a})
		}
	} else {
		p, ok := h.geo.(Partitioner)
		if !ok {
			return nil, errors.New("the GeoIP database cannot be listed; send client addresses")
		}
		part, err := p.Partition()
		if err != nil {
			return nil, fmt.Errorf("list geoip networks: %w", err)
		}
		sim.Basis, units = "geoip networks", partitionUnits(part)
	}
	for _, u := range units {
		sim.Clients += u.n
	}
	if sim.Now, err = shares(cur, name, req.Qtype, units); err != nil {
		return nil, err
	}
	if !req.WhatIf.Empty() {
		snap, err := h.whatIf(cur, req.WhatIf, name, req.Qtype, false)
		if err != nil {
			return nil, err
		}
		if sim.WhatIf, err = shares(snap, name, req.Qtype, units); err != nil {
			return nil, err
		}
		sim.WhatIfApplied = true
		sim.PinsNotCounted = req.Clients == nil && hasPins(snap, name)
	}
	sim.PinsNotCounted = sim.PinsNotCounted || req.Clients == nil && hasPins(cur, name)
	return sim, nil
}

// hasPins reports whether the GSLB name has pinned networks in snap.
func hasPins(snap *plan.Snapshot, name string) bool {
	z := snap.Match(name)
	if z == nil || z.Nodes[name] == nil || z.Nodes[name].GSLB == nil {
		return false
	}
	ps := z.Nodes[name].GSLB.Pins
	return ps != nil && len(ps.Pin) > 0
}

// unit is a group of clients at one location.
type unit struct {
	loc   geo.Location
	found bool
	n     int
	// addr is the client of a sample, whose pins count; the GeoIP
	// networks are counted by location, where pins cannot be seen.
	addr netip.Addr
}

// partitionUnits counts the networks with a record per location.
func partitionUnits(part *geo.Partition) []unit {
	units := make([]unit, 0, len(part.Locs))
	for i, loc := range part.Locs {
		units = append(units, unit{loc: loc, found: part.Found[i], n: int(part.Networks[i])})
	}
	return units
}

func shares(snap *plan.Snapshot, name string, qtype uint16, units []unit) (map[string]float64, error) {
	z := snap.Match(name)
	if z == nil || z.Nodes[name] == nil || z.Nodes[name].GSLB == nil {
		return nil, fmt.Errorf("%s is not a GSLB name", name)
	}
	g := z.Nodes[name].GSLB
	out := map[string]float64{}
	total := 0.0
	for _, u := range units {
		p := g.Plan(qtype, u.loc, u.found, snap.Health)
		if pin, _, pinned := g.Pins.Find(u.addr); pinned {
			p = g.PinPlan(qtype, pin, snap.Health, nil)
		}
		total += float64(u.n)
		tier := p.Tier()
		switch {
		case len(tier) == 0:
			out[""] += float64(u.n)
		case g.Policy == schema.PolicyRoundRobin:
			for _, i := range tier {
				out[g.Regions[i].ID] += float64(u.n) / float64(len(tier))
			}
		case snap.Health.Shedding || g.Headroom():
			loadShares(out, g, &p, snap.Health, float64(u.n))
		case g.TrickleShare() > 0 && len(tier) == 1 && p.N > 1:
			t := g.TrickleShare()
			out[g.Regions[tier[0]].ID] += float64(u.n) * (1 - t)
			sum := 0
			for _, i := range p.Order[1:p.N] {
				sum += plan.DrawWeight(g.Regions[i])
			}
			for _, i := range p.Order[1:p.N] {
				out[g.Regions[i].ID] += float64(u.n) * t * float64(plan.DrawWeight(g.Regions[i])) / float64(sum)
			}
		default:
			sum := 0
			for _, i := range tier {
				sum += plan.DrawWeight(g.Regions[i])
			}
			for _, i := range tier {
				out[g.Regions[i].ID] += float64(u.n) * float64(plan.DrawWeight(g.Regions[i])) / float64(sum)
			}
		}
	}
	for k := range out {
		out[k] /= total
	}
	return out, nil
}
