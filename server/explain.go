package server

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/server/dnswire"
	"github.com/glb-dns/glb/server/explain"
	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// ExplainRequest asks what a client would get for a name, optionally under
// hypothetical changes that are applied to a copy, never to the server.
type ExplainRequest struct {
	Name      string     // fully qualified, or relative to the only zone
	Client    netip.Addr // the client's address
	Qtype     uint16     // dns.TypeA (default) or dns.TypeAAAA
	ECSSource int        // source prefix of the ECS option the resolver sends; 0 sends none; -1: 24 (IPv4) or 56 (IPv6)
	WhatIf    explain.WhatIf
}

// Explain answers req through the DNS answer path and says why.
func (h *Handler) Explain(req ExplainRequest) (*explain.Explanation, error) {
	cur := h.snap.Load()
	if cur == nil {
		return nil, errors.New("no configuration loaded yet")
	}
	if !req.Client.IsValid() {
		return nil, errors.New("client address is missing or invalid")
	}
	req.Client = req.Client.Unmap()
	if req.Qtype == 0 {
		req.Qtype = dns.TypeA
	}
	if req.ECSSource < 0 {
		req.ECSSource = 24
		if req.Client.Is6() {
			req.ECSSource = 56
		}
	}
	name, err := cur.Qualify(req.Name)
	if err != nil {
		return nil, err
	}
	snap := cur
	if !req.WhatIf.Empty() {
		if snap, err = h.whatIf(cur, req.WhatIf, name, req.Qtype, true); err != nil {
			return nil, err
		}
	}

	m := new(dns.Msg)
	m.SetQuestion(name, req.Qtype)
	if req.ECSSource > 0 {
		m.SetEdns0(dnswire.UDPSize, false)
		sub := netip.PrefixFrom(req.Client, req.ECSSource).Masked().Addr()
		family := uint16(1)
		if sub.Is6() {
			family = 2
		}
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family,
			SourceNetmask: uint8(req.ECSSource), Address: net.IP(sub.AsSlice())})
	}
	// The answer path runs as for a real query, but nothing counts: the
	// counters are only touched when a reply is sent (finish).
	pkt, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack the query: %w", err)
	}
	q := query{req: m, pkt: pkt, remote: req.Client, transport: "udp", zone: "none", snap: snap}
	h.answer(&q)

	ex := &explain.Explanation{Name: name, Zone: q.zone, Type: dns.TypeToString[req.Qtype], Client: req.Client.String(),
		ECSSource: req.ECSSource, Rule: q.reason, Chosen: q.region, Rcode: dns.RcodeToString[q.m.Rcode],
		Scope: q.ecs.ScopeFor(q.scope), Tier: []string{}, Answer: []string{}}
	if !req.WhatIf.Empty() {
		ex.WhatIf = &req.WhatIf
	}
	ex.DNSSEC = explainDNSSEC(cur, cur.Match(name)) // keys in force: a what-if changes none (dnssecanswer.go)
	for _, rr := range q.m.Answer {
		ex.Answer = append(ex.Answer, strings.ReplaceAll(rr.String(), "\t", " "))
		ex.TTL = rr.Header().Ttl
	}
	located := q.client
	if !located.IsValid() {
		located = req.Client
	}
	loc, network, found := h.geo.Lookup(located)
	ex.Location = explain.Location{Found: found, Country: loc.Country, Continent: loc.Continent,
		Subdivision: loc.Subdivision, Lat: loc.Lat, Lon: loc.Lon, Network: network.String()}
	if g := q.gslb; g != nil {
		ex.Policy = g.Policy
		if g.Policy == schema.PolicyGeo || g.Policy == schema.PolicyLatency {
			ex.TierRule = g.TierText()
		}
		// The plan is pure: run again with a trace, it is the plan the
		// answer above was drawn from.
		tr := &plan.Trace{}
		var p plan.Plan
		if pin, _, pinned := g.Pins.Find(located); pinned {
			// A pinned client's allowed regions are its pin's (shown as
			// fenced_out for the others), and GeoIP is skipped.
			p = g.PinPlan(q.qtype, pin, snap.Health, tr)
			ex.Pin = explainPin(g.Pins.Pin[pin])
			explainASNPin(ex.Pin, g.Pins, snap.Config.ASN, located)
			loc, found = geo.Location{}, false
			if ex.TierRule != "" { // no location ranks the pin's regions
				ex.TierRule = pinTierRule
			}
		} else {
			p = g.TracedPlan(q.qtype, loc, found, snap.Health, tr)
		}
		h.explainRegions(ex, snap, g, q.qtype, loc, found, tr, &p, located)
	}
	return ex, nil
}

// explainRegions fills in the candidates from the trace of the plan.
func (h *Handler) explainRegions(ex *explain.Explanation, snap *plan.Snapshot, g *plan.Name, qtype uint16, loc geo.Location, found bool, tr *plan.Trace, p *plan.Plan, client netip.Addr) {
	if g.Fence != nil {
		ex.Fence = &explain.Fence{Rule: g.Fence.Rule(loc), Allowed: []string{}}
	}
	inTier := uint64(0)
	for _, i := range p.Tier() {
		inTier |= 1 << i
		ex.Tier = append(ex.Tier, g.Regions[i].ID)
	}
	now := h.now()
	for i, r := range g.Regions {
		bit := uint64(1) << i
		rh := snap.Health.Regions[r.Idx]
		rrs := r.Addrs(qtype)
		er := explain.Region{ID: r.ID, Weight: r.Weight, NameWeight: r.NameWeight, Up: rh.Up, Checked: rh.Checked, FencedOut: tr.Allowed&bit == 0,
			HasFamily: len(rrs) > 0, InTier: inTier&bit != 0, Endpoints: []explain.Endpoint{}}
		if ex.Fence != nil && !er.FencedOut {
			ex.Fence.Allowed = append(ex.Fence.Allowed, r.ID)
		}
		if found {
			d := geo.Distance(loc.Lat, loc.Lon, r.Lat, r.Lon)
			er.DistanceKm = &d
		}
		if tr.Scored&bit != 0 {
			s := tr.Score[i]
			er.Score = &s
			if tr.Latency[i] {
				er.RTTMs = &s
			}
		}
		er.Endpoints = explainEndpoints(snap, r, now)
		explainLoad(ex, &er, snap, g, uint8(i), p, client)
		if v := snap.Health.View; v != nil && v.Regions[r.ID] != nil {
			rh := v.Regions[r.ID]
			er.Admin, er.AdminUntil = rh.Admin, untilText(rh.AdminUntil)
		}
		ex.Regions = append(ex.Regions, er)
	}
}

func explainEndpoints(snap *plan.Snapshot, r *plan.RegionAnswer, now time.Time) []explain.Endpoint {
	out := []explain.Endpoint{}
	var rh *health.RegionHealth
	if v := snap.Health.View; v != nil {
		rh = v.Regions[r.ID]
	}
	info := snap.Config.Regions[r.Idx]
	for j, a := range info.Addrs {
		ep := explain.Endpoint{Endpoint: a.String(), Up: true, Reports: map[string]explain.Report{}}
		if rh != nil && j < len(rh.Endpoints) {
			e := rh.Endpoints[j]
			ep.Up, ep.UpVotes, ep.Votes = e.Up, e.UpVotes, e.Votes
			ep.Admin, ep.AdminUntil = e.Admin, untilText(e.AdminUntil)
		}
		for prober, rep := range snap.State.Health[r.ID][ep.Endpoint] {
			ep.Reports[prober] = explain.Report{Up: rep.Up, RTT: time.Duration(rep.RTT).String(),
				AgeSeconds: now.Sub(rep.Time).Seconds(), Error: rep.Error}
		}
		out = append(out, ep)
	}
	return out
}

// whatIf returns a copy of cur with the hypothetical changes applied, and
// the ECS scope table of the asked name built for it, so the answer is
// what the server would give once the changes were real.
func (h *Handler) whatIf(cur *plan.Snapshot, w explain.WhatIf, name string, qtype uint16, withScope bool) (*plan.Snapshot, error) {
	base, err := h.stateAt(cur, w.At)
	if err != nil {
		return nil, err
	}
	st := *base
	st.Regions = maps.Clone(base.Regions)
	for id, n := range w.Weights {
		r := st.Regions[id]
		if r == nil {
			return nil, fmt.Errorf("weight: region %q does not exist", id)
		}
		if n < 0 || n > schema.MaxWeight {
			return nil, fmt.Errorf("weight: %s:%d is outside 0..%d", id, n, schema.MaxWeight)
		}
		copied := *r
		copied.Weight = n
		st.Regions[id] = &copied
	}
	if len(w.NameWeights) > 0 {
		if err := whatIfNameWeights(cur, &st, name, w.NameWeights); err != nil {
			return nil, err
		}
	}
	if err := whatIfTraffic(cur, &st, name, w); err != nil {
		return nil, err
	}
	st.ConfigRevision = -1 // never equal to a real one
	cfg, _ := plan.BuildConfigASN(&st, cur.Config.ASN)
	view := health.Aggregate(&st, h.now(), h.policy)
	regions := maps.Clone(view.Regions)
	for _, force := range []struct {
		ids []string
		up  bool
	}{{w.Down, false}, {w.Up, true}} {
		for _, id := range force.ids {
			rh := regions[id]
			if rh == nil {
				return nil, fmt.Errorf("region %q does not exist", id)
			}
			forced := &health.RegionHealth{Checked: true, Up: force.up, RTT: rh.RTT}
			for _, ep := range rh.Endpoints {
				ep.Up = force.up
				forced.Endpoints = append(forced.Endpoints, ep)
			}
			regions[id] = forced
		}
	}
	view = &health.View{Regions: regions, Probers: view.Probers}
	ht := plan.BuildHealth(cfg, view)
	if err := whatIfLoads(ht, cfg, &st, w, h.now(), h.policy.MaxAge); err != nil {
		return nil, err
	}
	snap := &plan.Snapshot{Revision: cur.Revision, Config: cfg, Health: ht, State: &st, Built: cur.Built}
	if p, ok := h.geo.(Partitioner); ok && withScope {
		if part, err := p.Partition(); err == nil {
			if z := snap.Match(name); z != nil {
				if n := z.Nodes[name]; n != nil && n.GSLB != nil {
					var pair [2]*plan.ScopeTable
					i := 0
					if qtype == dns.TypeAAAA {
						i = 1
					}
					pair[i] = plan.BuildScopeTable(part, n.GSLB, qtype, snap.Health)
					snap.Scopes = map[uint64][2]*plan.ScopeTable{n.GSLB.CfgKey: pair}
				}
			}
		}
	}
	return snap, nil
}
