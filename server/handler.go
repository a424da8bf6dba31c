package server

import (
	"context"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/internal/crash"
	"github.com/glb-dns/glb/server/dnswire"
	"github.com/glb-dns/glb/server/limit"
	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// Locator finds where a client address is; *geo.DB is one.
type Locator interface {
	Lookup(ip netip.Addr) (loc geo.Location, network netip.Prefix, found bool)
}

// Options configure a Handler. Zero fields take the defaults named on each.
type Options struct {
	Geo        Locator              // required
	Metrics    *Metrics             // required
	Logger     *slog.Logger         // default: discard
	Rand       func(n int) int      // returns [0,n); default math/rand/v2 IntN
	Now        func() time.Time     // default time.Now
	MaxUDPSize int                  // largest UDP reply, default 1232 (DNS Flag Day 2020)
	Health     health.Policy        // quorum and report age; zero fields take health.DefaultPolicy
	Observer   QueryObserver        // optional: query logs, dnstap
	RRL        limit.RRLConfig      // response rate limiting of UDP answers; zero: off
	Cookies    *limit.CookieSecrets // DNS cookie secrets; default: a random secret of this process
	// ZoneMetrics counts answers and outcomes per zone (name="*") instead
	// of per name: a series per name x region is what most of the heap
	// holds with thousands of names, and more than a Prometheus wants.
	ZoneMetrics bool
	// ASN resolves the ASN pins of network collections; nil: no ASN
	// database, and ASNs pin nothing (asn.go).
	ASN *geo.ASNDB
}

// Handler is the dns.Handler for every zone glb serves. Its only shared
// state on the query path is the snapshot pointer, swapped whole by Apply.
type Handler struct {
	// What queries read comes first, together (plan.Addr says why).
	snap    atomic.Pointer[plan.Snapshot]
	noFast  bool // tests: force the general path
	perZone bool // Options.ZoneMetrics
	maxUDP  int
	geo     Locator
	metrics *Metrics
	intn    func(int) int
	randSet bool // Options.Rand was given: UDP readers draw with it too (batch.go)
	now     func() time.Time
	// since is the time elapsed from t on h.now's clock: time.Since with
	// the real clock, which reads only the monotonic clock (one vDSO call
	// where time.Now makes two), once per UDP batch (reader.Answered).
	since func(t time.Time) time.Duration
	// realClock: now is time.Now, so UDP readers may keep their own
	// cheaper reading of it (batchClock).
	realClock bool
	observer  QueryObserver
	sampler   SamplingObserver    // observer, when it samples
	rrl       *limit.RRL          // nil: off
	cookies   limit.CookieSecrets // cookies.go

	mu sync.Mutex // serialises Apply and Run's rebuilds; never taken by queries
	// configured is closed with the first snapshot (under mu).
	configured chan struct{}
	state      *schema.State // the last state applied
	series     configSeries  // the configuration's metric series (configmetrics.go); h.mu
	policy     health.Policy
	log        *slog.Logger
	totals     regionTotals // answers per region, for the status page (counters.go)
	dnssec     dnssecState  // keys and signers (dnsseckeys.go)
	asn        *geo.ASNDB   // Options.ASN

	// ECS scope tables (scopeworker.go), all guarded by mu.
	scopeCache map[uint64]*plan.ScopeTable
	scopeJobs  []scopeJob
	scopePart  *geo.Partition
	geoGen     int // bumped by GeoReloaded, so builds begun before it are dropped
	scopeWant  chan struct{}

	// names holds the per-name counters by name and regions (counters.go),
	// outside the snapshot: guarded by mu, linked into each new
	// configuration by rebuild.
	names map[nameKey]*nameCounters
	// zones holds the per-zone counters of the fast path's denials, by
	// zone label, linked like names (counters.go).
	zones map[string]*zoneCounters

	// The gauge series set by the last rebuild (guarded by mu), so that
	// the next one deletes only those that went away.
	regionSeries   map[string]struct{}
	endpointSeries map[[2]string]struct{}

	// shedder holds the shed shares' hysteresis across snapshots, and
	// loadSeries the load gauges set (loadmetrics.go); both under mu.
	shedder    *plan.Shedder
	loadSeries map[string]struct{}
	staleLoads map[string]bool // regions whose prober loads are all stale, logged
	// sched is the state in force with its drain schedules applied, and
	// schedWake tells Run that the next phase change moved (schedule.go).
	sched     *scheduled
	schedWake chan time.Time
	cfgSched  string // sched.key of the configuration in force
}

// NewHandler returns a Handler with no snapshot: until the first Apply it
// answers SERVFAIL, since it cannot yet tell our names from others.
func NewHandler(o Options) *Handler {
	h := &Handler{schedWake: make(chan time.Time, 1), scopeWant: make(chan struct{}, 1), configured: make(chan struct{}), geo: o.Geo, metrics: o.Metrics, log: o.Logger, intn: o.Rand, now: o.Now, maxUDP: o.MaxUDPSize, policy: o.Health, observer: o.Observer, perZone: o.ZoneMetrics}
	h.sampler, _ = o.Observer.(SamplingObserver)
	h.asn = o.ASN
	h.shedder = plan.NewShedder()
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "server")
	h.randSet = h.intn != nil
	if h.intn == nil {
		h.intn = rand.IntN
	}
	if h.now == nil {
		h.now, h.since = time.Now, time.Since
		h.realClock = true
	} else {
		h.since = func(t time.Time) time.Duration { return h.now().Sub(t) }
	}
	if h.maxUDP == 0 {
		h.maxUDP = dnswire.UDPSize
	}
	h.rrl = limit.NewRRL(o.RRL, h.now(), h.log, h.metrics.limits)
	if h.cookies = limit.RandomCookieSecrets(); o.Cookies != nil {
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
	refreshDone := make(chan struct{})
	defer func() { <-refreshDone }()
	go func() { defer close(refreshDone); h.runSignatureRefresh(ctx) }()
	// step wakes Run at the next drain-schedule boundary, so a step lands
	// on its instant rather than up to a health tick later.
	step := time.NewTimer(time.Hour)
	step.Stop()
	defer step.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.healthTick()
		case <-step.C:
			h.healthTick()
		case next := <-h.schedWake:
			step.Reset(max(next.Sub(h.now()), 0))
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

// rebuild builds a snapshot of h.state (configuration, health now, and
// the scope tables ready for them) and swaps it in when it differs from
// the one in force; h.mu is held. It is the snapshot's one owner: Apply,
// the health tick and the scope worker all come through here.
func (h *Handler) rebuild() {
	st, now := h.state, h.now()
	st = h.applySchedules(st, now)
	cur := h.snap.Load()
	cfg := (*plan.Config)(nil)
	if cur != nil && cur.Config.Revision == st.ConfigRevision && h.cfgSched == h.sched.key && cur.Config.ASN == h.asn.Table() {
		cfg = cur.Config
	} else {
		var warns []error
		cfg, warns = plan.BuildConfigASN(st, h.asn.Table())
		h.noteASNPins(cfg)
		for _, w := range warns {
			h.log.Warn("record left out of snapshot", "revision", st.Revision, "err", w)
		}
		h.linkCounters(cfg)
		h.cfgSched = h.sched.key
		h.metrics.snapWarnings.Add(float64(len(warns)))
		h.setConfigMetrics(cfg, st)
		h.log.Info("configuration snapshot built", "revision", st.ConfigRevision, "zones", len(cfg.Zones),
			"regions", len(cfg.Regions), "duration_seconds", h.now().Sub(now).Seconds())
	}
	ht := plan.BuildHealth(cfg, health.Aggregate(st, now, h.policy))
	loads, stale := health.LoadsAndStale(st, now, h.policy.MaxAge)
	h.noteStaleLoads(stale)
	ht.ApplyLoads(cfg, loads, h.shedder, now)
	scopes := h.attachScopes(cfg, ht)
	if cur != nil && cur.State == st && cur.Config == cfg && maps.Equal(cur.Scopes, scopes) && cur.DNSSEC == h.dnssec.signing && reflect.DeepEqual(cur.Health.View, ht.View) && cur.Health.SameLoads(ht) {
		// A health tick that changed nothing a query, explain or the
		// status page can see: the snapshot in force stays, with its
		// build time.
		return
	}
	h.logHealthChanges(cur, cfg, ht)
	snap := &plan.Snapshot{Revision: st.Revision, Config: cfg, Health: ht, State: st, Built: now, Scopes: scopes, DNSSEC: h.dnssec.signing}
	h.checkSigning(snap)
	prepareSigKeys(snap)
	h.snap.Store(snap)
	if cur == nil {
		close(h.configured)
	}
	h.metrics.snapBuilds.Inc()
	h.metrics.snapRevision.Set(float64(st.Revision))
	h.metrics.snapTime.Set(float64(now.UnixNano()) / 1e9)
	h.setHealthMetrics(cfg, ht)
	h.setLoadMetrics(cfg, ht)
}

// logHealthChanges logs one line per region whose verdict flipped.
func (h *Handler) logHealthChanges(cur *plan.Snapshot, cfg *plan.Config, ht *plan.HealthTable) {
	for i, r := range cfg.Regions {
		was := true
		if cur != nil {
			if j, ok := cur.Config.RegionIdx[r.ID]; ok {
				was = cur.Health.Regions[j].Up
			}
		}
		if now := ht.Regions[i].Up; now != was {
			h.log.Info("region health changed", "region", r.ID, "up", now)
		}
	}
}

// setHealthMetrics sets the region and endpoint gauges, and deletes the
// series of regions and endpoints no longer configured. It never resets
// a vector: a scrape between a reset and the sets would see no series, and
// an alert on a missing series would fire on a healthy system. h.mu is held.
func (h *Handler) setHealthMetrics(cfg *plan.Config, ht *plan.HealthTable) {
	regions := make(map[string]struct{}, len(cfg.Regions))
	endpoints := make(map[[2]string]struct{})
	for i, r := range cfg.Regions {
		regions[r.ID] = struct{}{}
		h.metrics.regionUp.WithLabelValues(r.ID).Set(b2f(ht.Regions[i].Up))
		for j, a := range r.Addrs {
			ep := [2]string{r.ID, a.String()}
			endpoints[ep] = struct{}{}
			h.metrics.endpointUp.WithLabelValues(ep[:]...).Set(b2f(j < 64 && ht.Regions[i].Mask&(1<<j) != 0))
		}
	}
	for id := range h.regionSeries {
		if _, ok := regions[id]; !ok {
			h.metrics.regionUp.DeleteLabelValues(id)
		}
	}
	for ep := range h.endpointSeries {
		if _, ok := endpoints[ep]; !ok {
			h.metrics.endpointUp.DeleteLabelValues(ep[:]...)
		}
	}
	h.regionSeries, h.endpointSeries = regions, endpoints
	if ht.View != nil {
		h.metrics.probers.Set(float64(len(ht.View.Probers)))
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
