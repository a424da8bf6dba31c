package server

import (
	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// configSeries are the label sets of the series that follow the
// configuration rather than the queries: a region's weight, and the
// counters that alerts use, which must exist at zero from the start (an
// alert on increase() cannot tell "no fail-open" from "not exported yet").
type configSeries struct {
	regions map[string]bool    // glb_region_weight{region}
	names   map[[2]string]bool // glb_dns_fail_open_total and glb_dns_all_drained_total{zone,name}
}

// setConfigMetrics brings those series in line with a new configuration:
// set for every region and name, and deleted one by one for those that
// went (never Reset, which would make a scrape between the Reset and the
// Sets see them missing). h.mu is held.
func (h *Handler) setConfigMetrics(cfg *plan.Config, st *schema.State) {
	next := configSeries{regions: map[string]bool{}, names: map[[2]string]bool{}}
	for _, r := range cfg.Regions {
		next.regions[r.ID] = true
		if rs := st.Regions[r.ID]; rs != nil {
			h.metrics.regionWeight.WithLabelValues(r.ID).Set(float64(rs.Weight))
		}
	}
	for _, g := range cfg.Names {
		next.names[[2]string{g.Zone, h.nameLabel(g)}] = true
	}
	for n := range next.names {
		h.metrics.failOpen.WithLabelValues(n[0], n[1]).Add(0)
		h.metrics.drained.WithLabelValues(n[0], n[1]).Add(0)
	}
	for id := range h.series.regions {
		if !next.regions[id] {
			h.metrics.regionWeight.DeleteLabelValues(id)
		}
	}
	for n := range h.series.names {
		if !next.names[n] {
			h.metrics.failOpen.DeleteLabelValues(n[0], n[1])
			h.metrics.drained.DeleteLabelValues(n[0], n[1])
		}
	}
	h.series = next
}
