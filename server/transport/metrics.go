package transport

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/internal/crash"
)

// Metrics are the transport's Prometheus metrics: TCP connections and the
// panics of the serving loops. Queries and answers are counted by the
// query pipeline (server.Metrics).
type Metrics struct {
	loopPanics prometheus.Counter // glb_panics_total{component="dns_server"}: the UDP and TCP serving loops
	tcpConns   prometheus.Gauge
	tcpClosed  map[string]prometheus.Counter // by reason, every reason resolved up front
	// drainCutShort counts shutdowns whose UDP drain reached drainMax
	// before its queues were seen empty: the queries still queued then
	// were lost, on a machine too busy to answer them in time.
	drainCutShort prometheus.Counter
}

// NewMetrics registers the transport's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{loopPanics: crash.Counter(reg, "dns_server")}
	m.tcpConns = f.NewGauge(prometheus.GaugeOpts{
		Namespace: "glb", Subsystem: "dns", Name: "tcp_connections",
		Help: "Open DNS-over-TCP connections.",
	})
	closed := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glb", Subsystem: "dns", Name: "tcp_closed_total",
		Help: "DNS-over-TCP connections closed or refused, by reason: idle, io_timeout, write_timeout, limit, evicted, evicted_client, lifetime, refused_global, refused_client, malformed, client_closed, error, shutdown, panic.",
	}, []string{"reason"})
	m.drainCutShort = f.NewCounter(prometheus.CounterOpts{
		Namespace: "glb", Subsystem: "dns", Name: "drain_cut_short_total",
		Help: "Shutdowns whose UDP drain reached its 500 ms bound before the socket queues were empty; queries still queued then were lost.",
	})
	m.tcpClosed = make(map[string]prometheus.Counter, len(closeReasons))
	for _, r := range closeReasons {
		m.tcpClosed[r] = closed.WithLabelValues(r)
	}
	return m
}
