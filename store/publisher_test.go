package store

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

const testProber = "probe-1"

var testInfo = schema.ProberInfo{Lat: 52.37, Lon: 4.9, Country: "NL", Version: "test"}

// testPublisher is a Publisher running in the background until the test
// ends (or stop is called).
type testPublisher struct {
	*Publisher
	m    *PublisherMetrics
	stop context.CancelFunc
	done chan error
}

// startPublisher runs a Publisher with the given lease TTL; setup may
// change it before Run.
func startPublisher(t *testing.T, c *clientv3.Client, ttl time.Duration, setup func(*Publisher)) *testPublisher {
	t.Helper()
	m := NewPublisherMetrics(prometheus.NewRegistry())
	p := NewPublisher(c, PublisherConfig{Prefix: testPrefix, ProberID: testProber, Info: testInfo, LeaseTTL: ttl},
		slog.New(slog.DiscardHandler), m)
	if setup != nil {
		setup(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testPublisher{Publisher: p, m: m, stop: cancel, done: make(chan error, 1)}
	go func() { tp.done <- p.Run(ctx) }()
	t.Cleanup(func() { tp.wait(t) })
	return tp
}

// wait stops Run and checks that it returns nil promptly.
func (tp *testPublisher) wait(t *testing.T) {
	t.Helper()
	tp.stop()
	select {
	case err, ok := <-tp.done:
		if !ok {
			return // waited for already
		}
		if err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
		close(tp.done)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s")
	}
}

// getKV returns key's kv, or nil when it does not exist.
func getKV(t *testing.T, c *clientv3.Client, key string) *clientv3.GetResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return resp
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leased reports the lease of key, 0 when it does not exist.
func leased(t *testing.T, c *clientv3.Client, key string) int64 {
	resp := getKV(t, c, key)
	if len(resp.Kvs) == 0 {
		return 0
	}
	return resp.Kvs[0].Lease
}

// decoded returns the schema value at key, failing the test if it does not
// decode.
func decoded(t *testing.T, c *clientv3.Client, key string) any {
	t.Helper()
	resp := getKV(t, c, key)
	if len(resp.Kvs) == 0 {
		t.Fatalf("%s does not exist", key)
	}
	k, err := schema.ParseKey(testPrefix, key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schema.Decode(k, resp.Kvs[0].Value)
	if err != nil {
		t.Fatalf("decode %s = %s: %v", key, resp.Kvs[0].Value, err)
	}
	return v
}

func report(up bool) schema.HealthReport {
	r := schema.HealthReport{Up: up, Time: time.Now().UTC().Truncate(time.Millisecond)}
	if up {
		r.RTT = schema.Duration(3 * time.Millisecond)
	} else {
		r.Error = "connection refused"
	}
	return r
}

func TestPublisherRegistersAndPublishes(t *testing.T) {
	srv := etcdtest.Start(t)
	c := newClient(t, srv)
	proberKey := schema.ProberKey(testPrefix, testProber)
	keyA := schema.HealthKey(testPrefix, "eu-west", "192.0.2.10", testProber)
	keyB := schema.HealthKey(testPrefix, "eu-west", "2001:db8::10", testProber)

	tp := startPublisher(t, c, 5*time.Second, func(p *Publisher) {
		// Before Run has a lease, a verdict is only remembered.
		if err := p.Publish(t.Context(), "eu-west", "192.0.2.10", report(true)); err != nil {
			t.Fatalf("Publish before the lease = %v", err)
		}
	})
	eventually(t, 5*time.Second, "registration", func() bool { return leased(t, c, proberKey) != 0 })
	lease := leased(t, c, proberKey)
	info, ok := decoded(t, c, proberKey).(*schema.ProberInfo)
	if !ok || info.Lat != testInfo.Lat || info.Country != "NL" {
		t.Errorf("prober info = %+v; want %+v", info, testInfo)
	}
	if got := leased(t, c, keyA); got != lease {
		t.Errorf("verdict remembered before the lease: lease %x; want %x", got, lease)
	}

	if err := tp.Publish(t.Context(), "eu-west", "2001:db8::10", report(false)); err != nil {
		t.Fatalf("Publish = %v", err)
	}
	h, ok := decoded(t, c, keyB).(*schema.HealthReport)
	if !ok || h.Up || h.Error == "" {
		t.Errorf("report = %+v; want a down report with an error", h)
	}
	if got := leased(t, c, keyB); got != lease {
		t.Errorf("published key's lease = %x; want the prober's %x", got, lease)
	}
	if err := tp.Withdraw(t.Context(), "eu-west", "2001:db8::10"); err != nil {
		t.Fatalf("Withdraw = %v", err)
	}
	if len(getKV(t, c, keyB).Kvs) != 0 {
		t.Errorf("%s still exists after Withdraw", keyB)
	}
	if err := tp.Publish(t.Context(), "EU West", "192.0.2.10", report(true)); err == nil {
		t.Error("Publish with a bad region id = nil; want an error")
	}
	if got := testutil.ToFloat64(tp.m.leaseUp); got != 1 {
		t.Errorf("lease_up = %v; want 1", got)
	}
	// The registration, A in the rewrite, B's put and B's delete.
	if put, del := testutil.ToFloat64(tp.m.writes.WithLabelValues(opPut)), testutil.ToFloat64(tp.m.writes.WithLabelValues(opDelete)); put != 3 || del != 1 {
		t.Errorf("writes = %v puts, %v deletes; want 3, 1", put, del)
	}
}

// TestPublisherRelease checks how the prober's keys go: at once when it
// stops cleanly (its lease is revoked), within the TTL when it dies.
func TestPublisherRelease(t *testing.T) {
	const ttl = 2 * time.Second
	for _, tc := range []struct {
		name   string
		crash  bool          // exit without revoking, as a killed prober
		within time.Duration // keys gone within this after the stop
	}{
		{name: "clean stop revokes", within: 500 * time.Millisecond},
		{name: "crash expires", crash: true, within: ttl + 3*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := etcdtest.Start(t)
			c := newClient(t, srv)
			tp := startPublisher(t, c, ttl, func(p *Publisher) { p.skipRevoke = tc.crash })
			keys := []string{
				schema.ProberKey(testPrefix, testProber),
				schema.HealthKey(testPrefix, "eu-west", "192.0.2.10", testProber),
				schema.HealthKey(testPrefix, "us-east", "198.51.100.10", testProber),
			}
			eventually(t, 5*time.Second, "registration", func() bool { return leased(t, c, keys[0]) != 0 })
			for _, ep := range [][2]string{{"eu-west", "192.0.2.10"}, {"us-east", "198.51.100.10"}} {
				if err := tp.Publish(t.Context(), ep[0], ep[1], report(true)); err != nil {
					t.Fatal(err)
				}
			}
			tp.wait(t)
			if tc.crash {
				// Still there: only the lease's expiry removes them.
				if len(getKV(t, c, keys[1]).Kvs) == 0 {
					t.Fatal("keys gone at once after a crash; want them to expire with the lease")
				}
			}
			start := time.Now()
			for _, k := range keys {
				eventually(t, tc.within-time.Since(start), k+" gone", func() bool { return len(getKV(t, c, k).Kvs) == 0 })
			}
			t.Logf("keys gone %s after the stop", time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestPublisherOutage stops etcd for longer than the lease TTL: the lease
// is lost, and when etcd is back the publisher grants a new one and writes
// its registration and current verdicts again, including one changed and
// one withdrawn during the outage.
func TestPublisherOutage(t *testing.T) {
	const ttl = 2 * time.Second
	srv := etcdtest.Start(t)
	c := newClient(t, srv)
	check := srv.Client(t)
	tp := startPublisher(t, c, ttl, nil)
	proberKey := schema.ProberKey(testPrefix, testProber)
	keyA := schema.HealthKey(testPrefix, "eu-west", "192.0.2.10", testProber)
	keyB := schema.HealthKey(testPrefix, "us-east", "198.51.100.10", testProber)
	eventually(t, 5*time.Second, "registration", func() bool { return leased(t, check, proberKey) != 0 })
	first := leased(t, check, proberKey)
	for _, ep := range [][2]string{{"eu-west", "192.0.2.10"}, {"us-east", "198.51.100.10"}} {
		if err := tp.Publish(t.Context(), ep[0], ep[1], report(true)); err != nil {
			t.Fatal(err)
		}
	}

	srv.Stop(t)
	start := time.Now()
	eventually(t, ttl+5*time.Second, "lease lost", func() bool { return testutil.ToFloat64(tp.m.leaseUp) == 0 })
	t.Logf("lease lost %s after etcd stopped", time.Since(start).Round(time.Millisecond))
	// Without a lease these are only remembered, and return at once.
	if err := tp.Publish(t.Context(), "eu-west", "192.0.2.10", report(false)); err != nil {
		t.Errorf("Publish without a lease = %v", err)
	}
	if err := tp.Withdraw(t.Context(), "us-east", "198.51.100.10"); err != nil {
		t.Errorf("Withdraw without a lease = %v", err)
	}
	srv.Restart(t)
	start = time.Now()

	eventually(t, 15*time.Second, "new registration", func() bool {
		l := leased(t, check, proberKey)
		return l != 0 && l != first
	})
	eventually(t, 5*time.Second, "withdrawn key gone", func() bool { return len(getKV(t, check, keyB).Kvs) == 0 })
	t.Logf("republished %s after etcd restarted", time.Since(start).Round(time.Millisecond))
	if h, ok := decoded(t, check, keyA).(*schema.HealthReport); !ok || h.Up {
		t.Errorf("verdict after the outage = %+v; want the down verdict published during it", h)
	}
	if got, want := leased(t, check, keyA), leased(t, check, proberKey); got != want {
		t.Errorf("verdict lease = %x; want the new lease %x", got, want)
	}
	if got := testutil.ToFloat64(tp.m.grants); got != 2 {
		t.Errorf("lease_grants_total = %v; want 2", got)
	}
	if got := testutil.ToFloat64(tp.m.leaseUp); got != 1 {
		t.Errorf("lease_up = %v; want 1", got)
	}
}

func TestPublisherRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  PublisherConfig
	}{
		{"bad id", PublisherConfig{Prefix: testPrefix, ProberID: "Probe 1", Info: testInfo}},
		{"bad location", PublisherConfig{Prefix: testPrefix, ProberID: testProber, Info: schema.ProberInfo{Lat: 91}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// No etcd is needed: the config is checked before any request.
			p := NewPublisher(nil, tc.cfg, slog.New(slog.DiscardHandler), NewPublisherMetrics(prometheus.NewRegistry()))
			if err := p.Run(t.Context()); err == nil {
				t.Error("Run = nil; want an error")
			}
		})
	}
}

func TestPublisherMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewPublisherMetrics(reg)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}

// TestPublisherRetriesFailedWrite stops etcd for less than the TTL: the
// lease survives, a Publish meanwhile fails, and the publisher writes it
// once keepalives get through again.
func TestPublisherRetriesFailedWrite(t *testing.T) {
	srv := etcdtest.Start(t)
	c := newClient(t, srv)
	check := srv.Client(t)
	tp := startPublisher(t, c, 10*time.Second, nil)
	proberKey := schema.ProberKey(testPrefix, testProber)
	key := schema.HealthKey(testPrefix, "eu-west", "192.0.2.10", testProber)
	eventually(t, 5*time.Second, "registration", func() bool { return leased(t, check, proberKey) != 0 })
	lease := leased(t, check, proberKey)
	if err := tp.Publish(t.Context(), "eu-west", "192.0.2.10", report(true)); err != nil {
		t.Fatal(err)
	}

	srv.Stop(t)
	if err := tp.Publish(t.Context(), "eu-west", "192.0.2.10", report(false)); err == nil {
		t.Fatal("Publish with etcd stopped = nil; want an error")
	}
	srv.Restart(t)
	eventually(t, 10*time.Second, "failed write retried", func() bool {
		resp := getKV(t, check, key)
		return len(resp.Kvs) == 1 && strings.Contains(string(resp.Kvs[0].Value), `"up":false`)
	})
	if got := leased(t, check, key); got != lease {
		t.Errorf("lease after a short outage = %x; want the first lease %x", got, lease)
	}
	if got := testutil.ToFloat64(tp.m.writeErrors.WithLabelValues(opPut)); got != 1 {
		t.Errorf("etcd_write_errors_total{op=put} = %v; want 1", got)
	}
}
