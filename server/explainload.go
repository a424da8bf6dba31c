package server

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/server/explain"
	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// explainLoad adds region i's load, watermarks and verdict on the client
// to er, and names it in ex.Shed when it is in the tier and sheds the
// client.
func explainLoad(ex *explain.Explanation, er *explain.Region, snap *plan.Snapshot, g *plan.Name, i uint8, p *plan.Plan, client netip.Addr) {
	load, ok, source, share, marks := snap.Health.RegionLoad(snap.Config, g.Regions[i].Idx)
	if ok {
		er.Load, er.LoadSource = &load, source
	}
	if marks == nil {
		return
	}
	er.Shed = &explain.Shed{Low: marks.Low, High: marks.High, Share: share}
	keeps := g.Keeps(i, client, snap.Health)
	er.KeepsClient = &keeps
	if !keeps && er.InTier {
		ex.Shed = append(ex.Shed, g.Regions[i].ID)
	}
}

// whatIfLoads sets the loads of ht: those in force in st, with w's in
// their place, and the shed shares they give at a steady load.
func whatIfLoads(ht *plan.HealthTable, cfg *plan.Config, st *schema.State, w explain.WhatIf, now time.Time, maxAge time.Duration) error {
	loads := health.Loads(st, now, maxAge)
	for id, v := range w.Loads {
		if _, ok := cfg.RegionIdx[id]; !ok {
			return fmt.Errorf("load: region %q does not exist", id)
		}
		if err := schema.CheckLoad(v); err != nil {
			return fmt.Errorf("load: %s: %w", id, err)
		}
		loads[id] = health.RegionLoad{Load: v, Source: "what-if"}
	}
	ht.ApplyLoads(cfg, loads, nil, now)
	return nil
}
