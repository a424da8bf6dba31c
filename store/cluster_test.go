package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

// The tests in this file run the Watcher against a three-member cluster
// and kill members under it. They compare what the Watcher handed on last
// with a fresh list of etcd, decoded the same way: a missed or reordered
// update shows as a difference.

// clusterSeeded starts a three-member cluster holding testSeed plus n more
// regions, r00, r01, ..., for writers to change the weights of.
func clusterSeeded(t *testing.T, n int) *etcdtest.Cluster {
	t.Helper()
	c := etcdtest.StartCluster(t, 3)
	kvs := map[string]string{}
	for k, v := range testSeed {
		kvs[k] = v
	}
	for i := range n {
		kvs[fmt.Sprintf("regions/r%02d", i)] = fmt.Sprintf(`{"lat":%d,"lon":%d,"addrs":["192.0.2.%d"]}`, i, i, i+1)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if ok, err := Seed(ctx, c.Client(t), testPrefix, kvs); err != nil || !ok {
		t.Fatalf("Seed = %v, %v; want true, nil", ok, err)
	}
	return c
}

// clusterWatcher runs a Watcher through a client made by NewClient, as
// glbd's is, of the given endpoints.
func clusterWatcher(t *testing.T, endpoints []string) *testWatcher {
	t.Helper()
	cl, err := NewClient(Config{Endpoints: endpoints}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return newWatcher(t, cl, nil)
}

// assertMatchesEtcd waits until the watcher has handed on etcd's current
// revision, then checks that its state is what a fresh list decodes to.
func assertMatchesEtcd(t *testing.T, c *etcdtest.Cluster, w *testWatcher) {
	t.Helper()
	cl := c.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := cl.Get(ctx, testPrefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	rev := resp.Header.Revision
	got := w.rec.waitFor(t, 10*time.Second, fmt.Sprintf("revision %d", rev), func(st *schema.State) bool { return st.Revision >= rev })
	if got.Revision != rev {
		t.Fatalf("watcher at revision %d, etcd at %d with no writer running", got.Revision, rev)
	}
	b := schema.NewBuilder(testPrefix)
	for _, kv := range resp.Kvs {
		b.Put(string(kv.Key), kv.Value, kv.ModRevision)
	}
	want, _ := b.State(rev)
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"regions", got.Regions, want.Regions},
		{"zones", got.Zones, want.Zones},
		{"rejected", got.Rejected, want.Rejected},
		{"probers", got.Probers, want.Probers},
		{"health", got.Health, want.Health},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("watcher's %s at revision %d differ from etcd's:\n got %s\nwant %s", f.name, rev, dump(f.got), dump(f.want))
		}
	}
}

// dump prints a state's part with pointers followed, for a failure message.
func dump(v any) string {
	if rs, ok := v.(map[string]*schema.RegionState); ok {
		out := map[string]string{}
		for id, r := range rs {
			out[id] = fmt.Sprintf("weight %d %+v", r.Weight, *r.Region)
		}
		return fmt.Sprint(out)
	}
	return fmt.Sprintf("%+v", v)
}

// assertMonotonic checks that the states handed on never went back in
// revision, and that none lacked a seeded region: no partial state.
func assertMonotonic(t *testing.T, w *testWatcher, regions int) {
	t.Helper()
	var last int64
	for i, st := range w.rec.all() {
		if st.Revision < last {
			t.Errorf("state %d at revision %d after one at %d", i, st.Revision, last)
		}
		last = st.Revision
		if len(st.Regions) != regions {
			t.Errorf("state %d at revision %d has %d regions, want %d", i, st.Revision, len(st.Regions), regions)
		}
	}
}

// TestClusterWatcherFollowsThroughMemberKills kills each member in turn,
// the leader among them: the client's watch stream is on one of them and
// its requests go to all, so every case is met. Each change made while a
// member is down must reach the watcher.
func TestClusterWatcherFollowsThroughMemberKills(t *testing.T) {
	c := clusterSeeded(t, 0)
	w := clusterWatcher(t, c.Endpoints())
	w.rec.waitFor(t, 5*time.Second, "the seeded regions", func(st *schema.State) bool { return len(st.Regions) == 3 })

	for i := range c.Size() {
		leader := c.Leader(t) == i
		start := time.Now()
		c.Kill(t, i)
		weight := 10 + i
		c.Put(t, schema.WeightKey(testPrefix, "us-east"), strconv.Itoa(weight))
		w.rec.waitFor(t, 10*time.Second, fmt.Sprintf("weight %d with member %d down", weight, i),
			func(st *schema.State) bool { return regionWeight(st, "us-east") == weight })
		t.Logf("member %d (leader: %v) killed: the next change was handed on %s later", i, leader, time.Since(start).Round(time.Millisecond))
		c.Restart(t, i)
	}
	assertMatchesEtcd(t, c, w)
	assertMonotonic(t, w, 3)
	if !w.Status().Connected {
		t.Error("watcher reports not connected with every member back")
	}
}

// TestClusterWatcherLeaderKilledMidStream kills the leader while writers
// put a steady stream of weights (240 puts, over about a second when etcd
// is quick, each retried until it succeeds): the watcher's final state must
// equal etcd's, with every key at its last value.
func TestClusterWatcherLeaderKilledMidStream(t *testing.T) {
	const regions, puts, writers = 21, 240, 3
	c := clusterSeeded(t, regions)
	w := clusterWatcher(t, c.Endpoints())
	w.rec.waitFor(t, 5*time.Second, "the seeded regions", func(st *schema.State) bool { return len(st.Regions) == 3+regions })

	// Three writers, each with its own third of the regions, so that each
	// key's last value is known; each puts every 8 ms or as fast as etcd
	// answers, if slower (about 45 ms under -race on a loaded machine).
	cl := c.Client(t)
	var done atomic.Int32
	var lastRev atomic.Int64
	writerErr := make(chan error, writers)
	for g := range writers {
		go func() {
			writerErr <- func() error {
				tick := time.NewTicker(8 * time.Millisecond)
				defer tick.Stop()
				for i := g; i < puts; i += writers {
					<-tick.C
					key := schema.WeightKey(testPrefix, fmt.Sprintf("r%02d", i%regions))
					rev, err := putRetrying(t.Context(), cl, key, strconv.Itoa(i%1000))
					if err != nil {
						return err
					}
					storeMax(&lastRev, rev)
					done.Add(1)
				}
				return nil
			}()
		}()
	}

	eventually(t, 20*time.Second, "a quarter of the puts", func() bool { return done.Load() >= puts/4 })
	old := c.Leader(t)
	killRev := lastRev.Load()
	start := time.Now()
	c.Kill(t, old)
	w.rec.waitFor(t, 10*time.Second, "a state after the leader was killed", func(st *schema.State) bool {
		return st.Revision > killRev+1 // a write accepted after the kill, not one in flight
	})
	t.Logf("leader %d killed after %d puts: the watcher handed on a later write %s after the kill",
		old, done.Load(), time.Since(start).Round(time.Millisecond))
	for range writers {
		if err := <-writerErr; err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	assertMatchesEtcd(t, c, w)
	assertMonotonic(t, w, 3+regions)
	// Every key was written at least once after the kill; check the final
	// values directly too, in terms a reader of a failure can follow.
	st := w.rec.last()
	for i := puts - regions; i < puts; i++ {
		id := fmt.Sprintf("r%02d", i%regions)
		if got := regionWeight(st, id); got != i%1000 {
			t.Errorf("region %s weight %d, want %d (put %d)", id, got, i%1000, i)
		}
	}
}

// putRetrying puts key=value until it succeeds, for up to 20s: an error
// during an election says nothing about whether the put happened, and a
// put of the same value again is harmless. Each try gets 500ms, so that a
// put stuck on a member whose leader was just killed is soon tried again.
func putRetrying(ctx context.Context, cl *clientv3.Client, key, value string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		resp, err := cl.Put(pctx, key, value)
		cancel()
		if err == nil {
			return resp.Header.Revision, nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("put %s: %w", key, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterWatcherAllMembersDown kills every member: the watcher keeps
// its last state and reports itself not connected, then catches up with a
// change made after the members return.
func TestClusterWatcherAllMembersDown(t *testing.T) {
	c := clusterSeeded(t, 0)
	w := clusterWatcher(t, c.Endpoints())
	w.rec.waitFor(t, 5*time.Second, "the seeded regions", func(st *schema.State) bool { return len(st.Regions) == 3 })
	if !w.Status().Connected || gaugeValue(t, w.reg, "glb_store_etcd_connected") != 1 {
		t.Fatal("watcher not connected before the outage")
	}

	c.KillAll(t)
	deadline := time.Now().Add(10 * time.Second)
	for w.Status().Connected || gaugeValue(t, w.reg, "glb_store_etcd_connected") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("watcher still reports connected 10s after every member was killed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.rec.stays(t, 500*time.Millisecond)
	if st := w.rec.last(); len(st.Regions) != 3 || regionWeight(st, "eu-west") != 50 {
		t.Fatalf("state during the outage: %+v", st)
	}

	c.RestartAll(t)
	start := time.Now()
	c.Put(t, schema.WeightKey(testPrefix, "eu-west"), "7")
	w.rec.waitFor(t, 15*time.Second, "the change after the members returned", func(st *schema.State) bool { return regionWeight(st, "eu-west") == 7 })
	t.Logf("change after RestartAll handed on %s after the put", time.Since(start).Round(time.Millisecond))
	assertMatchesEtcd(t, c, w)
	assertMonotonic(t, w, 3)
	eventually(t, 10*time.Second, "watcher connected again", func() bool { return w.Status().Connected })
}

// TestClusterWatcherCompactedWhilePaused stalls the watcher's connection
// (its member stays up) while writers change every region, then compacts
// all those changes away, so the watcher's next revision is gone:
//
//   - "resume": traffic flows again on the same connection. etcd holds
//     what it cannot send (about 128 kB in gRPC's window and write quota,
//     then 128 responses in its watch stream), then parks the watcher and
//     later cancels it as compacted. With 3 kB values that is under 180
//     changes, so 300 are more than it holds and the watcher must list
//     again. 300 puts take 3 s under -race on an idle two-core machine
//     and ten times that on a loaded one, so this case runs only with
//     GLB_ETCD_LONG=1.
//   - "drop": the stalled connection is closed instead, as a keepalive
//     timeout would; etcd's client resumes the watch from its last
//     revision, which is compacted, whatever etcd had held.
//
// Either way the watcher must end at etcd's state with nothing missed.
func TestClusterWatcherCompactedWhilePaused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		puts  int
		after func(c *etcdtest.Cluster)
	}{
		{"resume", 300, func(c *etcdtest.Cluster) { c.Resume(0) }},
		{"drop", 40, func(c *etcdtest.Cluster) { c.DropConnections(0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "resume" && os.Getenv("GLB_ETCD_LONG") == "" {
				t.Skip("300 puts under -race: set GLB_ETCD_LONG=1 to run")
			}
			const regions, writers = 20, 4
			c := clusterSeeded(t, regions)
			// Only member 0, so that pausing its relay stalls the watch.
			w := clusterWatcher(t, []string{c.Endpoint(0)})
			w.rec.waitFor(t, 5*time.Second, "the seeded regions", func(st *schema.State) bool { return len(st.Regions) == 3+regions })
			restarts := testutil.ToFloat64(w.m.watchRestarts)

			cl := c.Client(t, 1, 2)
			c.Pause(0)
			start := time.Now()
			var wg sync.WaitGroup
			var lastRev atomic.Int64
			for g := range writers {
				wg.Go(func() {
					for i := g; i < tc.puts; i += writers {
						id := fmt.Sprintf("r%02d", i%regions)
						rev, err := putRetrying(t.Context(), cl, schema.RegionKey(testPrefix, id), bigRegion(i))
						if err != nil {
							t.Error(err)
							return
						}
						storeMax(&lastRev, rev)
					}
				})
			}
			wg.Wait()
			c.Compact(t, lastRev.Load())
			t.Logf("%d puts and a compaction in %s while the watcher's member was paused", tc.puts, time.Since(start).Round(time.Millisecond))
			tc.after(c)

			start = time.Now()
			assertMatchesEtcd(t, c, w)
			t.Logf("watcher at etcd's state %s later", time.Since(start).Round(time.Millisecond))
			assertMonotonic(t, w, 3+regions)
			if got := testutil.ToFloat64(w.m.watchRestarts); got <= restarts {
				t.Errorf("glb_store_watch_restarts_total = %v, want more than %v: the watch was never compacted", got, restarts)
			}
		})
	}
}

// bigRegion is a valid region document of about 3 kB, different for each
// i: the largest a region can be (64 addresses, written in full), so that
// few responses fill gRPC's window.
func bigRegion(i int) string {
	addrs := make([]string, schema.MaxRegionAddrs)
	for j := range addrs {
		addrs[j] = fmt.Sprintf(`"2001:0db8:ffff:ffff:ffff:ffff:%04x:%04x"`, j+1, i+1)
	}
	return fmt.Sprintf(`{"lat":%d,"lon":%d,"addrs":[%s]}`, i%90, i%180, strings.Join(addrs, ","))
}

// storeMax raises v to rev if rev is higher.
func storeMax(v *atomic.Int64, rev int64) {
	for {
		if l := v.Load(); rev <= l || v.CompareAndSwap(l, rev) {
			return
		}
	}
}

// gaugeValue reads a gauge from reg.
func gaugeValue(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
