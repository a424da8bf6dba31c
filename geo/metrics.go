package geo

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/internal/crash"
)

// Metrics are the GeoIP database's Prometheus metrics, updated by a
// Reloader. Make one with NewMetrics.
type Metrics struct {
	buildTime      prometheus.Gauge
	reloads        *prometheus.CounterVec
	lastReload     prometheus.Gauge
	lastSuccessful prometheus.Gauge
	panics         prometheus.Counter // glb_panics_total{component="geoip"}
	verified       prometheus.Gauge
}

// NewMetrics registers the GeoIP (City) database's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics { return newMetrics(reg, "geoip") }

// NewASNMetrics registers the ASN database's metrics with reg: the same
// as NewMetrics's, named glb_geoip_asn_*.
func NewASNMetrics(reg prometheus.Registerer) *Metrics { return newMetrics(reg, "geoip_asn") }

func newMetrics(reg prometheus.Registerer, subsystem string) *Metrics {
	f := promauto.With(reg)
	gauge := func(name, help string) prometheus.Gauge {
		return f.NewGauge(prometheus.GaugeOpts{Namespace: "glb", Subsystem: subsystem, Name: name, Help: help})
	}
	m := &Metrics{
		buildTime: gauge("build_timestamp_seconds", "Build time (metadata build_epoch) of the GeoIP database in use, in Unix seconds."),
		reloads: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: subsystem, Name: "reloads_total",
			Help: "Attempts to load a changed GeoIP database file, by result (ok, or error: the file was rejected and the database in use kept).",
		}, []string{"result"}),
		lastReload: gauge("last_reload_timestamp_seconds", "Unix time of the last successful load of the GeoIP database (the open at start-up, then each reload)."),
		lastSuccessful: gauge("last_reload_successful",
			"1 when the last attempt to load the GeoIP database file succeeded, 0 while the file on disk is rejected."),
		panics: crash.Counter(reg, subsystem),
		verified: gauge("verified",
			"1 once the GeoIP database in use passed the full verification (every tree node and record), 0 while it runs after start-up and when it failed."),
	}
	// Both results exist from the start, so rate() and increase() work from
	// the first reload on.
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	return m
}
