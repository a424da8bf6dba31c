package store

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/connectivity"

	"github.com/glb-dns/glb/internal/crash"
	"github.com/glb-dns/glb/store/schema"
)

// cacheListTimeout bounds the first list when a cache is set: this long
// after start-up without etcd, the cached configuration is served rather
// than SERVFAIL. A healthy etcd lists in milliseconds.
const cacheListTimeout = 2 * time.Second

// SetCache makes the Watcher keep the last good configuration in c and
// serve from it when the first list of etcd fails. Call it before Run.
func (w *Watcher) SetCache(c *Cache) {
	w.cache = c
	w.mirror = &configMirror{prefix: w.prefix, cur: map[string]rawValue{}, good: map[string]rawValue{}}
	w.cacheKick = make(chan struct{}, 1)
}

// WatcherStatus is where the configuration a Watcher last handed on came
// from, for /readyz.
type WatcherStatus struct {
	Revision  int64 // etcd revision of the last state handed on; 0 before the first
	Connected bool  // the last list succeeded and the etcd connection is up (glb_store_etcd_connected)
	// Stale is true while the state handed on came from the cache file:
	// etcd could not be listed since start-up. StaleReason says why.
	Stale       bool
	StaleReason string
	ListError   string // the last list's error; "" once a list succeeds
}

// Status returns the Watcher's current status. It is safe to call at any
// time from any goroutine.
func (w *Watcher) Status() WatcherStatus {
	w.statusMu.Lock()
	defer w.statusMu.Unlock()
	s := WatcherStatus{Revision: w.st.revision, Connected: w.connected(), ListError: w.st.listErr}
	if w.st.fromCache != nil {
		c := w.st.fromCache
		s.Stale = true
		s.StaleReason = fmt.Sprintf("serving the configuration cached in %s at revision %d (saved %s): etcd has not been listed since start-up",
			w.cache.Path(), c.Revision, c.Saved.UTC().Format(time.RFC3339))
		if w.st.listErr != "" {
			s.StaleReason += " (" + w.st.listErr + ")"
		}
	}
	return s
}

// watcherStatus is the part of the Watcher that Status reads, guarded by
// statusMu; the rest of the Watcher belongs to Run's goroutine.
type watcherStatus struct {
	revision  int64
	listErr   string
	fromCache *CachedConfig // non-nil while the last state came from the cache
}

func (w *Watcher) setStatus(f func(*watcherStatus)) {
	w.statusMu.Lock()
	f(&w.st)
	stale := w.st.fromCache != nil
	w.statusMu.Unlock()
	w.m.stale.Set(b2f(stale))
}

// connected is etcd's connection state as glbd reports it: the last list
// worked, and the client's gRPC connection is READY. The list alone would
// miss an outage during a quiet watch, which the client retries silently;
// the connection alone would miss a cluster without a leader.
func (w *Watcher) connected() bool {
	if !w.listOK.Load() {
		return false
	}
	conn := w.c.ActiveConnection()
	return conn != nil && conn.GetState() == connectivity.Ready
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// loadCache serves the cached configuration after the first list failed.
// A missing file is normal on a first start; a corrupt one is ignored with
// one log line. Either way Run keeps trying etcd.
func (w *Watcher) loadCache(listErr error) {
	cfg, err := w.cache.Load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		w.log.Info("no cached configuration to serve while etcd is unreachable", "cache_file", w.cache.Path())
		return
	case err == nil && cfg.Prefix != w.prefix:
		err = fmt.Errorf("read cache %q: %w: prefix %q, want %q", w.cache.Path(), ErrCacheCorrupt, cfg.Prefix, w.prefix)
	}
	if err != nil {
		w.log.Warn("ignoring the cache file", "cache_file", w.cache.Path(), "err", err)
		return
	}
	// The same Builder as etcd's values go through: the same checks, and the
	// cached values become the last good ones that etcd's may fall back to.
	for _, k := range cfg.Keys {
		w.b.Put(k.Key, k.Value, k.ModRevision)
	}
	w.setStatus(func(s *watcherStatus) { s.fromCache = cfg })
	w.log.Warn("etcd unreachable at start-up; serving the cached configuration until it can be listed",
		"cache_file", w.cache.Path(), "revision", cfg.Revision, "saved", cfg.Saved.UTC().Format(time.RFC3339),
		"keys", len(cfg.Keys), "err", listErr)
	w.emit(cfg.Revision, false)
}

// rawValue is one etcd value as it was read.
type rawValue struct {
	value  []byte
	modRev int64
}

// configMirror keeps the raw bytes of the configuration keys, which the
// Builder decodes and does not keep, so that the Watcher can save them. It
// tracks, like the Builder, the value etcd holds now and the last value
// that was accepted; what is saved is the value in force: the current one
// when it is accepted, else the last accepted one. Loaded back through a
// Builder, that is the configuration that was served. Its methods do
// nothing on a nil mirror (no cache set).
type configMirror struct {
	prefix string
	cur    map[string]rawValue // configuration keys etcd holds now
	good   map[string]rawValue // the value in force of each key
}

// reset forgets what etcd holds before a full list.
func (m *configMirror) reset() {
	if m != nil {
		clear(m.cur)
	}
}

func (m *configMirror) put(key string, value []byte, modRev int64) {
	if m == nil {
		return
	}
	k, err := schema.ParseKey(m.prefix, key)
	if err != nil || k.Kind == schema.KindProber || k.Kind == schema.KindHealth || k.Kind == schema.KindLoad {
		return // never in force, or live data
	}
	m.cur[key] = rawValue{value: value, modRev: modRev}
}

func (m *configMirror) del(key string) {
	if m != nil {
		delete(m.cur, key)
		delete(m.good, key)
	}
}

// settle takes st's verdicts: a key not rejected is in force with its
// current value; a rejected one keeps its earlier value in force, if any;
// a key etcd no longer holds is gone.
func (m *configMirror) settle(st *schema.State) {
	rejected := map[string]bool{}
	for _, r := range st.Rejected {
		rejected[r.Key] = true
	}
	for k, v := range m.cur {
		if !rejected[k] {
			m.good[k] = v
		}
	}
	for k := range m.good {
		if _, ok := m.cur[k]; !ok {
			delete(m.good, k)
		}
	}
}

func (m *configMirror) snapshot(st *schema.State, now time.Time) *CachedConfig {
	cfg := &CachedConfig{Prefix: m.prefix, Revision: st.Revision, ConfigRevision: st.ConfigRevision, Saved: now}
	for _, k := range slices.Sorted(maps.Keys(m.good)) {
		v := m.good[k]
		cfg.Keys = append(cfg.Keys, CachedKey{Key: k, Value: v.value, ModRevision: v.modRev})
	}
	return cfg
}

// beforeState updates the status before a state is handed on, so that no
// one can see etcd's answers while the status still says "from the cache".
func (w *Watcher) beforeState(st *schema.State, fromEtcd bool) {
	var replaced *CachedConfig
	w.setStatus(func(s *watcherStatus) {
		s.revision = st.Revision
		if fromEtcd {
			replaced, s.fromCache = s.fromCache, nil
		}
	})
	if replaced != nil {
		w.log.Info("etcd listed; the cached configuration is replaced", "revision", st.Revision,
			"cached_revision", replaced.Revision)
	}
}

// afterState queues a save of a state handed on from etcd when its
// configuration changed. It runs in Run's goroutine.
func (w *Watcher) afterState(st *schema.State, fromEtcd bool) {
	if w.cache == nil || !fromEtcd || st.ConfigRevision == w.savedConfigRev {
		return
	}
	w.savedConfigRev = st.ConfigRevision
	w.mirror.settle(st)
	w.cacheMu.Lock()
	w.cacheNext = w.mirror.snapshot(st, w.clock.Now())
	w.cacheMu.Unlock()
	select {
	case w.cacheKick <- struct{}{}:
	default: // a save is already due; it will take this newer one
	}
}

// runCacheWriter saves queued configurations until stop is closed, then
// saves the last one queued, if any. Saving off Run's goroutine keeps a
// slow disk from delaying new states; a burst of changes during a save is
// written once, as its last state.
func (w *Watcher) runCacheWriter(stop <-chan struct{}) {
	defer func() {
		if p := recover(); p != nil {
			crash.Record(w.log, w.m.panics, "store cache writer panicked", p)
		}
	}()
	for {
		select {
		case <-w.cacheKick:
			w.saveQueued()
		case <-stop:
			w.saveQueued()
			return
		}
	}
}

func (w *Watcher) saveQueued() {
	w.cacheMu.Lock()
	cfg := w.cacheNext
	w.cacheNext = nil
	w.cacheMu.Unlock()
	if cfg == nil {
		return
	}
	if err := w.cache.Save(cfg); err != nil {
		w.m.cacheWrites.WithLabelValues("error").Inc()
		w.log.Warn("save the configuration cache", "cache_file", w.cache.Path(), "revision", cfg.Revision, "err", err)
		return
	}
	w.m.cacheWrites.WithLabelValues("ok").Inc()
	w.log.Debug("configuration cache saved", "cache_file", w.cache.Path(), "revision", cfg.Revision, "keys", len(cfg.Keys))
}

// startCacheWriter starts the writer when a cache is set and returns the
// function that stops it and waits for its last save.
func (w *Watcher) startCacheWriter() (stop func()) {
	if w.cache == nil {
		return func() {}
	}
	stopc := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { w.runCacheWriter(stopc) })
	return func() { close(stopc); wg.Wait() }
}

// listErrText is the short form of a list error for the status.
func listErrText(err error) string {
	return strings.TrimPrefix(err.Error(), "list etcd prefix ")
}
