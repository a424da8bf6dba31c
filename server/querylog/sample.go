package querylog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/server"
)

// Widest client networks a query log names: a /24 is the usual unit of
// IPv4 assignment and routing, a /56 a typical IPv6 site. RFC 7871 11.1
// recommends these as the longest ECS source prefixes a resolver sends,
// for the same reason.
const (
	maxLoggedBits4 = 24
	maxLoggedBits6 = 56
)

// SampleConfig configures a Sampler.
type SampleConfig struct {
	// Rate is the share of queries logged, from 0 (none) to 1 (all); 0.01
	// logs one query in a hundred.
	Rate float64
	// Rand returns a number in [0,1) and must be safe for concurrent use;
	// default math/rand/v2 Float64.
	Rand func() float64
}

// Sampler is a server.QueryObserver that logs a random sample of queries,
// one JSON line each when out has a JSON handler, at Info with the message
// "query". The record's time is the query's arrival, and its other keys are
// client_subnet, qname, qtype, rcode, zone, region, reason, transport and
// duration_seconds.
type Sampler struct {
	rate    float64
	rand    func() float64
	out     slog.Handler
	sampled prometheus.Counter
}

// NewSampler returns a Sampler writing to out. reg receives
// glb_querylog_sampled_total.
func NewSampler(cfg SampleConfig, out *slog.Logger, reg prometheus.Registerer) (*Sampler, error) {
	if math.IsNaN(cfg.Rate) || cfg.Rate < 0 || cfg.Rate > 1 {
		return nil, fmt.Errorf("query log config: Rate %v: want 0 to 1", cfg.Rate)
	}
	if out == nil {
		return nil, errors.New("query log config: no logger")
	}
	s := &Sampler{rate: cfg.Rate, rand: cfg.Rand, out: out.Handler()}
	if s.rand == nil {
		s.rand = rand.Float64
	}
	s.sampled = promauto.With(reg).NewCounter(prometheus.CounterOpts{
		Namespace: "glb", Subsystem: "querylog", Name: "sampled_total",
		Help: "Queries written to the sampled query log.",
	})
	return s, nil
}

// Observe logs ev when this query is drawn. The draw is all an unsampled
// query costs.
func (s *Sampler) Observe(ev *server.QueryEvent) {
	if s.Sample() {
		s.log(ev)
	}
}

var _ server.SamplingObserver = (*Sampler)(nil)

// Sample draws whether the next query is logged. The server draws before
// answering (server.SamplingObserver), so a query not drawn keeps the
// fast path.
func (s *Sampler) Sample() bool { return s.rate > 0 && s.rand() < s.rate }

// Record logs ev, a query Sample drew.
func (s *Sampler) Record(ev *server.QueryEvent) { s.log(ev) }

// log writes ev's line. It builds the record by hand to give it the
// query's time rather than the time of logging.
func (s *Sampler) log(ev *server.QueryEvent) {
	// Observe has no ctx; handlers need none to format a line.
	ctx := context.Background()
	if !s.out.Enabled(ctx, slog.LevelInfo) {
		return
	}
	var qname string
	var qtype uint16
	if ev.Req != nil && len(ev.Req.Question) > 0 {
		qname, qtype = ev.Req.Question[0].Name, ev.Req.Question[0].Qtype
	}
	rcode := -1
	if ev.Resp != nil {
		rcode = ev.Resp.Rcode
	}
	r := slog.NewRecord(ev.Time, slog.LevelInfo, "query", 0)
	r.AddAttrs(
		slog.String("client_subnet", clientSubnet(ev.ECS, ev.Remote)),
		slog.String("qname", qname),
		slog.String("qtype", typeString(qtype)),
		slog.String("rcode", rcodeString(rcode)),
		slog.String("zone", ev.Zone),
		slog.String("region", ev.Region),
		slog.String("reason", ev.Reason),
		slog.String("transport", ev.Transport),
		slog.Float64("duration_seconds", ev.Duration.Seconds()),
	)
	// A write error has no one to go to: the query log is best effort.
	_ = s.out.Handle(ctx, r)
	s.sampled.Inc()
}

// clientSubnet is the network a query came from, never narrower than
// /24 or /56: the ECS prefix when the query carried one with a non-zero
// source prefix (it is what the answer was decided for), else the
// packet's source. "" when neither is known.
func clientSubnet(ecs netip.Prefix, remote netip.Addr) string {
	p := ecs
	if !p.IsValid() || p.Bits() == 0 {
		// An ECS /0 asks that no client address be used: the answer
		// was decided for the source.
		if !remote.IsValid() {
			return ""
		}
		p = netip.PrefixFrom(remote, remote.BitLen())
	}
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() {
		a, bits = a.Unmap(), max(0, bits-96)
	}
	limit := maxLoggedBits6
	if a.Is4() {
		limit = maxLoggedBits4
	}
	q, err := a.Prefix(min(bits, limit))
	if err != nil {
		return ""
	}
	return q.String()
}

// typeString names a query type: "A", or "TYPE65280" for one the DNS
// library has no name for.
func typeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// rcodeString names a response code: "NOERROR", or "RCODE23" for one the
// DNS library has no name for.
func rcodeString(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}
