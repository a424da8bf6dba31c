// Package server answers DNS queries for glb's zones from an immutable
// snapshot of the configuration, choosing a region per query.
package server

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store/schema"
)

// Locator finds where a client address is; *geo.DB is one.
type Locator interface {
	Lookup(ip netip.Addr) (loc geo.Location, network netip.Prefix, found bool)
}

// Options configure a Handler. Zero fields take the defaults named on each.
type Options struct {
	Geo        Locator          // required
	Metrics    *Metrics         // required
	Logger     *slog.Logger     // default: discard
	Rand       func(n int) int  // returns [0,n); default math/rand/v2 IntN
	Now        func() time.Time // default time.Now
	MaxUDPSize int              // largest UDP reply, default 1232 (DNS Flag Day 2020)
	Health     health.Policy    // quorum and report age; zero fields take health.DefaultPolicy
}

// Handler is the dns.Handler for every zone glb serves. Its only shared
// state on the query path is the snapshot pointer, swapped whole by Apply.
type Handler struct {
	snap    atomic.Pointer[Snapshot]
	mu      sync.Mutex    // serialises Apply and Run's rebuilds; never taken by queries
	state   *schema.State // the last state applied
	policy  health.Policy
	geo     Locator
	metrics *Metrics
	log     *slog.Logger
	intn    func(int) int
	now     func() time.Time
	maxUDP  int
}

// NewHandler returns a Handler with no snapshot: until the first Apply it
// answers SERVFAIL, since it cannot yet tell our names from others.
func NewHandler(o Options) *Handler {
	h := &Handler{geo: o.Geo, metrics: o.Metrics, log: o.Logger, intn: o.Rand, now: o.Now, maxUDP: o.MaxUDPSize, policy: o.Health}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "server")
	if h.intn == nil {
		h.intn = rand.IntN
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxUDP == 0 {
		h.maxUDP = ourUDPSize
	}
	return h
}

// Apply makes st the state answers come from: it rebuilds the configuration
// part of the snapshot when st's configuration changed, aggregates health,
// and swaps the new snapshot in. It runs off the query path, in the store's
// watcher.
func (h *Handler) Apply(st *schema.State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state = st
	h.rebuild()
}

// Run re-aggregates health every HealthTick until ctx is done, so that
// reports which stop being refreshed go stale even when nothing else changes.
func (h *Handler) Run(ctx context.Context) error {
	t := time.NewTicker(HealthTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.mu.Lock()
			if h.state != nil {
				h.rebuild()
			}
			h.mu.Unlock()
		}
	}
}

// HealthTick is how often Run re-evaluates report freshness.
const HealthTick = time.Second

// rebuild swaps in a snapshot of h.state; h.mu is held.
func (h *Handler) rebuild() {
	st, now := h.state, h.now()
	cur := h.snap.Load()
	cfg := (*config)(nil)
	if cur != nil && cur.cfg.revision == st.ConfigRevision {
		cfg = cur.cfg
	} else {
		var warns []error
		cfg, warns = buildConfig(st)
		for _, w := range warns {
			h.log.Warn("record left out of snapshot", "revision", st.Revision, "err", w)
		}
		h.metrics.snapWarnings.Add(float64(len(warns)))
		h.log.Info("configuration snapshot built", "revision", st.ConfigRevision, "zones", len(cfg.zones),
			"regions", len(cfg.regions), "duration_seconds", h.now().Sub(now).Seconds())
	}
	ht := buildHealth(cfg, health.Aggregate(st, now, h.policy))
	h.logHealthChanges(cur, cfg, ht)
	h.snap.Store(&Snapshot{Revision: st.Revision, cfg: cfg, health: ht})
	h.metrics.snapBuilds.Inc()
	h.metrics.snapRevision.Set(float64(st.Revision))
	h.metrics.snapTime.Set(float64(now.UnixNano()) / 1e9)
	h.setHealthMetrics(cfg, ht)
}

// logHealthChanges logs one line per region whose verdict flipped.
func (h *Handler) logHealthChanges(cur *Snapshot, cfg *config, ht *healthTable) {
	for i, r := range cfg.regions {
		was := true
		if cur != nil {
			if j, ok := cur.cfg.regionIdx[r.id]; ok {
				was = cur.health.regions[j].up
			}
		}
		if now := ht.regions[i].up; now != was {
			h.log.Info("region health changed", "region", r.id, "up", now)
		}
	}
}

func (h *Handler) setHealthMetrics(cfg *config, ht *healthTable) {
	h.metrics.regionUp.Reset()
	h.metrics.endpointUp.Reset()
	for i, r := range cfg.regions {
		h.metrics.regionUp.WithLabelValues(r.id).Set(b2f(ht.regions[i].up))
		for j, a := range r.addrs {
			h.metrics.endpointUp.WithLabelValues(r.id, a.String()).Set(b2f(j < 64 && ht.regions[i].mask&(1<<j) != 0))
		}
	}
	if ht.view != nil {
		h.metrics.probers.Set(float64(len(ht.view.Probers)))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Ready reports whether a snapshot has been applied.
func (h *Handler) Ready() bool { return h.snap.Load() != nil }

// ServeDNS answers one query. Nothing here blocks or logs per query.
func (h *Handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	start := h.now()
	transport := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		transport = "tcp"
	}
	defer func() {
		if v := recover(); v != nil {
			h.metrics.panics.Inc()
			h.log.Error("panic answering query", "panic", v, "stack", string(debug.Stack()))
			m := new(dns.Msg)
			m.SetRcode(r, dns.RcodeServerFailure)
			_ = w.WriteMsg(m)
		}
	}()

	m, zoneLabel, udpSize := h.answer(r, remoteAddr(w.RemoteAddr()))
	if transport == "udp" {
		m.Truncate(udpSize)
	}
	// A write error means the client went away; there is no one to tell.
	_ = w.WriteMsg(m)

	var qtype uint16
	if len(r.Question) > 0 {
		qtype = r.Question[0].Qtype
	}
	h.metrics.queries.WithLabelValues(zoneLabel, qtypeLabel(qtype), rcodeLabel(m.Rcode), transport).Inc()
	h.metrics.duration.Observe(h.now().Sub(start).Seconds())
}

// answer builds the reply to r from a client at remote. It returns the reply,
// the zone label for metrics and the UDP size the reply must fit in.
func (h *Handler) answer(r *dns.Msg, remote netip.Addr) (*dns.Msg, string, int) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Compress = true
	zoneLabel := "none"

	if r.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return m, zoneLabel, dns.MinMsgSize
	}
	opt, ok := findOPT(r)
	if !ok || len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m, zoneLabel, dns.MinMsgSize
	}
	udpSize := dns.MinMsgSize
	var ecs clientSubnet
	if opt != nil {
		udpSize = max(dns.MinMsgSize, min(int(opt.UDPSize()), h.maxUDP))
		m.SetEdns0(ourUDPSize, opt.Do())
		if opt.Version() != 0 {
			m.Rcode = dns.RcodeBadVers
			return m, zoneLabel, udpSize
		}
		var err error
		if ecs, err = parseECS(opt); err != nil {
			m.Rcode = dns.RcodeFormatError
			return m, zoneLabel, udpSize
		}
	}

	q := r.Question[0]
	snap := h.snap.Load()
	switch {
	case snap == nil:
		m.Rcode = dns.RcodeServerFailure // not configured yet: let resolvers try another server
		return m, zoneLabel, udpSize
	case q.Qclass != dns.ClassINET:
		m.Rcode = dns.RcodeRefused
		return m, zoneLabel, udpSize
	}
	qname := strings.ToLower(q.Name)
	z := snap.match(qname)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		return m, zoneLabel, udpSize
	}
	zoneLabel = z.label
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		m.Rcode = dns.RcodeRefused // no zone transfers: every instance reads etcd itself
		return m, zoneLabel, udpSize
	}
	m.Authoritative = true

	client := remote
	if ecs.usable() {
		client = ecs.addr
	}
	scope := h.resolve(m, snap, z, qname, q.Qtype, client)
	if ecs.present {
		o := m.IsEdns0()
		o.Option = append(o.Option, ecs.replyOption(ecs.scopeFor(scope)))
	}
	return m, zoneLabel, udpSize
}

// findOPT returns the query's OPT record. ok is false when the query is
// malformed in a way RFC 6891 6.1.1 answers with FORMERR: an OPT outside the
// additional section, or more than one.
func findOPT(r *dns.Msg) (opt *dns.OPT, ok bool) {
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				return nil, false
			}
		}
	}
	for _, rr := range r.Extra {
		if o, isOPT := rr.(*dns.OPT); isOPT {
			if opt != nil {
				return nil, false
			}
			opt = o
		}
	}
	return opt, true
}

// remoteAddr returns the client's address without an IPv4-in-IPv6 wrapper.
func remoteAddr(a net.Addr) netip.Addr {
	switch v := a.(type) {
	case *net.UDPAddr:
		return v.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return v.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// match returns the zone that holds name: the longest zone suffix.
func (s *Snapshot) match(name string) *zone {
	for {
		if z := s.cfg.zones[name]; z != nil {
			return z
		}
		i := strings.IndexByte(name, '.')
		if i < 0 || i == len(name)-1 {
			return nil
		}
		name = name[i+1:]
	}
}
