package server

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/internal/crash"
	"github.com/glb-dns/glb/server/plan"
)

// Partitioner is a Locator that can list its whole database; *geo.DB is
// one. Without it the server answers with the GeoIP network as ECS scope.
type Partitioner interface {
	Partition() (*geo.Partition, error)
}

// scopeJob asks for the scope table of one name and family under one
// health table.
type scopeJob struct {
	key   uint64
	g     *plan.Name
	qtype uint16
	ht    *plan.HealthTable
}

// scopeMinGap spaces table builds, so a flapping health state or changing
// RTTs cost at most one build a second; between builds the GeoIP network
// stands in, which is narrower but true.
const scopeMinGap = time.Second

// attachScopes finds the ready scope tables for every name of cfg under
// ht, and queues the missing ones. h.mu is held. It runs on every
// snapshot rebuild (each health tick), so its work is per distinct
// configuration, not per name: names with the same cfgKey read the same
// regions, weights and health, so they have the same scope keys and
// tables.
func (h *Handler) attachScopes(cfg *plan.Config, ht *plan.HealthTable) map[uint64][2]*plan.ScopeTable {
	if _, ok := h.geo.(Partitioner); !ok {
		return nil
	}
	scopes := map[uint64][2]*plan.ScopeTable{}
	cache := make(map[uint64]*plan.ScopeTable, len(h.scopeCache))
	var jobs []scopeJob
	for _, g := range cfg.Names {
		if _, done := scopes[g.CfgKey]; done {
			continue
		}
		var pair [2]*plan.ScopeTable
		for i, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
			key := plan.ScopeKey(g, qtype, ht)
			if t := h.scopeCache[key]; t != nil && t.Part == h.scopePart && h.scopePart != nil {
				pair[i] = t
				cache[key] = t
				continue
			}
			jobs = append(jobs, scopeJob{key: key, g: g, qtype: qtype, ht: ht})
		}
		scopes[g.CfgKey] = pair
	}
	h.scopeCache = cache // drops tables no name uses any more
	h.scopeJobs = jobs
	if len(jobs) > 0 {
		select {
		case h.scopeWant <- struct{}{}:
		default: // a build is already due; it takes the latest jobs
		}
	}
	return scopes
}

// buildScopesSafely is buildScopesWith with a panic recorded instead of
// ending glbd: the queued jobs are lost, and the names they were for are
// answered by GeoIP lookups (correct, only slower) until the next change
// queues them again; the worker keeps serving later requests with a fresh
// builder, since the panic may have left b's buffers half written.
func (h *Handler) buildScopesSafely(p Partitioner, b *plan.ScopeBuilder) (newPart bool) {
	defer func() {
		if v := recover(); v != nil {
			*b = plan.ScopeBuilder{}
			crash.Record(h.log, h.metrics.scopePanics, "ecs scope build panicked; its tables are left unbuilt", v)
		}
	}()
	return h.buildScopesWith(p, b)
}

// buildScopes builds the queued scope tables and swaps in a snapshot that
// uses them.
func (h *Handler) buildScopes(p Partitioner) { h.buildScopesWith(p, &plan.ScopeBuilder{}) }

// buildScopesWith is buildScopes with the builder (and its buffers) of the
// caller. newPart reports that the tables swapped in are the first of a
// database (at start-up, after a reload).
func (h *Handler) buildScopesWith(p Partitioner, b *plan.ScopeBuilder) (newPart bool) {
	h.mu.Lock()
	jobs, gen := h.scopeJobs, h.geoGen
	h.scopeJobs = nil
	h.mu.Unlock()
	start := time.Now()
	part, err := p.Partition()
	if err != nil {
		h.log.Warn("geoip partition for ECS scopes", "err", err)
		return false
	}
	built := map[uint64]*plan.ScopeTable{}
	var fresh []*plan.ScopeTable // distinct tables of this round
	skipped := 0
	for _, j := range jobs {
		if built[j.key] != nil {
			continue
		}
		if !h.scopeStillWanted(j.key, part) {
			skipped++ // the configuration moved on while we built
			continue
		}
		t := b.Build(part, j.g, j.qtype, j.ht)
		// Identical tables (A and AAAA of regions with both families,
		// names that differ only in what the plans do not read) are kept
		// once.
		dup := false
		for _, u := range fresh {
			if dup = u.SameRuns(t); dup {
				t = u
				break
			}
		}
		if !dup {
			fresh = append(fresh, t)
		}
		built[j.key] = t
	}
	took := time.Since(start)
	h.metrics.scopeBuild.Observe(took.Seconds())
	h.log.Debug("ecs scope tables built", "tables", len(built), "distinct", len(fresh), "skipped", skipped,
		"ranges", part.Ranges(), "duration_seconds", took.Seconds())
	h.mu.Lock()
	defer h.mu.Unlock()
	if gen != h.geoGen {
		return false // the database changed while we built: these tables are stale
	}
	if part != h.scopePart {
		h.scopePart, h.scopeCache = part, map[uint64]*plan.ScopeTable{}
		newPart = true
	}
	for k, t := range built {
		h.scopeCache[k] = t
	}
	if h.state != nil {
		h.rebuild()
	}
	return newPart
}

// scopeStillWanted says whether a queued table is still worth building: not
// when a table for key is ready already, nor when a configuration applied
// since the jobs were taken queued jobs without it (no name has that
// configuration any more).
func (h *Handler) scopeStillWanted(key uint64, part *geo.Partition) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.scopeCache[key]; t != nil && t.Part == part {
		return false
	}
	if h.scopeJobs == nil {
		return true
	}
	for _, j := range h.scopeJobs {
		if j.key == key {
			return true
		}
	}
	return false
}

// runScopes builds the queued scope tables until ctx is done.
func (h *Handler) runScopes(ctx context.Context) {
	p, ok := h.geo.(Partitioner)
	if !ok {
		return
	}
	b := &plan.ScopeBuilder{Yield: true} // its buffers live as long as the worker
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.scopeWant:
		}
		if h.buildScopesSafely(p, b) {
			h.releaseMemory()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(scopeMinGap):
		}
	}
}

// GeoReloaded drops the scope tables built from the previous GeoIP
// database and swaps in a snapshot without them, so answers use the new
// database at once (with its own networks as scope) while the tables are
// rebuilt in the background.
func (h *Handler) GeoReloaded() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scopeCache, h.scopePart = map[uint64]*plan.ScopeTable{}, nil
	h.geoGen++
	if h.state != nil {
		h.rebuild()
	}
}

// PageTrimmer is a Locator that can give the pages its lookups read back
// to the kernel; *geo.DB is one.
type PageTrimmer interface {
	TrimPages()
}

// releaseMemory collects the garbage of a database load and returns it to
// the operating system at once, with the database pages that the lookups
// of the build's seconds read. Verifying a City database, walking its
// partition and folding the first tables allocate several times what they
// keep (about 250 MB for a 1M-network database, which keeps 35 MB); left
// to the runtime, the heap would hold on to that for minutes and glbd's
// resident memory would show it. One forced collection per database load
// costs a few milliseconds on this goroutine; queries keep running (the
// collector stops the world only for its short phases), and the big
// tables, free of pointers, are not scanned. The collection also runs the
// cleanup that unmaps the previous database after a reload.
func (h *Handler) releaseMemory() {
	debug.FreeOSMemory()
	if t, ok := h.geo.(PageTrimmer); ok {
		t.TrimPages()
	}
}
