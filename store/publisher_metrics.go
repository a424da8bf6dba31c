package store

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/internal/crash"
)

// PublisherMetrics are a prober's etcd metrics, so that the write load it
// puts on etcd and the state of its lease are observable.
type PublisherMetrics struct {
	leaseUp     prometheus.Gauge
	grants      prometheus.Counter
	writes      *prometheus.CounterVec
	writeErrors *prometheus.CounterVec
	panics      prometheus.Counter
	denied      *prometheus.CounterVec // glb_etcd_denied_total, shared with Metrics
}

// NewPublisherMetrics registers the publisher's metrics with reg.
func NewPublisherMetrics(reg prometheus.Registerer) *PublisherMetrics {
	f := promauto.With(reg)
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "glb", Subsystem: "prober", Name: name, Help: help}
	}
	m := &PublisherMetrics{
		leaseUp: f.NewGauge(prometheus.GaugeOpts{Namespace: "glb", Subsystem: "prober", Name: "lease_up",
			Help: "1 while the prober holds an etcd lease, so its results are visible; 0 otherwise."}),
		grants: f.NewCounter(opts("lease_grants_total", "etcd leases granted; more than one means a lease was lost.")),
		writes: f.NewCounterVec(opts("etcd_writes_total",
			"Keys the prober wrote to etcd, by operation (put or delete)."), []string{"op"}),
		writeErrors: f.NewCounterVec(opts("etcd_write_errors_total",
			"Keys whose write to etcd failed, by operation (put or delete)."), []string{"op"}),
		panics: crash.Also(f.NewCounter(opts("publisher_panics_total", "Panics recovered at the root of the prober's publisher.")),
			crash.Counter(reg, "publisher")),
		denied: deniedCounter(reg),
	}
	for _, op := range []string{opPut, opDelete} {
		m.writes.WithLabelValues(op)
		m.writeErrors.WithLabelValues(op)
	}
	return m
}
