package store

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/store/schema"

	"github.com/glb-dns/glb/internal/crash"
)

// Metrics are the store's Prometheus metrics. Make one with NewMetrics and
// share it between the store's parts.
type Metrics struct {
	revision      prometheus.Gauge
	rejectedKeys  prometheus.Gauge
	rejections    *prometheus.CounterVec
	watchRestarts prometheus.Counter
	states        prometheus.Counter
	lastState     prometheus.Gauge
	panics        prometheus.Counter
	stale         prometheus.Gauge
	cacheWrites   *prometheus.CounterVec
	denied        *prometheus.CounterVec // glb_etcd_denied_total, shared with PublisherMetrics

	// connected is read by the glb_store_etcd_connected gauge at scrape
	// time; the Watcher sets it.
	connected atomic.Pointer[func() bool]
}

// NewMetrics registers the store's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	gauge := func(name, help string) prometheus.Gauge {
		return f.NewGauge(prometheus.GaugeOpts{Namespace: "glb", Subsystem: "store", Name: name, Help: help})
	}
	counter := func(name, help string) prometheus.Counter {
		return f.NewCounter(prometheus.CounterOpts{Namespace: "glb", Subsystem: "store", Name: name, Help: help})
	}
	m := &Metrics{
		revision:     gauge("revision", "etcd revision of the last configuration state handed on."),
		rejectedKeys: gauge("rejected_keys", "Number of keys whose current value is rejected in the last state handed on."),
		rejections: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "store", Name: "rejections_total",
			Help: "Keys newly rejected (a new key, or a new reason), by kind of key.",
		}, []string{"kind"}),
		watchRestarts: counter("watch_restarts_total", "Times the etcd watch ended with an error and the prefix was listed again."),
		states:        counter("states_total", "Configuration states handed on."),
		lastState:     gauge("last_state_timestamp_seconds", "Unix time at which the last configuration state was handed on."),
		panics:        crash.Also(counter("panics_total", "Panics recovered at the root of a store goroutine."), crash.Counter(reg, "store")),
		stale: gauge("stale",
			"1 while the configuration served came from the cache file because etcd has not been listed since start-up."),
		cacheWrites: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "store", Name: "cache_writes_total",
			Help: "Saves of the last good configuration to the cache file, by result (ok, error).",
		}, []string{"result"}),
		denied: deniedCounter(reg),
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "glb", Subsystem: "store", Name: "etcd_connected",
		Help: "1 when the last list of etcd succeeded and the client's connection to etcd is up, else 0.",
	}, func() float64 {
		if f := m.connected.Load(); f != nil && (*f)() {
			return 1
		}
		return 0
	})
	m.cacheWrites.WithLabelValues("ok")
	m.cacheWrites.WithLabelValues("error")
	// Every kind is exported from the start, so that a rate() over the
	// counter works from the first rejection on.
	for k := schema.KindUnknown; k <= schema.KindSchedule; k++ {
		m.rejections.WithLabelValues(k.String())
	}
	return m
}
