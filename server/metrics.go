package server

import (
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/internal/crash"
	"github.com/glb-dns/glb/server/limit"
)

// Metrics are the server's Prometheus metrics. Labels are bounded: zones and
// names come from the configuration, qtype from a fixed list, and a client's
// address never becomes a label.
type Metrics struct {
	queries      *prometheus.CounterVec
	answers      *prometheus.CounterVec
	drained      *prometheus.CounterVec
	failOpen     *prometheus.CounterVec
	outcomes     *prometheus.CounterVec
	regionUp     *prometheus.GaugeVec
	regionWeight *prometheus.GaugeVec // set by setConfigMetrics (configmetrics.go)
	endpointUp   *prometheus.GaugeVec
	probers      prometheus.Gauge
	ecs          *prometheus.CounterVec
	ecsPresent   prometheus.Counter // ecs{ecs="present"}, resolved once
	ecsAbsent    prometheus.Counter
	panics       prometheus.Counter // also glb_panics_total{component="dns"}
	tickPanics   prometheus.Counter // glb_panics_total{component="health_tick"}
	scopePanics  prometheus.Counter // glb_panics_total{component="scope_worker"}
	duration     *durationHistogram // durationhistogram.go
	snapRevision prometheus.Gauge
	snapTime     prometheus.Gauge
	snapBuilds   prometheus.Counter
	snapWarnings prometheus.Counter
	scopeBuild   prometheus.Histogram
	limits       *limit.Metrics // RRL and cookies
	load         loadMetrics    // loadmetrics.go
	dnssec       *dnssecMetrics // dnsseckeys.go
	// scheduleSteps counts drain-schedule phase changes (schedule.go).
	scheduleSteps *prometheus.CounterVec
	// nameScheduleSteps counts per-name schedule phase changes (nameschedule.go).
	nameScheduleSteps *prometheus.CounterVec
	// asnUnresolved counts the names whose ASN pins pin nothing (asn.go).
	asnUnresolved prometheus.Gauge
}

// NewMetrics registers the server's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		queries: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "dns", Name: "queries_total",
			Help: "DNS queries answered, by zone (\"none\" when not ours), query type, response code and transport.",
		}, []string{"zone", "qtype", "rcode", "transport"}),
		answers: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "dns", Name: "answers_total",
			Help: "GSLB answers given, by zone, name and the region chosen.",
		}, []string{"zone", "name", "region"}),
		drained: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "dns", Name: "all_drained_total",
			Help: "Queries answered NODATA because every region of the name has weight 0.",
		}, []string{"zone", "name"}),
		failOpen: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "dns", Name: "fail_open_total",
			Help: "Answers given with health ignored because no live region of the name was up.",
		}, []string{"zone", "name"}),
		outcomes: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "dns", Name: "outcomes_total",
			Help: "GSLB answers decided by a rule other than the policy: fail_open, fallback, panic, nodata, servfail, all_drained, none.",
		}, []string{"zone", "name", "outcome"}),
		regionUp: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "glb", Subsystem: "health", Name: "region_up",
			Help: "1 when the region may be answered with (up, or no health data), else 0.",
		}, []string{"region"}),
		endpointUp: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "glb", Subsystem: "health", Name: "endpoint_up",
			Help: "1 when a quorum of fresh probers reports the endpoint up (or none reports on it), else 0.",
		}, []string{"region", "endpoint"}),
		probers: f.NewGauge(prometheus.GaugeOpts{
			Namespace: "glb", Subsystem: "health", Name: "probers",
			Help: "Registered probers.",
		}),
		ecs: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "dns", Name: "ecs_queries_total",
			Help: "Queries with and without an EDNS Client Subnet option.",
		}, []string{"ecs"}),
		panics: crash.Also(f.NewCounter(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "dns", Name: "panics_total",
			Help: "Queries whose handling panicked; each was answered SERVFAIL.",
		}), crash.Counter(reg, "dns")),
		tickPanics:  crash.Counter(reg, "health_tick"),
		scopePanics: crash.Counter(reg, "scope_worker"),
		snapRevision: f.NewGauge(prometheus.GaugeOpts{
			Namespace: "glb", Subsystem: "server", Name: "snapshot_revision",
			Help: "etcd revision of the snapshot being served.",
		}),
		snapTime: f.NewGauge(prometheus.GaugeOpts{
			Namespace: "glb", Subsystem: "server", Name: "snapshot_timestamp_seconds",
			Help: "Unix time at which the snapshot being served was swapped in.",
		}),
		snapBuilds: f.NewCounter(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "server", Name: "snapshot_builds_total",
			Help: "Snapshots built and swapped in.",
		}),
		scopeBuild: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: "glb", Subsystem: "server", Name: "scope_build_duration_seconds",
			Help:    "Time to build the ECS scope tables after a configuration, health or GeoIP change.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		snapWarnings: f.NewCounter(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "server", Name: "snapshot_warnings_total",
			Help: "Records left out of a snapshot because they could not be built.",
		}),
	}
	m.duration = newDurationHistogram("glb_dns_request_duration_seconds",
		"Time from a query being read to its reply being sent; the queries of one UDP batch, read and sent together, count the batch's time.",
		[]float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2})
	if reg != nil {
		reg.MustRegister(m.duration)
	}
	m.limits = limit.NewMetrics(reg)
	m.dnssec = newDNSSECMetrics(f, reg)
	m.regionWeight = f.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "glb", Name: "region_weight",
		Help: "Weight in force of each region of the configuration: 0 (drained) to 1000, 100 without a weight key.",
	}, []string{"region"})
	m.scheduleSteps = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glb", Subsystem: "server", Name: "schedule_steps_total",
		Help: "Drain-schedule phase changes applied, by region and what happened: step, ttl_first (TTLs lowered, weights held), paused, expired, cancelled.",
	}, []string{"region", "what"})
	m.nameScheduleSteps = newNameScheduleSteps(f)
	m.asnUnresolved = newASNUnresolved(f)
	m.ecsPresent, m.ecsAbsent = m.ecs.WithLabelValues("present"), m.ecs.WithLabelValues("absent")
	m.load = newLoadMetrics(f)
	return m
}

// qtypeLabels keeps the qtype label bounded: anything else is "other".
var qtypeLabels = func() map[uint16]string {
	m := map[uint16]string{}
	for _, t := range []uint16{
		dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeSOA, dns.TypeNS, dns.TypeMX, dns.TypeTXT,
		dns.TypeSRV, dns.TypeCAA, dns.TypePTR, dns.TypeANY, dns.TypeHTTPS, dns.TypeSVCB,
		dns.TypeDS, dns.TypeDNSKEY, dns.TypeAXFR, dns.TypeIXFR,
	} {
		m[t] = dns.TypeToString[t]
	}
	return m
}()

func qtypeLabel(t uint16) string {
	if s, ok := qtypeLabels[t]; ok {
		return s
	}
	return "other"
}

// rcodeLabel is the rcode label of a reply. 16 is BADVERS: the DNS library
// names it BADSIG (its TSIG meaning), but glb signs nothing, and only
// answers 16 to an EDNS version it does not speak.
func rcodeLabel(rc int) string {
	if rc == dns.RcodeBadVers {
		return "BADVERS"
	}
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "other"
}
