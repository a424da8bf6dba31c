package store

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/store/etcdtest"
)

// sleepRecorder is the real clock, recording the sleeps asked of it.
type sleepRecorder struct {
	realClock
	mu     sync.Mutex
	sleeps []time.Duration
}

func (c *sleepRecorder) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return c.realClock.After(d)
}

// waitSleeps waits until n sleeps were asked for and returns them.
func (c *sleepRecorder) waitSleeps(t *testing.T, n int) []time.Duration {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		s := append([]time.Duration(nil), c.sleeps...)
		c.mu.Unlock()
		if len(s) >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sleeps in 10s, want %d", len(s), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutageRetriesDoNotStack checks that while etcd is down, attempts
// that wait out their whole timeout (etcd's client waits for a
// connection) are followed by the shortest backoff, not a doubling one: a
// grant or list in flight when etcd returns goes through at once, and one
// asleep would otherwise wait up to 5s more.
func TestOutageRetriesDoNotStack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		min   time.Duration
		start func(t *testing.T, s *etcdtest.Server, clk *sleepRecorder) (ready func() bool)
	}{
		{"publisher grant", leaseBackoffMin, func(t *testing.T, s *etcdtest.Server, clk *sleepRecorder) func() bool {
			p := startPublisher(t, newClient(t, s), 2*time.Second, func(p *Publisher) {
				p.clock, p.grantTimeout, p.backoff.rand = clk, 50*time.Millisecond, nil
			})
			return func() bool { return testutil.ToFloat64(p.m.leaseUp) == 1 }
		}},
		{"watcher list", backoffMin, func(t *testing.T, s *etcdtest.Server, clk *sleepRecorder) func() bool {
			rec := &recorder{}
			w := NewWatcher(newClient(t, s), testPrefix, slog.New(slog.DiscardHandler), NewMetrics(prometheus.NewRegistry()), rec.onState)
			w.clock, w.listTimeout, w.backoff.rand = clk, 50*time.Millisecond, nil
			done := make(chan error, 1)
			go func() { done <- w.Run(t.Context()) }()
			t.Cleanup(func() { w.Close(); <-done })
			return func() bool { return rec.count() > 0 }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := etcdtest.Start(t)
			s.Stop(t)
			clk := &sleepRecorder{}
			ready := tc.start(t, s, clk)
			for i, d := range clk.waitSleeps(t, 5) {
				if d != tc.min {
					t.Errorf("sleep %d after an attempt that waited out its timeout: %s, want %s", i, d, tc.min)
				}
			}
			s.Restart(t)
			deadline := time.Now().Add(10 * time.Second)
			for !ready() {
				if time.Now().After(deadline) {
					t.Fatal("not back within 10s of etcd's return")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
