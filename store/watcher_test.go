package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

func TestWatcherInitialStateThenUpdates(t *testing.T) {
	_, c := seeded(t)
	w := newWatcher(t, c, nil)

	st := w.rec.waitFor(t, 5*time.Second, "the seeded regions", func(st *schema.State) bool { return len(st.Regions) == 3 })
	if got := regionWeight(st, "eu-west"); got != 50 {
		t.Errorf("initial eu-west weight = %d, want 50", got)
	}
	if got := regionWeight(st, "us-east"); got != schema.DefaultWeight {
		t.Errorf("initial us-east weight = %d, want the default %d", got, schema.DefaultWeight)
	}
	if z := st.Zones["gslb.example.test"]; z == nil || z.Names["www"] == nil {
		t.Fatalf("initial state lacks zone gslb.example.test with name www: %+v", st.Zones)
	}
	if len(st.Rejected) != 0 {
		t.Errorf("initial state rejects %+v", st.Rejected)
	}

	// Drain a region: the design promises answers move within a second.
	resp, err := c.Put(t.Context(), schema.WeightKey(testPrefix, "eu-west"), "0")
	if err != nil {
		t.Fatal(err)
	}
	st = w.rec.waitFor(t, 10*time.Second, "eu-west drained", func(st *schema.State) bool { return regionWeight(st, "eu-west") == 0 })
	if st.Revision < resp.Header.Revision {
		t.Errorf("state revision %d is older than the put at %d", st.Revision, resp.Header.Revision)
	}

	if _, err := c.Delete(t.Context(), schema.RegionKey(testPrefix, "ap-south")); err != nil {
		t.Fatal(err)
	}
	st = w.rec.waitFor(t, 10*time.Second, "ap-south gone", func(st *schema.State) bool { return st.Regions["ap-south"] == nil })
	if len(st.Regions) != 2 {
		t.Errorf("after deleting ap-south: regions %v, want eu-west and us-east", st.Regions)
	}

	if got := testutil.ToFloat64(w.m.revision); got != float64(st.Revision) {
		t.Errorf("glb_store_revision = %v, want %d", got, st.Revision)
	}
	if got, want := testutil.ToFloat64(w.m.states), float64(w.rec.count()); got != want {
		t.Errorf("glb_store_states_total = %v, want %v (one per state handed on)", got, want)
	}
	if got := testutil.ToFloat64(w.m.lastState); time.Since(time.Unix(int64(got), 0)) > time.Minute {
		t.Errorf("glb_store_last_state_timestamp_seconds = %v, not recent", got)
	}
}

func TestWatcherOneStatePerTransaction(t *testing.T) {
	_, c := seeded(t)
	w := newWatcher(t, c, nil)
	w.rec.waitFor(t, 5*time.Second, "the seeded regions", func(st *schema.State) bool { return len(st.Regions) == 3 })
	before := w.rec.count()

	_, err := c.Txn(t.Context()).Then(
		clientv3.OpPut(schema.WeightKey(testPrefix, "eu-west"), "10"),
		clientv3.OpPut(schema.WeightKey(testPrefix, "us-east"), "20"),
		clientv3.OpPut(schema.RegionKey(testPrefix, "sa-east"), `{"lat":-23.5,"lon":-46.6,"addrs":["192.0.2.99"]}`),
		clientv3.OpDelete(schema.RegionKey(testPrefix, "ap-south")),
	).Commit()
	if err != nil {
		t.Fatal(err)
	}
	all := func(st *schema.State) bool {
		return regionWeight(st, "eu-west") == 10 && regionWeight(st, "us-east") == 20 &&
			st.Regions["sa-east"] != nil && st.Regions["ap-south"] == nil
	}
	w.rec.waitFor(t, 10*time.Second, "the whole transaction", all)
	if got := w.rec.count() - before; got != 1 {
		t.Errorf("a transaction of 4 operations gave %d states, want 1", got)
	}
}

func TestWatcherRejectsInvalidValueAndKeepsLastGood(t *testing.T) {
	_, c := seeded(t)
	w := newWatcher(t, c, nil)
	w.rec.waitFor(t, 5*time.Second, "the seeded regions", func(st *schema.State) bool { return len(st.Regions) == 3 })
	key := schema.WeightKey(testPrefix, "eu-west")
	rejected := func(st *schema.State) *schema.Rejection {
		for i, r := range st.Rejected {
			if r.Key == key {
				return &st.Rejected[i]
			}
		}
		return nil
	}

	if _, err := c.Put(t.Context(), key, "abc"); err != nil {
		t.Fatal(err)
	}
	st := w.rec.waitFor(t, 10*time.Second, "the weight rejected", func(st *schema.State) bool { return rejected(st) != nil })
	if got := regionWeight(st, "eu-west"); got != 50 {
		t.Errorf("weight after a bad value = %d, want the last good 50", got)
	}
	if r := rejected(st); r.Kind != schema.KindWeight || !r.InForce || !strings.Contains(r.Reason, "abc") {
		t.Errorf("rejection = %+v, want kind weight, in force, naming the value", r)
	}
	weightRejections := w.m.rejections.WithLabelValues("weight")
	if got := testutil.ToFloat64(weightRejections); got != 1 {
		t.Errorf(`glb_store_rejections_total{kind="weight"} = %v, want 1`, got)
	}
	if got := testutil.ToFloat64(w.m.rejectedKeys); got != 1 {
		t.Errorf("glb_store_rejected_keys = %v, want 1", got)
	}

	// The same bad value again is the same rejection: not counted twice.
	resp, err := c.Put(t.Context(), key, "abc")
	if err != nil {
		t.Fatal(err)
	}
	w.rec.waitFor(t, 10*time.Second, "the second bad put", func(st *schema.State) bool { return st.Revision >= resp.Header.Revision })
	if got := testutil.ToFloat64(weightRejections); got != 1 {
		t.Errorf(`after the same bad value again: glb_store_rejections_total{kind="weight"} = %v, want 1`, got)
	}

	// A good value clears the rejection.
	if _, err := c.Put(t.Context(), key, "70"); err != nil {
		t.Fatal(err)
	}
	st = w.rec.waitFor(t, 10*time.Second, "weight 70", func(st *schema.State) bool { return regionWeight(st, "eu-west") == 70 })
	if len(st.Rejected) != 0 {
		t.Errorf("rejections after a good value: %+v", st.Rejected)
	}
	if got := testutil.ToFloat64(w.m.rejectedKeys); got != 0 {
		t.Errorf("glb_store_rejected_keys = %v, want 0", got)
	}
}

// TestWatcherRelistsAfterCompaction changes and compacts etcd between the
// watcher's list and its watch, so the watch starts at a compacted revision:
// the watcher must re-list, pick up every change made in the gap (a delete
// included), and never hand on an empty state meanwhile.
func TestWatcherRelistsAfterCompaction(t *testing.T) {
	s, c := seeded(t)
	other := s.Client(t)
	var calls atomic.Int32
	w := newWatcher(t, c, func(w *Watcher) {
		w.beforeWatch = func(ctx context.Context, rev int64) {
			if calls.Add(1) != 1 {
				return
			}
			for _, v := range []string{"1", "2", "3"} {
				if _, err := other.Put(ctx, schema.WeightKey(testPrefix, "us-east"), v); err != nil {
					t.Error(err)
				}
			}
			resp, err := other.Delete(ctx, schema.RegionKey(testPrefix, "ap-south"))
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := other.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
				t.Error(err)
			}
		}
	})

	w.rec.waitFor(t, 5*time.Second, "the changes made in the gap", func(st *schema.State) bool {
		return regionWeight(st, "us-east") == 3 && st.Regions["ap-south"] == nil
	})
	if got := calls.Load(); got < 2 {
		t.Errorf("watch started %d times, want a second start after the re-list", got)
	}
	if got := testutil.ToFloat64(w.m.watchRestarts); got != 1 {
		t.Errorf("glb_store_watch_restarts_total = %v, want 1", got)
	}
	states := w.rec.all()
	if len(states) != 2 {
		t.Errorf("%d states, want 2: the first list and the re-list", len(states))
	}
	for i, st := range states {
		if len(st.Regions) < 2 {
			t.Errorf("state %d at revision %d has regions %v: a partial state was handed on", i, st.Revision, st.Regions)
		}
	}
}

func TestWatcherKeepsStateWhileEtcdIsDown(t *testing.T) {
	s, c := seeded(t)
	w := newWatcher(t, c, nil)
	w.rec.waitFor(t, 5*time.Second, "the seeded regions", func(st *schema.State) bool { return len(st.Regions) == 3 })

	s.Stop(t)
	w.rec.stays(t, 300*time.Millisecond)
	s.Restart(t)

	if _, err := s.Client(t).Put(t.Context(), schema.WeightKey(testPrefix, "us-east"), "5"); err != nil {
		t.Fatal(err)
	}
	w.rec.waitFor(t, 10*time.Second, "the put after the restart", func(st *schema.State) bool { return regionWeight(st, "us-east") == 5 })
	for i, st := range w.rec.all() {
		if len(st.Regions) != 3 {
			t.Errorf("state %d at revision %d has regions %v, want all 3 throughout", i, st.Revision, st.Regions)
		}
	}
}

func TestWatcherRetriesWhileEtcdIsDownAtStart(t *testing.T) {
	s, _ := seeded(t)
	s.Stop(t)

	c := newClient(t, s) // must not fail or block with etcd down
	warns, rec := &countHandler{}, &recorder{}
	w := NewWatcher(c, testPrefix, slog.New(warns), NewMetrics(prometheus.NewRegistry()), rec.onState)
	w.listTimeout = 200 * time.Millisecond // fail fast, so that retries happen during the test
	done := make(chan error, 1)
	go func() { done <- w.Run(t.Context()) }()
	t.Cleanup(func() { w.Close(); <-done })

	deadline := time.Now().Add(5 * time.Second)
	for warns.n.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d warnings in 5s while etcd is down, want a failed list logged at each retry", warns.n.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("%d states handed on while etcd was down", n)
	}

	s.Restart(t)
	rec.waitFor(t, 10*time.Second, "the seeded regions after etcd came up", func(st *schema.State) bool { return len(st.Regions) == 3 })
}

func TestWatcherRecoversCallbackPanic(t *testing.T) {
	_, c := seeded(t)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	w := NewWatcher(c, testPrefix, slog.New(slog.DiscardHandler), m, func(*schema.State) { panic("boom") })
	err := w.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Run = %v, want the recovered panic", err)
	}
	if got := testutil.ToFloat64(m.panics); got != 1 {
		t.Errorf("glb_store_panics_total = %v, want 1", got)
	}
	// Close after Run has returned must not block.
	w.Close()
}

func TestWatcherCloseBeforeRun(t *testing.T) {
	s := etcdtest.Start(t)
	w := NewWatcher(newClient(t, s), testPrefix, slog.New(slog.DiscardHandler), NewMetrics(prometheus.NewRegistry()), func(*schema.State) {})
	w.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := w.Run(ctx); err != nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Run after Close = %v (ctx %v), want nil at once", err, ctx.Err())
	}
}

// countHandler counts Warn records.
type countHandler struct{ n atomic.Int32 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && r.Message == "list etcd prefix" {
		h.n.Add(1)
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }
