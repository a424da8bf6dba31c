package server

import (
	"net/netip"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/server/explain"
	"github.com/glb-dns/glb/server/plan"
)

// ASN pins are resolved when the configuration is built (plan.Pins), from
// the ASN database in use: a new database means a new configuration, and
// the query path never reads the database.

// ASNReloaded rebuilds the configuration with the ASN database now in use,
// so ASN pins follow it at once; glbd's ASN reloader calls it.
func (h *Handler) ASNReloaded() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != nil {
		h.rebuild()
	}
}

// newASNUnresolved is glb_server_asn_pins_unresolved: a gauge, not only
// the WARN line, so that an alert sees pins that silently pin nothing.
func newASNUnresolved(f promauto.Factory) prometheus.Gauge {
	return f.NewGauge(prometheus.GaugeOpts{
		Namespace: "glb", Subsystem: "server", Name: "asn_pins_unresolved",
		Help: "Names whose pins list AS numbers that pin nothing because no ASN database is loaded (-geoip-asn); 0 when every ASN pin resolves.",
	})
}

// noteASNPins warns, once per configuration built, about names whose pins
// list ASNs that pin nothing because glbd runs without -geoip-asn, and
// sets glb_server_asn_pins_unresolved to their number.
func (h *Handler) noteASNPins(cfg *plan.Config) {
	var names []string
	for _, g := range cfg.Names {
		if g.Pins != nil && g.Pins.ASNUnresolved {
			names = append(names, g.Owner)
		}
	}
	h.metrics.asnUnresolved.Set(float64(len(names)))
	if len(names) > 0 {
		h.log.Warn("pins list ASNs but no ASN database is loaded (-geoip-asn); those ASNs pin nothing", "names", names)
	}
}

// explainASNPin says how a pinned client matched its pin: by one of its
// CIDRs, or by its AS (then which, from the ASN database asn).
func explainASNPin(p *explain.Pin, ps *plan.Pins, asn *geo.ASNTable, client netip.Addr) {
	p.By = "cidr"
	if !ps.ByASN(client) {
		return
	}
	p.By = "asn"
	if n, org, network, ok := asn.LookupASN(client); ok {
		p.ASN = &explain.ASN{Number: "AS" + strconv.FormatUint(uint64(n), 10), Org: org, Network: network.String()}
	}
}

// pinTierRule is /explain's tier_rule for a pinned client of a geo or
// latency name: the pin has no location to rank its regions by, so they
// all share the traffic by weight (plan.Name.PinPlan).
const pinTierRule = "the pin's regions, by weight (no location to rank by)"
