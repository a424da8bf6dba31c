package health

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/internal/crash"
)

// Metrics are the prober's Prometheus metrics. Labels are bounded by the
// configuration: regions and their endpoint addresses, and the check types.
type Metrics struct {
	checks        *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	endpointUp    *prometheus.GaugeVec
	publishErrors prometheus.Counter
	panics        prometheus.Counter
	targets       prometheus.Gauge
	loadErrors    *prometheus.CounterVec
}

// NewMetrics registers the prober's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		checks: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "prober", Name: "checks_total",
			Help: "Health checks run, by region and result (ok or fail).",
		}, []string{"region", "result"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "glb", Subsystem: "prober", Name: "check_duration_seconds",
			Help: "Time a health check took, to the end of its judgement, by check type.",
			// Checks are bounded by their timeout, 2s by default; the
			// default buckets cover a loopback check up to a 10s timeout.
			Buckets: prometheus.DefBuckets,
		}, []string{"type"}),
		endpointUp: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "glb", Subsystem: "prober", Name: "endpoint_up",
			Help: "This prober's verdict on an endpoint after rise/fall hysteresis: 1 up, 0 down.",
		}, []string{"region", "endpoint"}),
		publishErrors: f.NewCounter(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "prober", Name: "publish_errors_total",
			Help: "Verdicts that could not be published or withdrawn.",
		}),
		panics: crash.Also(f.NewCounter(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "prober", Name: "panics_total",
			Help: "Panics recovered in probe loops.",
		}), crash.Counter(reg, "prober")),
		targets: f.NewGauge(prometheus.GaugeOpts{
			Namespace: "glb", Subsystem: "prober", Name: "targets",
			Help: "Endpoints this prober is configured to check.",
		}),
		loadErrors: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "prober", Name: "load_errors_total",
			Help: "Successful checks whose response had no valid load where the check's load spec points, by region.",
		}, []string{"region"}),
	}
	// The check types are known in advance: export them from the start so
	// that rate() and histogram_quantile() work from the first check on.
	for _, typ := range []string{"http", "https", "tcp"} {
		m.duration.WithLabelValues(typ)
	}
	return m
}

// addRegion exports a region's check counters at zero before its first
// check, for the same reason.
func (m *Metrics) addRegion(region string) {
	m.checks.WithLabelValues(region, "ok")
	m.checks.WithLabelValues(region, "fail")
}
