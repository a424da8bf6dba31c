package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

// TestClusterProbeSurvivesMemberKills runs glbprobe against a
// three-member cluster: with the leader killed its verdict keeps being
// refreshed; with every member killed for longer than its lease it keeps
// checking, and when they return it registers under a new lease and its
// verdict is back.
func TestClusterProbeSurvivesMemberKills(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	b := startBackend(t)
	c.Put(t, "/glb/regions/eu-west", fmt.Sprintf(`{"lat": 51.51, "lon": -0.13, "addrs": ["192.0.2.10"],
		"check": {"type": "http", "path": "/healthz", "interval": "1s", "timeout": "500ms", "rise": 1, "fall": 1,
		"connect": %q}}`, strings.TrimPrefix(b.URL, "http://")))
	key := schema.HealthKey("/glb/", "eu-west", "192.0.2.10", testID)
	reg := schema.ProberKey("/glb/", testID)

	a := runProbe(t, Config{ID: testID, Lat: 52.37, Lon: 4.9, Etcd: c.Endpoints(), Prefix: "/glb/",
		HTTPAddr: "127.0.0.1:0", LeaseTTL: 2 * time.Second, Refresh: time.Second})
	metrics := "http://" + a.httpLn.Addr().String() + "/metrics"
	waitFor(t, 10*time.Second, "up verdict", func() bool { return strings.Contains(c.Get(t, key), `"up":true`) })

	c.Kill(t, c.Leader(t))
	before := c.Get(t, key)
	waitFor(t, 5*time.Second, "verdict refreshed with the leader killed", func() bool { return c.Get(t, key) != before })
	c.RestartAll(t)

	lease := c.Lease(t, reg)
	checks := metricSum(t, httpGet(t, metrics), "glb_prober_checks_total")
	c.KillAll(t)
	// The client gives the lease up when no keepalive answer came for its
	// TTL (2s); on a loaded machine that may take a little longer.
	waitFor(t, 10*time.Second, "lease given up with every member down", func() bool {
		return metricSum(t, httpGet(t, metrics), "glb_prober_lease_up") == 0
	})
	checks2 := metricSum(t, httpGet(t, metrics), "glb_prober_checks_total")
	waitFor(t, 5*time.Second, "checks while etcd is down", func() bool {
		return metricSum(t, httpGet(t, metrics), "glb_prober_checks_total") > checks2
	})
	if checks2 <= checks {
		t.Errorf("glb_prober_checks_total %v when the lease was lost, %v before the outage: no checks meanwhile", checks2, checks)
	}
	c.RestartAll(t)
	back := time.Now()
	waitFor(t, 15*time.Second, "registration under a new lease", func() bool {
		l := c.Lease(t, reg)
		return l != 0 && l != lease
	})
	waitFor(t, 5*time.Second, "verdict back", func() bool { return c.Lease(t, key) == c.Lease(t, reg) })
	t.Logf("registration and verdict under a new lease %s after etcd returned", time.Since(back).Round(time.Millisecond))
	// Two at least: the first lease and the one after the outage (a loaded
	// machine may also lose one to the leader's kill).
	if got := metricSum(t, httpGet(t, metrics), "glb_prober_lease_grants_total"); got < 2 {
		t.Errorf("glb_prober_lease_grants_total = %v, want at least 2", got)
	}
}

// metricSum adds up the samples of a metric in Prometheus text.
func metricSum(t *testing.T, text, name string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + name + `(\{[^}]*\})? (\S+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sum += v
	}
	return sum
}
