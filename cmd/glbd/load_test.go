package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/store/etcdtest"
)

// loadBackend is a region's load balancer that reports a settable load in
// the X-Load header of its health responses.
type loadBackend struct {
	*httptest.Server
	load atomic.Value // string
}

func newLoadBackend(t *testing.T) *loadBackend {
	b := &loadBackend{}
	b.load.Store("0")
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Load", b.load.Load().(string))
	}))
	t.Cleanup(b.Close)
	return b
}

// TestLoadSteering runs glbd on a real etcd with a real prober and asks
// over real DNS for London (ECS 81.2.69.0/24), nearest eu-west, whose
// watermarks are 0.8..0.95: a load written to etcd moves London within a
// second; a load the prober reads from eu-west's health response moves it
// within one check interval (1s); the etcd key wins over the prober's
// figure; an invalid key is rejected with the last good load kept.
func TestLoadSteering(t *testing.T) {
	srv := etcdtest.Start(t)
	backends := map[string]*loadBackend{"eu-west": newLoadBackend(t), "eu-central": newLoadBackend(t)}
	docs := map[string]string{
		"eu-west":    `"lat": 51.51, "lon": -0.13, "addrs": ["198.51.100.10"]`,
		"eu-central": `"lat": 50.11, "lon": 8.68, "addrs": ["198.51.100.20"]`,
	}
	for id, doc := range docs {
		srv.Put(t, "/glb/regions/"+id, fmt.Sprintf(`{%s, "shed": {"low": 0.8, "high": 0.95}, "check": {"type": "http", "path": "/",
			"connect": %q, "interval": "1s", "timeout": "500ms", "rise": 1, "fall": 1, "load": {"header": "X-Load"}}}`,
			doc, strings.TrimPrefix(backends[id].URL, "http://")))
	}
	srv.Put(t, "/glb/zones/gslb.example.test", `{"ns": [{"name": "ns1.example.net"}]}`)
	srv.Put(t, "/glb/zones/gslb.example.test/names/www", `{"regions": ["eu-west", "eu-central"]}`)
	a := startApp(t, Config{Etcd: srv.Endpoints()})
	startProber(t, srv, "p1", 50.1, 8.7, "127.0.0.2")
	london := func() (string, int) {
		m := ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")
		return addrs(m), scope(m)
	}
	is := func(want string) func() bool {
		return func() bool { got, _ := london(); return got == want }
	}
	waitFor(t, 5*time.Second, "the prober's first load report", func() bool {
		return strings.Contains(srv.Get(t, "/glb/health/p1/eu-west/198.51.100.10"), `"load":0`)
	})
	if got, sc := london(); got != "198.51.100.10" || sc != 24 {
		t.Fatalf("idle: London got %q scope /%d, want eu-west", got, sc)
	}

	// Through etcd: at high, eu-west keeps none of its clients.
	srv.Put(t, "/glb/regions/eu-west/load", "0.95")
	took := waitFor(t, 10*time.Second, "London shed by the etcd load", is("198.51.100.20"))
	t.Logf("a load written to etcd reached answers in %s", took)
	if _, sc := london(); sc != 24 {
		t.Errorf("scope /%d while shedding, want /24", sc)
	}
	if v := metricValue(t, a, "glb_region_shed_ratio"); v != 1 {
		t.Errorf("glb_region_shed_ratio summed %v, want 1 (eu-west alone)", v)
	}
	// An invalid value is rejected; the last good one stays in force.
	before := metricValue(t, a, "glb_store_rejections_total")
	srv.Put(t, "/glb/regions/eu-west/load", "very high")
	waitFor(t, 10*time.Second, "the bad load rejected", func() bool { return metricValue(t, a, "glb_store_rejections_total") > before })
	if got, _ := london(); got != "198.51.100.20" {
		t.Errorf("after an invalid load London got %q, want eu-central still", got)
	}
	// Deleted: the prober's figure (0) is in force, and the hysteresis
	// lets a step of more than 0.1 back at once.
	if _, err := srv.Client(t).Delete(t.Context(), "/glb/regions/eu-west/load"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "London back on eu-west", is("198.51.100.10"))

	// Through the prober: eu-west's backend says it is past high.
	backends["eu-west"].load.Store("1.2")
	took = waitFor(t, 3*time.Second, "London shed by the prober-reported load", is("198.51.100.20"))
	t.Logf("a prober-reported load reached answers in %s (check interval 1s)", took)
	if took > 2*time.Second { // one interval, and slack for a busy machine
		t.Errorf("prober-reported load took %s, want about one check interval", took)
	}
	// The etcd key wins over the prober's figure.
	srv.Put(t, "/glb/regions/eu-west/load", "0.1")
	waitFor(t, 10*time.Second, "the etcd key winning over the prober", is("198.51.100.10"))
}
