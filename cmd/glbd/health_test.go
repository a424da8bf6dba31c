package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

// backend is an httptest server standing in for a region's load balancer.
// It can fail for chosen prober source addresses and answer after a delay.
type backend struct {
	*httptest.Server
	mu      sync.Mutex
	failFor map[string]bool // source IPs that get 503; "*" = everyone
	delay   time.Duration
}

func newBackend(t *testing.T, delay time.Duration) *backend {
	b := &backend{failFor: map[string]bool{}, delay: delay}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src, _, _ := net.SplitHostPort(r.RemoteAddr)
		b.mu.Lock()
		fail, d := b.failFor[src] || b.failFor["*"], b.delay
		b.mu.Unlock()
		time.Sleep(d)
		if fail {
			http.Error(w, "failing", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) fail(srcs ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range srcs {
		b.failFor[s] = true
	}
}

// startProber runs a real prober in-process: its own etcd client, lease,
// watcher and publisher, checking from source address src.
func startProber(t *testing.T, srv *etcdtest.Server, id string, lat, lon float64, src string) (stop func()) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	client := srv.Client(t)
	pub := store.NewPublisher(client, store.PublisherConfig{Prefix: "/glb/", ProberID: id,
		Info: schema.ProberInfo{Lat: lat, Lon: lon}, LeaseTTL: 2 * time.Second}, log, store.NewPublisherMetrics(reg))
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	p := health.NewProber(health.ProberConfig{ID: id, Publisher: pub, Logger: log, Metrics: health.NewMetrics(reg),
		Checker: health.NewChecker(health.CheckerConfig{Dialer: dialer}), Refresh: time.Second})
	w := store.NewWatcher(client, "/glb/", log, store.NewMetrics(reg), func(st *schema.State) {
		p.SetTargets(health.TargetsFromState(st))
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{w.Run, p.Run, pub.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// healthSeed writes a zone, regions checked against the given backends, a
// geo name www and a latency name fast over the same regions.
func healthSeed(t *testing.T, srv *etcdtest.Server, backends map[string]*backend) {
	t.Helper()
	regions := map[string]string{
		"eu-west":      `"lat": 51.51, "lon": -0.13, "addrs": ["198.51.100.10", "198.51.100.11"]`,
		"eu-central":   `"lat": 50.11, "lon": 8.68, "addrs": ["198.51.100.20"]`,
		"ap-northeast": `"lat": 35.68, "lon": 139.69, "addrs": ["203.0.113.10"]`,
		"ap-southeast": `"lat": 1.29, "lon": 103.85, "addrs": ["203.0.113.20"]`,
	}
	var ids []string
	for id, doc := range regions {
		ids = append(ids, `"`+id+`"`)
		check := fmt.Sprintf(`"check": {"type": "http", "path": "/", "connect": %q, "interval": "1s", "timeout": "500ms", "rise": 1, "fall": 1}`,
			strings.TrimPrefix(backends[id].URL, "http://"))
		srv.Put(t, "/glb/regions/"+id, "{"+doc+", "+check+"}")
	}
	srv.Put(t, "/glb/zones/gslb.example.test", `{"ns": [{"name": "ns1.example.net"}]}`)
	list := strings.Join(ids, ",")
	srv.Put(t, "/glb/zones/gslb.example.test/names/www", `{"regions": [`+list+`]}`)
	srv.Put(t, "/glb/zones/gslb.example.test/names/fast", `{"regions": [`+list+`], "policy": "latency"}`)
}

func healthSetup(t *testing.T, delays map[string]time.Duration) (*etcdtest.Server, *app, map[string]*backend) {
	srv := etcdtest.Start(t)
	backends := map[string]*backend{}
	for _, id := range []string{"eu-west", "eu-central", "ap-northeast", "ap-southeast"} {
		backends[id] = newBackend(t, delays[id])
	}
	healthSeed(t, srv, backends)
	return srv, startApp(t, Config{Etcd: srv.Endpoints()}), backends
}

// TestProberQuorum runs three real probers. One seeing eu-west down leaves
// it in answers; two seeing it down take it out; when those two stop, their
// results vanish with their leases and eu-west comes back.
func TestProberQuorum(t *testing.T) {
	srv, a, backends := healthSetup(t, nil)
	london := func() string { return addrs(ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")) }
	stop1 := startProber(t, srv, "p1", 50.1, 8.7, "127.0.0.2")
	stop2 := startProber(t, srv, "p2", 50.1, 8.7, "127.0.0.3")
	startProber(t, srv, "p3", 50.1, 8.7, "127.0.0.4")
	waitFor(t, 5*time.Second, "three probers registered", func() bool { return metricValue(t, a, "glb_health_probers") == 3 })

	backends["eu-west"].fail("127.0.0.2")
	waitFor(t, 5*time.Second, "p1's down report", func() bool {
		return strings.Contains(srv.Get(t, "/glb/health/p1/eu-west/198.51.100.10"), `"up":false`)
	})
	if got := london(); got != "198.51.100.10,198.51.100.11" {
		t.Fatalf("one of three down: London got %q, want eu-west", got)
	}
	backends["eu-west"].fail("127.0.0.3")
	took := waitFor(t, 5*time.Second, "two of three down", func() bool { return london() == "198.51.100.20" })
	t.Logf("region left %s after the second prober saw it down", took)

	stop1()
	stop2()
	if v := srv.Get(t, "/glb/health/p1/eu-west/198.51.100.10"); v != "" {
		t.Errorf("stopped prober's result still in etcd: %s", v)
	}
	waitFor(t, 5*time.Second, "eu-west back once the dissenters are gone", func() bool { return london() == "198.51.100.10,198.51.100.11" })
}

// TestAllDownFailsOpen makes every backend fail: answers keep coming and
// the fail-open metric counts them.
func TestAllDownFailsOpen(t *testing.T) {
	srv, a, backends := healthSetup(t, nil)
	startProber(t, srv, "p1", 50.1, 8.7, "127.0.0.2")
	for _, b := range backends {
		b.fail("*")
	}
	waitFor(t, 5*time.Second, "every region down", func() bool { return metricValue(t, a, "glb_health_region_up") == 0 })
	m := ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")
	if got := addrs(m); got != "198.51.100.10,198.51.100.11" {
		t.Errorf("all down: London got %q, want the geo answer from failing open", got)
	}
	if got := metricValue(t, a, "glb_dns_fail_open_total"); got < 1 {
		t.Errorf("glb_dns_fail_open_total = %v, want >= 1", got)
	}
}

// TestLatencyFromProbers places probers in London and Tokyo and gives the
// nearest regions slow backends: clients near each prober get the region
// with the lowest measured RTT, not the nearest one; the geo name is
// unaffected.
func TestLatencyFromProbers(t *testing.T) {
	srv, a, _ := healthSetup(t, map[string]time.Duration{
		"eu-west": 60 * time.Millisecond, "ap-northeast": 80 * time.Millisecond,
	})
	startProber(t, srv, "lon", 51.5, -0.1, "127.0.0.5")
	startProber(t, srv, "tyo", 35.7, 139.7, "127.0.0.6")
	cases := []struct{ name, ecs, want string }{
		{"fast", "81.2.69.0/24", "198.51.100.20"},              // London: eu-central (Frankfurt) is faster than eu-west
		{"fast", "175.16.199.0/24", "203.0.113.20"},            // Changchun: ap-southeast is faster than ap-northeast
		{"www", "81.2.69.0/24", "198.51.100.10,198.51.100.11"}, // geo: still the nearest
		{"www", "175.16.199.0/24", "203.0.113.10"},
	}
	for _, tc := range cases {
		waitFor(t, 8*time.Second, tc.name+" from "+tc.ecs, func() bool {
			return addrs(ask(t, "udp", a.dnsAddr(), tc.name+"."+zone, dns.TypeA, tc.ecs)) == tc.want
		})
	}
}

// TestInvalidCheckRejected writes a region whose check is invalid: the key
// is rejected and counted, the region keeps its last good check, and the
// prober keeps checking (its reports keep being refreshed).
func TestInvalidCheckRejected(t *testing.T) {
	srv, a, backends := healthSetup(t, nil)
	startProber(t, srv, "p1", 50.1, 8.7, "127.0.0.2")
	key := "/glb/health/p1/eu-central/198.51.100.20"
	waitFor(t, 5*time.Second, "first report", func() bool { return srv.Get(t, key) != "" })
	before := metricValue(t, a, "glb_store_rejections_total")
	// One put at a time: puts that reach the watcher in one response make
	// one state, and only the last of them is rejected (and counted).
	for i, bad := range []string{
		`{"type": "icmp"}`, `{"type": "http", "interval": "-1s"}`, `{"type": "tcp", "port": 70000}`,
	} {
		srv.Put(t, "/glb/regions/eu-central", `{"lat": 50.11, "lon": 8.68, "addrs": ["198.51.100.20"], "check": `+bad+`}`)
		waitFor(t, 5*time.Second, "rejection of "+bad, func() bool {
			return metricValue(t, a, "glb_store_rejections_total") == before+float64(i+1)
		})
	}
	first := srv.Get(t, key)
	waitFor(t, 5*time.Second, "report refreshed after the bad puts", func() bool { return srv.Get(t, key) != first })
	backends["eu-central"].fail("*")
	waitFor(t, 5*time.Second, "prober still checks with the last good spec", func() bool {
		return strings.Contains(srv.Get(t, key), `"up":false`)
	})
}
