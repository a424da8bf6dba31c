package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/internal/version"
	"github.com/glb-dns/glb/store"
)

// readyz fetches /readyz over HTTP and decodes it.
func readyz(t *testing.T, a *app) (int, readiness) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + a.httpLn.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("/readyz Content-Type %q, want application/json", ct)
	}
	var r readiness
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decode /readyz: %v", err)
	}
	return resp.StatusCode, r
}

// TestReadyzBeforeAndAfterFirstSnapshot starts glbd while etcd is down and
// there is no cache: /readyz is 503 with a reason and queries get
// SERVFAIL. Once etcd is up it is 200, with the revision and the GeoIP
// database's build time.
func TestReadyzBeforeAndAfterFirstSnapshot(t *testing.T) {
	srv := seededEtcd(t)
	srv.Stop(t)
	r := launch(t, Config{Etcd: srv.Endpoints(), ListenBeforeReady: true})
	t.Cleanup(func() { r.stop(t) })
	<-r.a.dns.Ready()

	code, rz := readyz(t, r.a)
	if code != http.StatusServiceUnavailable || rz.Ready || rz.Stale || len(rz.Reasons) == 0 || rz.Revision != 0 {
		t.Errorf("before the first snapshot: %d %+v; want 503, not ready, a reason, revision 0", code, rz)
	}
	if rz.GeoIP.Path != testDB || rz.GeoIP.BuildTime != "2026-01-01T00:00:00Z" {
		t.Errorf("geoip %+v, want %s built 2026-01-01T00:00:00Z", rz.GeoIP, testDB)
	}
	if m := ask(t, "udp", r.a.dnsAddr(), "www."+zone, dns.TypeA, ""); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("query before the first snapshot: %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}

	srv.Restart(t)
	waitFor(t, 15*time.Second, "ready once etcd is up", func() bool { code, _ := readyz(t, r.a); return code == http.StatusOK })
	code, rz = readyz(t, r.a)
	if !rz.Ready || rz.Stale || rz.Revision == 0 {
		t.Errorf("after the first snapshot: %d %+v; want 200, ready, not stale, a revision", code, rz)
	}
	if want := version.Get().Short(); rz.Version != want {
		t.Errorf("/readyz version %q, want %q", rz.Version, want)
	}
	waitFor(t, 5*time.Second, "etcd connected", func() bool { _, rz := readyz(t, r.a); return rz.Etcd.Connected && len(rz.Reasons) == 0 })
}

// TestServesFromCacheWhenEtcdIsDown starts glbd with a cache file, stops
// it and etcd, and starts a new glbd on the same cache file: it answers
// from the cache and /readyz says stale. When etcd is back, the new glbd
// follows a change made there and is no longer stale.
func TestServesFromCacheWhenEtcdIsDown(t *testing.T) {
	srv := seededEtcd(t)
	cache := filepath.Join(t.TempDir(), "cache.json")
	first := launch(t, Config{Etcd: srv.Endpoints(), CacheFile: cache})
	t.Cleanup(func() { first.stop(t) })
	waitReady(t, first.a)
	waitFor(t, 5*time.Second, "cache file written", func() bool { _, err := store.NewCache(cache).Load(); return err == nil })
	if err := first.stop(t); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)

	second := launch(t, Config{Etcd: srv.Endpoints(), CacheFile: cache})
	t.Cleanup(func() { second.stop(t) })
	took := waitFor(t, 10*time.Second, "serving from the cache", func() bool {
		select {
		case <-second.a.dns.Ready():
			return second.a.handler.Ready()
		default:
			return false
		}
	})
	t.Logf("serving from the cache %s after start", took)
	london := func() string { return addrs(ask(t, "udp", second.a.dnsAddr(), "www."+zone, dns.TypeA, londonECS)) }
	if got := london(); got != londonEU {
		t.Errorf("from the cache: London got %q, want %q", got, londonEU)
	}
	code, rz := readyz(t, second.a)
	if code != http.StatusOK || !rz.Ready || !rz.Stale || len(rz.Reasons) != 1 || !strings.Contains(rz.Reasons[0], cache) || rz.Etcd.Connected {
		t.Errorf("/readyz from the cache: %d %+v; want 200, ready, stale with the cache file as reason, not connected", code, rz)
	}
	if got := metricValue(t, second.a, "glb_store_stale"); got != 1 {
		t.Errorf("glb_store_stale = %v, want 1", got)
	}
	if got := metricValue(t, second.a, "glb_store_etcd_connected"); got != 0 {
		t.Errorf("glb_store_etcd_connected = %v, want 0", got)
	}

	srv.Restart(t)
	srv.Put(t, "/glb/regions/eu-west/weight", "0")
	took = waitFor(t, 15*time.Second, "the change in etcd", func() bool { return london() == "198.51.100.20" })
	t.Logf("followed etcd %s after its restart", took)
	if _, rz := readyz(t, second.a); rz.Stale {
		t.Errorf("/readyz after etcd is back: %+v, want not stale", rz)
	}
	if got := metricValue(t, second.a, "glb_store_stale"); got != 0 {
		t.Errorf("glb_store_stale = %v after etcd is back, want 0", got)
	}
	waitFor(t, 5*time.Second, "etcd connected", func() bool { return metricValue(t, second.a, "glb_store_etcd_connected") == 1 })
}
