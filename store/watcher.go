package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/internal/lifecycle"
	"github.com/glb-dns/glb/store/schema"
)

// Watcher timing. A list is one Get of the whole prefix, small and quick when
// etcd is healthy; the timeout only bounds the wait on a sick one.
const (
	listTimeout = 5 * time.Second
	backoffMin  = 100 * time.Millisecond
	backoffMax  = 5 * time.Second
)

// Watcher keeps a schema.State in step with the keys under an etcd prefix
// and hands each new one to a callback. It lists the prefix, then watches it
// from the next revision; on any watch error (compaction, lost leader,
// cancellation) it lists again with backoff and watches on. The consumer
// keeps the state it has meanwhile: a failure never hands on an empty or
// partial state, and no change is missed, since every list is followed by a
// watch from exactly the listed revision.
//
// With SetCache it also keeps the last good configuration in a local file
// and, when etcd cannot be listed at start-up, hands on the file's
// configuration until it can (cache_watcher.go).
type Watcher struct {
	c       *clientv3.Client
	prefix  string
	log     *slog.Logger
	m       *Metrics
	onState func(*schema.State)
	b       *schema.Builder
	scope   string // what is listed and watched: prefix, or a part of it (watcher_scope.go)

	clock       clock
	listTimeout time.Duration
	backoff     *backoff
	// beforeWatch, when set, runs between a list and the watch that follows
	// it. Tests use it to change etcd in that gap, which is otherwise too
	// short to hit.
	beforeWatch func(ctx context.Context, rev int64)

	lastRev int64 // revision of the last state handed on; 0 before the first

	// Run's goroutine owns these (logState): what the last INFO line said,
	// and the health-only states since the last summary.
	loggedConfigRev  int64
	loggedRejected   int
	healthStates     int
	healthSummaryDue time.Time

	// The cache (cache_watcher.go); all nil without SetCache. Run's
	// goroutine owns mirror, savedConfigRev, cacheTried and servingCache.
	cache            *Cache
	cacheListTimeout time.Duration
	mirror           *configMirror
	savedConfigRev   int64 // ConfigRevision of the last state queued for saving
	cacheTried       bool  // the cache was considered after the first failed list
	servingCache     bool  // the last state handed on came from the cache
	cacheKick        chan struct{}
	cacheMu          sync.Mutex
	cacheNext        *CachedConfig // queued for the writer

	listOK   atomic.Bool // the last list succeeded
	statusMu sync.Mutex
	st       watcherStatus

	life *lifecycle.Lifecycle
}

// NewWatcher returns a Watcher of the keys under prefix (which should end
// in "/", e.g. schema.DefaultPrefix). onState is called from Run's goroutine
// only, one call at a time, with a new State after the first list and after
// each watch response that changed keys; it must not modify the State.
func NewWatcher(c *clientv3.Client, prefix string, log *slog.Logger, m *Metrics, onState func(*schema.State)) *Watcher {
	w := &Watcher{
		c:                c,
		prefix:           prefix,
		log:              log.With("component", "store"),
		m:                m,
		onState:          onState,
		b:                schema.NewBuilder(prefix),
		clock:            realClock{},
		listTimeout:      listTimeout,
		cacheListTimeout: cacheListTimeout,
		backoff:          newBackoff(backoffMin, backoffMax),
	}
	w.life = lifecycle.New(lifecycle.Config{Name: "store watcher", Logger: w.log, Panics: m.panics})
	connected := w.connected
	m.connected.Store(&connected)
	return w
}

// Run lists and watches until ctx is cancelled or Close is called, and then
// returns nil. While etcd is unreachable, including at start-up, it retries
// with backoff and logs each failure. It returns an error only if a panic
// (in the callback, say) was recovered, or if it is already running or has
// run.
func (w *Watcher) Run(ctx context.Context) error {
	return w.life.Run(ctx, func(ctx context.Context) error {
		// Deferred, so that the writer saves what is queued and ends, panic
		// or not.
		defer w.startCacheWriter()()
		w.loop(ctx)
		return nil
	})
}

// Close stops Run and waits for it to return. A Watcher cannot be run again
// after Close.
func (w *Watcher) Close() {
	_ = w.life.Close() // a stop timeout is logged by lifecycle
}

// loop alternates list and watch until ctx is done, in the manner of etcd's
// cache/cache.go: every path out of a watch leads back to a list.
func (w *Watcher) loop(ctx context.Context) {
	bo := w.backoff
	for {
		timeout := w.listTimeout
		if w.cache != nil && w.lastRev == 0 && !w.cacheTried {
			timeout = min(timeout, w.cacheListTimeout)
		}
		started := w.clock.Now()
		rev, err := w.list(ctx, timeout)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			waitedOut(bo, w.clock.Now().Sub(started), timeout)
			w.listOK.Store(false)
			w.setStatus(func(s *watcherStatus) { s.listErr = listErrText(err) })
			if w.cache != nil && w.lastRev == 0 && !w.cacheTried {
				w.cacheTried = true
				w.loadCache(err)
			}
			d := bo.next()
			// A denial is said as such, with what was denied; the state
			// served stays the last good one either way.
			if !reportDenied(w.log, w.m.denied, OpList, w.watched(), true, err) {
				w.log.Warn("list etcd prefix", "prefix", w.prefix, "err", err, "retry_in_seconds", d.Seconds())
			}
			if !sleep(ctx, w.clock, d) {
				return
			}
			continue
		}
		if w.beforeWatch != nil {
			w.beforeWatch(ctx, rev)
		}
		started = w.clock.Now()
		reason, progressed := w.watch(ctx, rev)
		if ctx.Err() != nil {
			return
		}
		w.m.watchRestarts.Inc()
		// A watch that delivered changes, or lasted, was a success: back off
		// from the start. One that fails at once time after time (a
		// permission, a proxy cutting streams) climbs to the cap instead of
		// spinning.
		if progressed || w.clock.Now().Sub(started) >= bo.max {
			bo.reset()
		}
		d := bo.next()
		w.log.Info("restarting etcd watch", "reason", reason, "revision", w.lastRev, "retry_in_seconds", d.Seconds())
		if !sleep(ctx, w.clock, d) {
			return
		}
	}
}

// list reads the whole prefix into a fresh Builder pass and hands on the
// State, unless etcd's revision has not moved since the last one handed on
// (nothing can have changed, and the consumer need not rebuild). It returns
// the revision to watch from.
func (w *Watcher) list(ctx context.Context, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := w.c.Get(ctx, w.watched(), clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("list etcd prefix %q: %w", w.watched(), denied(OpList, w.watched(), true, err))
	}
	// Reset keeps last good values: a key that is invalid now but was valid
	// before the list stays in force.
	w.b.Reset()
	w.mirror.reset()
	for _, kv := range resp.Kvs {
		w.b.Put(string(kv.Key), kv.Value, kv.ModRevision)
		w.mirror.put(string(kv.Key), kv.Value, kv.ModRevision)
	}
	w.listOK.Store(true)
	w.setStatus(func(s *watcherStatus) { s.listErr = "" })
	rev := resp.Header.Revision
	// After the cache, etcd's state is handed on even at the same
	// revision: it is what ends the staleness.
	if rev != w.lastRev || w.servingCache {
		w.emit(rev, true)
	}
	return rev, nil
}

// watch applies watch responses from rev+1 until the watch fails or ctx is
// done. It returns why it ended and whether it handed on any state.
// WithRequireLeader makes etcd end the watch when its member loses the
// leader, rather than leave us on a member that no longer hears changes.
func (w *Watcher) watch(ctx context.Context, rev int64) (reason string, progressed bool) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := w.c.Watch(wctx, w.watched(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case <-ctx.Done():
			return "context done", progressed
		case resp, ok = <-wch:
		}
		if !ok {
			return "watch channel closed", progressed
		}
		if err := resp.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return fmt.Sprintf("revision %d is compacted (compact revision %d)", rev+1, resp.CompactRevision), progressed
			}
			reportDenied(w.log, w.m.denied, OpWatch, w.watched(), true, err)
			return err.Error(), progressed
		}
		// The created notice and progress notifies carry no events and
		// change nothing.
		if len(resp.Events) == 0 {
			continue
		}
		// One state per response, not per event: a transaction that
		// writes many keys arrives as one response and must be seen whole.
		for _, ev := range resp.Events {
			switch ev.Type {
			case clientv3.EventTypePut:
				w.b.Put(string(ev.Kv.Key), ev.Kv.Value, ev.Kv.ModRevision)
				w.mirror.put(string(ev.Kv.Key), ev.Kv.Value, ev.Kv.ModRevision)
			case clientv3.EventTypeDelete:
				// A delete event's ModRevision is the revision of the delete.
				w.b.Delete(string(ev.Kv.Key), ev.Kv.ModRevision)
				w.mirror.del(string(ev.Kv.Key))
			}
		}
		w.emit(resp.Header.Revision, true)
		progressed = true
	}
}

// emit builds the State at rev, reports its new rejections and hands it on.
// fromEtcd is false for the state of the cache file.
func (w *Watcher) emit(rev int64, fromEtcd bool) {
	st, fresh := w.b.State(rev)
	for _, r := range fresh {
		// Logged before counted: whoever sees the count can find the line.
		w.log.Warn("rejected etcd key", "key", r.Key, "kind", r.Kind.String(), "reason", r.Reason,
			"revision", r.ModRevision, "in_force", r.InForce)
		w.m.rejections.WithLabelValues(r.Kind.String()).Inc()
	}
	w.logState(st, rev)
	w.beforeState(st, fromEtcd)
	w.onState(st)
	w.lastRev = rev
	w.servingCache = !fromEtcd
	w.afterState(st, fromEtcd)
	w.m.revision.Set(float64(rev))
	w.m.rejectedKeys.Set(float64(len(st.Rejected)))
	w.m.states.Inc()
	w.m.lastState.Set(float64(w.clock.Now().UnixNano()) / 1e9)
}

// healthSummaryInterval is how often, at most, the states that changed only
// health are summarised at INFO.
const healthSummaryInterval = time.Minute

// logState logs a state at INFO when its configuration or its rejected
// keys changed, and at DEBUG when only health did: probers refresh their
// reports every few seconds, and a line per refresh (5 a second with 50
// prober-endpoints) would bury the lines that matter. The health-only
// states are counted into one INFO line a minute at most, written with the
// next state after the minute is up, so a quiet system writes nothing.
func (w *Watcher) logState(st *schema.State, rev int64) {
	args := []any{"revision", rev, "config_revision", st.ConfigRevision, "zones", len(st.Zones), "regions", len(st.Regions),
		"rejected", len(st.Rejected)}
	if w.loggedConfigRev == 0 || st.ConfigRevision != w.loggedConfigRev || len(st.Rejected) != w.loggedRejected {
		w.loggedConfigRev, w.loggedRejected = st.ConfigRevision, len(st.Rejected)
		w.log.Info("configuration state", args...)
		return
	}
	w.log.Debug("health state", append(args, "probers", len(st.Probers))...)
	now := w.clock.Now()
	w.healthStates++
	if w.healthSummaryDue.IsZero() {
		w.healthSummaryDue = now.Add(healthSummaryInterval)
	}
	if now.Before(w.healthSummaryDue) {
		return
	}
	w.log.Info("health states since the last summary", "count", w.healthStates, "revision", rev, "probers", len(st.Probers),
		"config_revision", st.ConfigRevision)
	w.healthStates, w.healthSummaryDue = 0, now.Add(healthSummaryInterval)
}
