package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/server/plan"
)

// loadMetrics are the gauges of load-aware steering.
type loadMetrics struct {
	load *prometheus.GaugeVec
	shed *prometheus.GaugeVec
}

func newLoadMetrics(f promauto.Factory) loadMetrics {
	return loadMetrics{
		load: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "glb", Name: "region_load",
			Help: "Load in force of each region that has one (load key, else the median of fresh prober reports): 0 idle, 1 at capacity.",
		}, []string{"region"}),
		shed: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "glb", Name: "region_shed_ratio",
			Help: "Share of each region's nearest client subnets it currently moves away (0..1), after hysteresis.",
		}, []string{"region"}),
	}
}

// setLoadMetrics sets the load gauges of the regions with a load, the shed
// ratio of every region, and deletes the series of regions that lost their
// load or went away; never a Reset (see setHealthMetrics). h.mu is held.
func (h *Handler) setLoadMetrics(cfg *plan.Config, ht *plan.HealthTable) {
	m := h.metrics.load
	regions := make(map[string]struct{}, len(cfg.Regions))
	for i, r := range cfg.Regions {
		load, ok, _, shed, _ := ht.RegionLoad(cfg, i)
		m.shed.WithLabelValues(r.ID).Set(shed)
		regions[r.ID] = struct{}{}
		if ok {
			m.load.WithLabelValues(r.ID).Set(load)
		} else {
			m.load.DeleteLabelValues(r.ID)
		}
	}
	for id := range h.loadSeries {
		if _, ok := regions[id]; !ok {
			m.load.DeleteLabelValues(id)
			m.shed.DeleteLabelValues(id)
		}
	}
	h.loadSeries = regions
}
