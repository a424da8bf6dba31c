package store

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/store/schema"
)

func sampleCache() *CachedConfig {
	return &CachedConfig{
		Prefix: "/glb/", Revision: 42, ConfigRevision: 40, Saved: time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC),
		Keys: []CachedKey{
			{Key: "/glb/regions/eu-west", Value: []byte(`{"lat":51.5,"lon":-0.1,"addrs":["192.0.2.1"]}`), ModRevision: 3},
			{Key: "/glb/regions/eu-west/weight", Value: []byte("0"), ModRevision: 40},
			{Key: "/glb/zones/x.test/records/@/TXT", Value: []byte{0xff, 0xfe, 'x'}, ModRevision: 7}, // not UTF-8
		},
	}
}

func TestCacheRoundTrip(t *testing.T) {
	c := NewCache(filepath.Join(t.TempDir(), "cache.json"))
	want := sampleCache()
	if err := c.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load = %+v, want %+v", got, want)
	}
	fi, err := os.Stat(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	// Readable by people and jq: values are strings where they can be.
	raw, _ := os.ReadFile(c.Path())
	if !strings.Contains(string(raw), `"value": "0"`) || !strings.Contains(string(raw), `"format": "glb-config-cache/1"`) {
		t.Errorf("file is not the documented JSON:\n%s", raw)
	}
}

// TestCacheSaveIsAtomic saves over and over and checks that only the cache
// file is ever left in the directory, and that a failed save leaves no
// temporary file either.
func TestCacheSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	c := NewCache(filepath.Join(dir, "cache.json"))
	cfg := sampleCache()
	for i := range 20 {
		cfg.Revision = int64(100 + i)
		if err := c.Save(cfg); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "cache.json" {
		t.Errorf("directory holds %v, want only cache.json", entries)
	}
	if got, err := c.Load(); err != nil || got.Revision != 119 {
		t.Errorf("Load after 20 saves = %+v, %v; want revision 119", got, err)
	}

	// A directory in the way makes the rename fail.
	blocked := NewCache(filepath.Join(dir, "sub"))
	if err := os.Mkdir(blocked.Path(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(blocked.Path(), "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := blocked.Save(cfg); err == nil {
		t.Fatal("Save over a non-empty directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("after a failed save the directory holds %v, want cache.json and sub only", entries)
	}
	if err := blocked.CheckWritable(); err != nil {
		t.Errorf("CheckWritable of a writable directory: %v", err)
	}
	if err := NewCache("/nonexistent/dir/cache.json").CheckWritable(); err == nil {
		t.Error("CheckWritable of a missing directory succeeded")
	}
}

func TestCacheLoadRejectsCorruptFiles(t *testing.T) {
	good, err := json.Marshal(map[string]any{
		"format": "glb-config-cache/1", "prefix": "/glb/", "revision": 5, "config_revision": 5, "saved": "2026-11-26T13:00:00Z",
		"keys": []map[string]any{{"key": "/glb/regions/a", "value": "{}", "mod_revision": 5}},
	})
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string {
		if !strings.Contains(string(good), old) {
			t.Fatalf("%q not in %s", old, good)
		}
		return strings.Replace(string(good), old, new, 1)
	}
	cases := []struct{ name, data string }{
		{"empty", ""},
		{"not JSON", "glb"},
		{"truncated", string(good[:len(good)/2])},
		{"two documents", string(good) + string(good)},
		{"other format", edit(`"glb-config-cache/1"`, `"glb-config-cache/2"`)},
		{"unknown field", edit(`"prefix"`, `"wieght":1,"prefix"`)},
		{"bad prefix", edit(`"prefix":"/glb/"`, `"prefix":"glb"`)},
		{"key outside the prefix", edit(`"/glb/regions/a"`, `"/other/regions/a"`)},
		{"no value", edit(`,"value":"{}"`, ``)},
		{"mod revision after the revision", edit(`"mod_revision":5`, `"mod_revision":6`)},
		{"zero revision", edit(`"revision":5,`, `"revision":0,`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache.json")
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := NewCache(path).Load()
			if !errors.Is(err, ErrCacheCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("Load = %v, want ErrCacheCorrupt naming the path", err)
			}
		})
	}
	if _, err := NewCache(filepath.Join(t.TempDir(), "none.json")).Load(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
}

// cachedWatcher is newWatcher with a cache file set and its first list
// bounded by 300 ms, so a stopped etcd turns to the cache quickly.
func cachedWatcher(t *testing.T, s interface{ Endpoints() []string }, path string, log *slog.Logger) *testWatcher {
	t.Helper()
	c, err := NewClient(Config{Endpoints: s.Endpoints()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tw := &testWatcher{rec: &recorder{}, reg: prometheus.NewPedanticRegistry(), err: make(chan error, 1)}
	tw.Watcher = NewWatcher(c, testPrefix, log, NewMetrics(tw.reg), tw.rec.onState)
	tw.SetCache(NewCache(path))
	tw.cacheListTimeout = 300 * time.Millisecond
	tw.listTimeout = 300 * time.Millisecond
	go func() { tw.err <- tw.Run(context.Background()) }()
	t.Cleanup(func() { tw.stop(t) })
	return tw
}

// stop closes the watcher and checks Run returned nil; twice is harmless.
func (tw *testWatcher) stop(t *testing.T) {
	t.Helper()
	tw.Close()
	select {
	case err, ok := <-tw.err:
		if ok && err != nil {
			t.Errorf("Run = %v, want nil after Close", err)
		}
		if ok {
			close(tw.err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Run did not return after Close")
	}
}

func waitCache(t *testing.T, path string, what string, cond func(*CachedConfig) bool) *CachedConfig {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if cfg, err := NewCache(path).Load(); err == nil && cond(cfg) {
			return cfg
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache file: no %s within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func cachedValue(cfg *CachedConfig, key string) string {
	for _, k := range cfg.Keys {
		if k.Key == key {
			return string(k.Value)
		}
	}
	return "<absent>"
}

// TestWatcherSavesCache checks what the Watcher saves and when: the
// configuration keys in force after each configuration change, never the
// probers' keys, and nothing for a change of live data only.
func TestWatcherSavesCache(t *testing.T) {
	s, c := seeded(t)
	path := filepath.Join(t.TempDir(), "cache.json")
	w := cachedWatcher(t, s, path, slog.New(slog.DiscardHandler))
	weight := schema.WeightKey(testPrefix, "eu-west")
	cfg := waitCache(t, path, "seeded configuration", func(cfg *CachedConfig) bool { return len(cfg.Keys) == len(testSeed) })
	if got := cachedValue(cfg, weight); got != "50" {
		t.Errorf("cached weight %q, want 50", got)
	}

	// An invalid value is not saved: the value in force is.
	if _, err := c.Put(t.Context(), weight, "abc"); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Put(t.Context(), schema.WeightKey(testPrefix, "us-east"), "7")
	if err != nil {
		t.Fatal(err)
	}
	cfg = waitCache(t, path, "us-east weight 7", func(cfg *CachedConfig) bool { return cfg.Revision >= resp.Header.Revision })
	if got := cachedValue(cfg, weight); got != "50" {
		t.Errorf("cached eu-west weight %q after an invalid put, want the last good 50", got)
	}
	if got := cachedValue(cfg, schema.WeightKey(testPrefix, "us-east")); got != "7" {
		t.Errorf("cached us-east weight %q, want 7", got)
	}

	// Live data changes the state, not the configuration: no save. (The
	// file's revision says which state was saved last; the write counter
	// could still be catching up with the save above.)
	savedRev := cfg.Revision
	resp, err = c.Put(t.Context(), testPrefix+"probers/p1", `{"lat":1,"lon":2}`)
	if err != nil {
		t.Fatal(err)
	}
	w.rec.waitFor(t, 10*time.Second, "the prober", func(st *schema.State) bool { return st.Revision >= resp.Header.Revision })
	w.stop(t) // flushes any queued save
	cfg, err = NewCache(path).Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Revision != savedRev {
		t.Errorf("cache saved again at revision %d after a prober key changed, want still %d", cfg.Revision, savedRev)
	}
	if cachedValue(cfg, testPrefix+"probers/p1") != "<absent>" {
		t.Error("prober key saved in the cache")
	}
	if got := testutil.ToFloat64(w.m.cacheWrites.WithLabelValues("ok")); got < 1 {
		t.Errorf("glb_store_cache_writes_total{result=\"ok\"} = %v, want at least 1", got)
	}
}

// TestWatcherServesCacheWhileEtcdIsDown saves a configuration, stops etcd,
// starts a new Watcher: it hands on the cached configuration, marked stale;
// once etcd is back it hands on etcd's and is no longer stale.
func TestWatcherServesCacheWhileEtcdIsDown(t *testing.T) {
	s, c := seeded(t)
	path := filepath.Join(t.TempDir(), "cache.json")
	first := cachedWatcher(t, s, path, slog.New(slog.DiscardHandler))
	first.rec.waitFor(t, 5*time.Second, "the seeded weight", func(st *schema.State) bool { return regionWeight(st, "eu-west") == 50 })
	// A last good value is what the cache serves.
	if _, err := c.Put(t.Context(), schema.WeightKey(testPrefix, "eu-west"), "abc"); err != nil {
		t.Fatal(err)
	}
	first.rec.waitFor(t, 10*time.Second, "the rejection", func(st *schema.State) bool { return len(st.Rejected) == 1 })
	first.stop(t)
	if got := testutil.ToFloat64(first.m.cacheWrites.WithLabelValues("ok")); got < 1 {
		t.Fatalf("%v cache writes, want at least 1", got)
	}
	s.Stop(t)

	w := cachedWatcher(t, s, path, slog.New(slog.DiscardHandler))
	st := w.rec.waitFor(t, 5*time.Second, "the cached configuration", func(st *schema.State) bool { return len(st.Regions) == 3 })
	if got := regionWeight(st, "eu-west"); got != 50 {
		t.Errorf("cached eu-west weight %d, want the last good 50", got)
	}
	if z := st.Zones["gslb.example.test"]; z == nil || z.Names["www"] == nil {
		t.Errorf("cached state lacks the zone and its name: %+v", st.Zones)
	}
	status := w.Status()
	if !status.Stale || !strings.Contains(status.StaleReason, path) || status.Connected {
		t.Errorf("status %+v, want stale naming the cache file, not connected", status)
	}
	if got := testutil.ToFloat64(w.m.stale); got != 1 {
		t.Errorf("glb_store_stale = %v, want 1", got)
	}
	if problems, err := testutil.GatherAndLint(w.reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}

	s.Restart(t)
	if _, err := s.Client(t).Put(t.Context(), schema.WeightKey(testPrefix, "eu-west"), "9"); err != nil {
		t.Fatal(err)
	}
	w.rec.waitFor(t, 10*time.Second, "etcd's weight", func(st *schema.State) bool { return regionWeight(st, "eu-west") == 9 })
	if status := w.Status(); status.Stale || status.ListError != "" {
		t.Errorf("status after etcd is back: %+v, want not stale", status)
	}
	if got := testutil.ToFloat64(w.m.stale); got != 0 {
		t.Errorf("glb_store_stale = %v after etcd is back, want 0", got)
	}
	waitFor := time.Now().Add(5 * time.Second)
	for !w.Status().Connected {
		if time.Now().After(waitFor) {
			t.Fatal("not connected within 5s of etcd's restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatcherIgnoresCorruptCache: with etcd down and a corrupt cache file,
// nothing is handed on, one warning names the file, and etcd's state comes
// once it is back.
func TestWatcherIgnoresCorruptCache(t *testing.T) {
	s, _ := seeded(t)
	s.Stop(t)
	path := filepath.Join(t.TempDir(), "cache.json")
	if err := os.WriteFile(path, []byte(`{"format": "glb-config-cache/1", "prefix": "/glb/", "keys": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &cacheWarnings{}
	w := cachedWatcher(t, s, path, slog.New(h))
	deadline := time.Now().Add(5 * time.Second)
	for h.n.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no warning about the corrupt cache within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The cache is considered once: after two more failed lists, counted
	// rather than slept for, still one warning and no state.
	from := h.lists.Load()
	for h.lists.Load() < from+2 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("%d failed lists after the cache warning within 10s, want 2", h.lists.Load()-from)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := h.n.Load(); n != 1 {
		t.Errorf("%d warnings about the cache file, want exactly 1", n)
	}
	if n := w.rec.count(); n != 0 {
		t.Errorf("%d states handed on from a corrupt cache", n)
	}
	s.Restart(t)
	w.rec.waitFor(t, 10*time.Second, "etcd's state", func(st *schema.State) bool { return len(st.Regions) == 3 })
	// And the corrupt file is replaced by a good one.
	waitCache(t, path, "a good cache", func(cfg *CachedConfig) bool { return len(cfg.Keys) == len(testSeed) })
}

// cacheWarnings counts Warn records about the cache file, and those about
// failed lists of etcd.
type cacheWarnings struct{ n, lists atomic.Int32 }

func (h *cacheWarnings) Enabled(context.Context, slog.Level) bool { return true }
func (h *cacheWarnings) Handle(_ context.Context, r slog.Record) error {
	switch {
	case r.Level != slog.LevelWarn:
	case r.Message == "ignoring the cache file":
		h.n.Add(1)
	case r.Message == "list etcd prefix":
		h.lists.Add(1)
	}
	return nil
}
func (h *cacheWarnings) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *cacheWarnings) WithGroup(string) slog.Handler      { return h }
