// Package server answers DNS queries for glb's zones from an immutable
// snapshot of the configuration, choosing a region per query.
package server

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store/schema"

	"github.com/glb-dns/glb/internal/crash"
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
	Observer   QueryObserver    // optional: query logs, dnstap
	RRL        RRLConfig        // response rate limiting of UDP answers; zero: off
	Cookies    *CookieSecrets   // DNS cookie secrets; default: a random secret of this process
	// ZoneMetrics counts answers and outcomes per zone (name="*") instead
	// of per name: a series per name x region is what most of the heap
	// holds with thousands of names, and more than a Prometheus wants.
	ZoneMetrics bool
}

// Handler is the dns.Handler for every zone glb serves. Its only shared
// state on the query path is the snapshot pointer, swapped whole by Apply.
type Handler struct {
	snap atomic.Pointer[Snapshot]
	mu   sync.Mutex // serialises Apply and Run's rebuilds; never taken by queries
	// configured is closed with the first snapshot (under mu).
	configured chan struct{}
	state      *schema.State // the last state applied
	series     configSeries  // the configuration's metric series (configmetrics.go); h.mu
	policy     health.Policy
	geo        Locator
	metrics    *Metrics
	log        *slog.Logger
	intn       func(int) int
	now        func() time.Time
	maxUDP     int
	observer   QueryObserver
	sampler    SamplingObserver // observer, when it samples
	rrl        *rrl             // nil: off (rrl.go)
	cookies    CookieSecrets    // cookie.go
	noFast     bool             // tests: force the general path
	perZone    bool             // Options.ZoneMetrics
	totals     regionTotals     // answers per region, for the status page (counters.go)

	// ECS scope tables (scopeworker.go), all guarded by mu.
	scopeCache map[uint64]*scopeTable
	scopeJobs  []scopeJob
	scopePart  *geo.Partition
	geoGen     int // bumped by GeoReloaded, so builds begun before it are dropped
	scopeWant  chan struct{}
}

// NewHandler returns a Handler with no snapshot: until the first Apply it
// answers SERVFAIL, since it cannot yet tell our names from others.
func NewHandler(o Options) *Handler {
	h := &Handler{scopeWant: make(chan struct{}, 1), configured: make(chan struct{}), geo: o.Geo, metrics: o.Metrics, log: o.Logger, intn: o.Rand, now: o.Now, maxUDP: o.MaxUDPSize, policy: o.Health, observer: o.Observer, perZone: o.ZoneMetrics}
	h.sampler, _ = o.Observer.(SamplingObserver)
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
	h.rrl = newRRL(o.RRL, h.now(), h.log, h.metrics.limits)
	if h.cookies = RandomCookieSecrets(); o.Cookies != nil {
		h.cookies = *o.Cookies
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
	done := make(chan struct{})
	defer func() { <-done }()
	go func() { defer close(done); h.runScopes(ctx) }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.healthTick()
		}
	}
}

// healthTick rebuilds the snapshot so that reports age. A panic in it is
// recorded and the next tick tries again: the snapshot in force keeps
// answering meanwhile, which beats ending the process over a bug that one
// state triggers.
func (h *Handler) healthTick() {
	defer func() {
		if v := recover(); v != nil {
			crash.Record(h.log, h.metrics.tickPanics, "health tick panicked; the last snapshot stays in force", v)
		}
	}()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != nil {
		h.rebuild()
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
		h.setConfigMetrics(cfg, st)
		h.log.Info("configuration snapshot built", "revision", st.ConfigRevision, "zones", len(cfg.zones),
			"regions", len(cfg.regions), "duration_seconds", h.now().Sub(now).Seconds())
	}
	ht := buildHealth(cfg, health.Aggregate(st, now, h.policy))
	h.logHealthChanges(cur, cfg, ht)
	h.snap.Store(&Snapshot{Revision: st.Revision, cfg: cfg, health: ht, state: st, built: now,
		scopes: h.attachScopes(cfg, ht)})
	if cur == nil {
		close(h.configured)
	}
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

// Configured is closed once the first snapshot has been applied.
func (h *Handler) Configured() <-chan struct{} { return h.configured }
