package main

import (
	"context"
	"fmt"
	"log/slog"
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

// The tests in this file run glbd and probers against a three-member etcd
// cluster and kill members under them. Every part has its own client made
// by store.NewClient, with the production settings, of all three members.

const (
	euWestAddrs  = "198.51.100.10,198.51.100.11"
	euCentralIPs = "198.51.100.20"
	clusterTTL   = 2 * time.Second // probers' lease
)

// clusterProber is an in-process glbprobe: watcher, prober and publisher
// on a client of their own.
type clusterProber struct {
	id   string
	reg  *prometheus.Registry
	stop func()
}

// checks is the number of checks the prober has run.
func (p *clusterProber) checks(t *testing.T) float64 { return p.gauge(t, "glb_prober_checks_total") }

// gauge sums the samples of a counter or gauge of the prober's.
func (p *clusterProber) gauge(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := p.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return n
}

func startClusterProber(t *testing.T, c *etcdtest.Cluster, id string) *clusterProber {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	client, err := store.NewClient(store.Config{Endpoints: c.Endpoints()}, log)
	if err != nil {
		t.Fatal(err)
	}
	p := &clusterProber{id: id, reg: prometheus.NewRegistry()}
	pub := store.NewPublisher(client, store.PublisherConfig{Prefix: "/glb/", ProberID: id,
		Info: schema.ProberInfo{Lat: 50.1, Lon: 8.7}, LeaseTTL: clusterTTL}, log, store.NewPublisherMetrics(p.reg))
	pr := health.NewProber(health.ProberConfig{ID: id, Publisher: pub, Logger: log, Metrics: health.NewMetrics(p.reg),
		Checker: health.NewChecker(health.CheckerConfig{}), Refresh: time.Second})
	w := store.NewWatcher(client, "/glb/", log, store.NewMetrics(p.reg), func(st *schema.State) {
		pr.SetTargets(health.TargetsFromState(st))
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{w.Run, pr.Run, pub.Run} {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				t.Errorf("prober %s: %v", id, err)
			}
		})
	}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			client.Close()
		})
	}
	t.Cleanup(p.stop)
	return p
}

// clusterSetup seeds two checked regions, London's nearest (eu-west) and
// the next (eu-central), with a geo name www over both; starts glbd and
// two probers; and waits until both probers report both regions.
func clusterSetup(t *testing.T) (*etcdtest.Cluster, *app, map[string]*backend, []*clusterProber) {
	t.Helper()
	c := etcdtest.StartCluster(t, 3)
	backends := map[string]*backend{"eu-west": newBackend(t, 0), "eu-central": newBackend(t, 0)}
	for id, doc := range map[string]string{
		"eu-west":    `"lat": 51.51, "lon": -0.13, "addrs": ["198.51.100.10", "198.51.100.11"]`,
		"eu-central": `"lat": 50.11, "lon": 8.68, "addrs": ["198.51.100.20"]`,
	} {
		check := fmt.Sprintf(`"check": {"type": "http", "path": "/", "connect": %q, "interval": "1s", "timeout": "500ms", "rise": 1, "fall": 1}`,
			strings.TrimPrefix(backends[id].URL, "http://"))
		c.Put(t, "/glb/regions/"+id, "{"+doc+", "+check+"}")
	}
	c.Put(t, "/glb/zones/gslb.example.test", `{"ns": [{"name": "ns1.example.net"}]}`)
	c.Put(t, "/glb/zones/gslb.example.test/names/www", `{"regions": ["eu-west", "eu-central"]}`)
	a := startApp(t, Config{Etcd: c.Endpoints()})
	probers := []*clusterProber{startClusterProber(t, c, "p1"), startClusterProber(t, c, "p2")}
	waitFor(t, 10*time.Second, "both probers' reports", func() bool {
		for _, p := range probers {
			for _, key := range []string{healthKey("eu-west", "198.51.100.10", p.id), healthKey("eu-central", "198.51.100.20", p.id)} {
				if !strings.Contains(c.Get(t, key), `"up":true`) {
					return false
				}
			}
		}
		return true
	})
	waitFor(t, 5*time.Second, "glbd sees both probers", func() bool { return metricValue(t, a, "glb_health_probers") == 2 })
	return c, a, backends, probers
}

func healthKey(region, endpoint, prober string) string {
	return schema.HealthKey("/glb/", region, endpoint, prober)
}

// london asks glbd for www as a London client sees it, over UDP.
func london(t *testing.T, a *app) string {
	t.Helper()
	return addrs(ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, londonECS))
}

// TestClusterMemberKilled kills the leader: glbd follows a weight change
// made afterwards, the probers' reports keep being refreshed, and a
// health change they see shows in glbd's answers.
func TestClusterMemberKilled(t *testing.T) {
	c, a, backends, probers := clusterSetup(t)
	if got := london(t, a); got != euWestAddrs {
		t.Fatalf("London before: %q, want eu-west", got)
	}
	key := healthKey("eu-central", "198.51.100.20", probers[0].id)
	before := c.Get(t, key)

	killed := c.Leader(t)
	c.Kill(t, killed)
	start := time.Now()
	c.Put(t, "/glb/regions/eu-west/weight", "0")
	took := waitFor(t, 5*time.Second, "eu-west drained with the leader killed", func() bool { return london(t, a) == euCentralIPs })
	t.Logf("member %d (the leader) killed; drain followed %s after the put (%s after the kill)", killed, took.Round(time.Millisecond),
		time.Since(start).Round(time.Millisecond))
	waitFor(t, 5*time.Second, "prober's report refreshed", func() bool { return c.Get(t, key) != before })
	c.Put(t, "/glb/regions/eu-west/weight", "100")
	waitFor(t, 5*time.Second, "eu-west back", func() bool { return london(t, a) == euWestAddrs })

	// Both probers see eu-west fail: it leaves London's answer.
	backends["eu-west"].fail("*")
	took = waitFor(t, 5*time.Second, "eu-west out after its backend failed", func() bool { return london(t, a) == euCentralIPs })
	t.Logf("health change followed %s after the backend failed", took.Round(time.Millisecond))
	// One prober's down report is enough against a quorum of more than
	// half of two; the other's must follow.
	for _, p := range probers {
		waitFor(t, 5*time.Second, "prober "+p.id+"'s eu-west report down", func() bool {
			return strings.Contains(c.Get(t, healthKey("eu-west", "198.51.100.10", p.id)), `"up":false`)
		})
	}
}

// TestClusterAllMembersKilled kills every member for longer than the
// probers' lease: glbd answers from its last snapshot throughout (a query
// every 50 ms, none may fail or change), the probers keep checking, and
// when etcd returns they get new leases, their keys are back, and glbd
// follows a health change made after the return.
func TestClusterAllMembersKilled(t *testing.T) {
	c, a, backends, probers := clusterSetup(t)
	oldLease := map[string]int64{}
	for _, p := range probers {
		oldLease[p.id] = c.Lease(t, schema.ProberKey("/glb/", p.id))
		if oldLease[p.id] == 0 {
			t.Fatalf("prober %s's registration has no lease", p.id)
		}
	}
	checks := make([]float64, len(probers))
	for i, p := range probers {
		checks[i] = p.checks(t)
	}

	c.KillAll(t)
	// At least twice the lease TTL, and until both probers' clients have
	// given their leases up (a loaded machine may take longer to notice).
	killed := time.Now()
	outageOver := func() bool {
		if time.Since(killed) < 2*clusterTTL {
			return false
		}
		for _, p := range probers {
			if p.gauge(t, "glb_prober_lease_up") != 0 {
				return time.Since(killed) > 15*time.Second
			}
		}
		return true
	}
	queries := 0
	for !outageOver() {
		m := ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, londonECS)
		if got := addrs(m); m.Rcode != dns.RcodeSuccess || got != euWestAddrs {
			t.Fatalf("query %d during the outage: rcode %s answer %q, want NOERROR %s", queries, dns.RcodeToString[m.Rcode], got, euWestAddrs)
		}
		queries++
		time.Sleep(50 * time.Millisecond)
	}
	outage := time.Since(killed)
	t.Logf("%d queries during the %s outage, all answered from the last snapshot", queries, outage.Round(time.Millisecond))
	for _, p := range probers {
		if got := p.gauge(t, "glb_prober_lease_up"); got != 0 {
			t.Fatalf("prober %s still holds its lease %s into the outage", p.id, outage)
		}
	}
	if got := metricValue(t, a, "glb_store_etcd_connected"); got != 0 {
		t.Errorf("glb_store_etcd_connected = %v during the outage, want 0", got)
	}
	for i, p := range probers {
		if got := p.checks(t); got <= checks[i] {
			t.Errorf("prober %s ran no checks during the outage (%v before, %v after)", p.id, checks[i], got)
		}
	}

	c.RestartAll(t)
	back := time.Now()
	// The probers' own view first, which needs no client of the test's.
	for _, p := range probers {
		waitFor(t, 15*time.Second, "prober "+p.id+" holds a lease again", func() bool { return p.gauge(t, "glb_prober_lease_up") == 1 })
	}
	t.Logf("probers hold new leases %s after etcd returned", time.Since(back).Round(time.Millisecond))
	for _, p := range probers {
		key := schema.ProberKey("/glb/", p.id)
		waitFor(t, 15*time.Second, "prober "+p.id+" registered under a new lease", func() bool {
			l := c.Lease(t, key)
			return l != 0 && l != oldLease[p.id]
		})
		for _, k := range []string{healthKey("eu-west", "198.51.100.10", p.id), healthKey("eu-central", "198.51.100.20", p.id)} {
			if c.Lease(t, k) == oldLease[p.id] {
				t.Errorf("%s still under the old lease", k)
			}
		}
	}
	t.Logf("probers' keys under new leases %s after etcd returned", time.Since(back).Round(time.Millisecond))
	waitFor(t, 10*time.Second, "glbd connected again", func() bool { return metricValue(t, a, "glb_store_etcd_connected") == 1 })

	backends["eu-west"].fail("*")
	took := waitFor(t, 10*time.Second, "eu-west out after the return", func() bool { return london(t, a) == euCentralIPs })
	t.Logf("health change after the return followed %s after the backend failed", took.Round(time.Millisecond))
}
