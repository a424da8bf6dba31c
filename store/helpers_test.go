package store

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

const testPrefix = "/glb/"

// testSeed is a small valid configuration: three regions, one zone and a
// name using two of the regions (ap-south is unused, so it can be deleted
// without upsetting the name).
var testSeed = map[string]string{
	"regions/eu-west":                   `{"lat":50.11,"lon":8.68,"addrs":["192.0.2.10","2001:db8::10"]}`,
	"regions/us-east":                   `{"lat":38.9,"lon":-77.0,"addrs":["198.51.100.10"]}`,
	"regions/ap-south":                  `{"lat":19.07,"lon":72.87,"addrs":["203.0.113.10"]}`,
	"regions/eu-west/weight":            "50",
	"zones/gslb.example.test":           `{"ns":[{"name":"ns1.example.net"}]}`,
	"zones/gslb.example.test/names/www": `{"regions":["eu-west","us-east"]}`,
}

// newClient is a client made by NewClient, so the tests run through the
// production settings, closed when the test ends.
func newClient(t *testing.T, s *etcdtest.Server) *clientv3.Client {
	t.Helper()
	c, err := NewClient(Config{Endpoints: s.Endpoints()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// seeded starts etcd with testSeed under testPrefix.
func seeded(t *testing.T) (*etcdtest.Server, *clientv3.Client) {
	t.Helper()
	s := etcdtest.Start(t)
	c := newClient(t, s)
	if ok, err := Seed(t.Context(), c, testPrefix, testSeed); err != nil || !ok {
		t.Fatalf("Seed = %v, %v; want true, nil", ok, err)
	}
	return s, c
}

// recorder collects the states a Watcher hands on.
type recorder struct {
	mu     sync.Mutex
	states []*schema.State
}

func (r *recorder) onState(st *schema.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, st)
}

func (r *recorder) all() []*schema.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*schema.State(nil), r.states...)
}

func (r *recorder) count() int { return len(r.all()) }

func (r *recorder) last() *schema.State {
	s := r.all()
	if len(s) == 0 {
		return nil
	}
	return s[len(s)-1]
}

// waitFor polls until the last state satisfies cond, or fails the test
// after within.
func (r *recorder) waitFor(t *testing.T, within time.Duration, what string, cond func(*schema.State) bool) *schema.State {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if st := r.last(); st != nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no state with %s within %s; last state: %+v", what, within, r.last())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stays asserts that no state is handed on for d: the one place where only
// waiting can show that nothing happens.
func (r *recorder) stays(t *testing.T, d time.Duration) {
	t.Helper()
	n := r.count()
	time.Sleep(d)
	if got := r.count(); got != n {
		t.Fatalf("%d states handed on while none was expected: %+v", got-n, r.all()[n:])
	}
}

type testWatcher struct {
	*Watcher
	rec *recorder
	reg *prometheus.Registry
	err chan error
}

// newWatcher makes a Watcher of testPrefix; setup may set its test hooks
// before it runs. It is closed when the test ends, and Run must then have
// returned nil.
func newWatcher(t *testing.T, c *clientv3.Client, setup func(*Watcher)) *testWatcher {
	t.Helper()
	tw := &testWatcher{rec: &recorder{}, reg: prometheus.NewPedanticRegistry(), err: make(chan error, 1)}
	tw.Watcher = NewWatcher(c, testPrefix, slog.New(slog.DiscardHandler), NewMetrics(tw.reg), tw.rec.onState)
	if setup != nil {
		setup(tw.Watcher)
	}
	go func() { tw.err <- tw.Run(t.Context()) }()
	t.Cleanup(func() {
		tw.Close()
		select {
		case err := <-tw.err:
			if err != nil {
				t.Errorf("Run = %v, want nil after Close", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after Close")
		}
	})
	return tw
}

func regionWeight(st *schema.State, id string) int {
	if r := st.Regions[id]; r != nil {
		return r.Weight
	}
	return -1
}
