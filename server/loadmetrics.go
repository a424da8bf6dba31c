package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/server/plan"
)

// loadMetrics are the gauges of load-aware steering.
type loadMetrics struct {
	load  *prometheus.GaugeVec
	shed  *prometheus.GaugeVec
	stale prometheus.Counter
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
		stale: f.NewCounter(prometheus.CounterOpts{
			Namespace: "glb", Name: "region_load_stale_total",
			Help: "Times a region's prober-reported loads all went stale (older than 30s) and were ignored.",
		}),
	}
}

// noteStaleLoads logs and counts each region whose prober-reported loads
// went all stale, once until it has a fresh one again. h.mu is held.
func (h *Handler) noteStaleLoads(stale []string) {
	now := make(map[string]bool, len(stale))
	for _, id := range stale {
		now[id] = true
		if !h.staleLoads[id] {
			h.metrics.load.stale.Inc()
			h.log.Warn("region load ignored: every prober report of it is stale", "region", id, "max_age", health.LoadFresh)
		}
	}
	h.staleLoads = now
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
