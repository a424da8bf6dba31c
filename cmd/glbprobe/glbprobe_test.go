package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

const testID = "test-probe"

// backend is an HTTP health endpoint that can be made to fail.
type backend struct {
	*httptest.Server
	failing atomic.Bool
}

func startBackend(t *testing.T) *backend {
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if b.failing.Load() {
			http.Error(w, "failing", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	}))
	t.Cleanup(b.Close)
	return b
}

// startProbe runs glbprobe in-process against etcd, on a free HTTP port.
func startProbe(t *testing.T, srv *etcdtest.Server) *app {
	t.Helper()
	return runProbe(t, Config{ID: testID, Lat: 52.37, Lon: 4.9, Country: "NL", Etcd: srv.Endpoints(), Prefix: "/glb/",
		HTTPAddr: "127.0.0.1:0", LeaseTTL: 2 * time.Second, Refresh: 30 * time.Second})
}

// runProbe runs glbprobe in-process with cfg until the test ends.
func runProbe(t *testing.T, cfg Config) *app {
	t.Helper()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("glbprobe Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("glbprobe did not stop within 15s")
		}
	})
	return a
}

// healthReport returns the report at key, or nil while there is none.
func healthReport(t *testing.T, srv *etcdtest.Server, key string) *schema.HealthReport {
	t.Helper()
	v := srv.Get(t, key)
	if v == "" {
		return nil
	}
	k, err := schema.ParseKey("/glb/", key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := schema.Decode(k, []byte(v))
	if err != nil {
		t.Fatalf("decode %s = %s: %v", key, v, err)
	}
	return r.(*schema.HealthReport)
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProbeEndToEnd runs the prober against a region whose check points at
// a local backend: the verdict appears in etcd, follows the backend down,
// and is gone as soon as the prober stops.
func TestProbeEndToEnd(t *testing.T) {
	srv := etcdtest.Start(t)
	b := startBackend(t)
	// The endpoint is a documentation address; the check connects to the
	// backend instead, as dev mode's regions do.
	srv.Put(t, "/glb/regions/eu-west", fmt.Sprintf(`{"lat": 51.51, "lon": -0.13, "addrs": ["192.0.2.10"],
		"check": {"type": "http", "path": "/healthz", "interval": "1s", "timeout": "1s", "rise": 1, "fall": 2,
		"connect": %q}}`, strings.TrimPrefix(b.URL, "http://")))
	key := schema.HealthKey("/glb/", "eu-west", "192.0.2.10", testID)

	start := time.Now()
	a := startProbe(t, srv)
	waitFor(t, 10*time.Second, "up verdict", func() bool {
		r := healthReport(t, srv, key)
		return r != nil && r.Up
	})
	t.Logf("up verdict in etcd %s after start", time.Since(start).Round(time.Millisecond))
	if v := srv.Get(t, schema.ProberKey("/glb/", testID)); !strings.Contains(v, `"country":"NL"`) {
		t.Errorf("registration = %q; want the prober's info", v)
	}

	b.failing.Store(true)
	start = time.Now()
	waitFor(t, 10*time.Second, "down verdict", func() bool {
		r := healthReport(t, srv, key)
		return r != nil && !r.Up
	})
	t.Logf("down verdict in etcd %s after the backend failed (fall 2, interval 1s)", time.Since(start).Round(time.Millisecond))
	if r := healthReport(t, srv, key); !strings.Contains(r.Error, "503") {
		t.Errorf("down verdict error = %q; want it to name the status 503", r.Error)
	}

	metrics := httpGet(t, "http://"+a.httpLn.Addr().String()+"/metrics")
	for _, want := range []string{"glb_prober_lease_up 1", `glb_prober_etcd_writes_total{op="put"}`, "go_goroutines", "glb_store_revision", `glb_build_info{goversion="go`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if got := httpGet(t, "http://"+a.httpLn.Addr().String()+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
}

// TestProbeStopRemovesResults checks that a clean stop revokes the lease:
// the registration and the verdicts go at once, not a TTL later.
func TestProbeStopRemovesResults(t *testing.T) {
	srv := etcdtest.Start(t)
	b := startBackend(t)
	srv.Put(t, "/glb/regions/eu-west", fmt.Sprintf(`{"lat": 51.51, "lon": -0.13, "addrs": ["192.0.2.10"],
		"check": {"type": "http", "interval": "1s", "rise": 1, "connect": %q}}`, strings.TrimPrefix(b.URL, "http://")))
	key := schema.HealthKey("/glb/", "eu-west", "192.0.2.10", testID)

	// A child test owns the prober, so that its cleanup (the stop) runs
	// before the checks below.
	t.Run("run", func(t *testing.T) {
		startProbe(t, srv)
		waitFor(t, 10*time.Second, "verdict", func() bool { return healthReport(t, srv, key) != nil })
	})
	if v := srv.Get(t, key); v != "" {
		t.Errorf("verdict still in etcd after a clean stop: %s", v)
	}
	if v := srv.Get(t, schema.ProberKey("/glb/", testID)); v != "" {
		t.Errorf("registration still in etcd after a clean stop: %s", v)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
