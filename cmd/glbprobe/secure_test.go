package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

// secureProbe runs glbprobe against etcd with TLS and auth as user, with
// the flags an operator gives, checking one region served by a backend.
func secureProbe(t *testing.T, opts etcdtest.SecureOptions, perms ...etcdtest.Perm) (*etcdtest.Server, *app, *backend) {
	t.Helper()
	srv := etcdtest.StartSecure(t, opts)
	b := startBackend(t)
	srv.Put(t, "/glb/regions/eu-west", fmt.Sprintf(`{"lat": 51.51, "lon": -0.13, "addrs": ["192.0.2.10"],
		"check": {"type": "http", "interval": "1s", "timeout": "1s", "rise": 1, "fall": 1, "connect": %q}}`,
		strings.TrimPrefix(b.URL, "http://")))
	user := "glb-prober-" + testID
	srv.AddUser(t, user, perms...)
	args := append(srv.Creds(t, user).Args(t), "-id", testID, "-location", "52.37,4.9", "-http", "127.0.0.1:0", "-lease-ttl", "2s")
	cfg, err := parseFlags(args, func(string) string { return "" }, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parse flags %q: %v", args, err)
	}
	return srv, runProbe(t, cfg), b
}

// metricValue sums the samples of glbprobe's /metrics whose series starts
// with series (a name, or a name and its first labels).
func metricValue(t *testing.T, a *app, series string) float64 {
	t.Helper()
	sum := 0.0
	for _, m := range regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(series)+`\S* (\S+)$`).FindAllStringSubmatch(
		httpGet(t, "http://"+a.httpLn.Addr().String()+"/metrics"), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
	}
	return sum
}

// TestSecureProbePublishes: with a prober's credential, over TLS with
// client-certificate or password auth, glbprobe publishes its verdicts.
func TestSecureProbePublishes(t *testing.T) {
	for _, mode := range etcdtest.AuthModes {
		t.Run(mode.Name, func(t *testing.T) {
			srv, _, b := secureProbe(t, mode.Opts, etcdtest.Read("/glb/"),
				etcdtest.ReadWrite("/glb/health/"), etcdtest.ReadWrite(schema.ProberKey("/glb/", testID)))
			key := schema.HealthKey("/glb/", "eu-west", "192.0.2.10", testID)
			waitFor(t, 10*time.Second, "up verdict", func() bool { r := healthReport(t, srv, key); return r != nil && r.Up })
			b.failing.Store(true)
			waitFor(t, 10*time.Second, "down verdict", func() bool { r := healthReport(t, srv, key); return r != nil && !r.Up })
		})
	}
}

// TestSecureProbeDenied: a prober whose role may not write its keys says
// so in glb_etcd_denied_total, keeps checking and keeps retrying.
func TestSecureProbeDenied(t *testing.T) {
	_, a, _ := secureProbe(t, etcdtest.SecureOptions{}, etcdtest.Read("/glb/"))
	waitFor(t, 10*time.Second, "two denied writes", func() bool {
		return metricValue(t, a, `glb_etcd_denied_total{operation="write"`) >= 2
	})
	checks := metricValue(t, a, "glb_prober_checks_total")
	waitFor(t, 10*time.Second, "checks going on", func() bool { return metricValue(t, a, "glb_prober_checks_total") > checks })
	if v := a.prober.Verdicts(); len(v) == 0 {
		t.Errorf("no verdicts kept while etcd refuses the writes")
	}
}
