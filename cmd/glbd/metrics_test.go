package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// documentedMetrics are the names README.md promises on /metrics. Those
// with labels that only appear once counted (fail-open, say) are checked
// by registration instead.
var documentedMetrics = []string{
	"glb_dns_queries_total",
	"glb_dns_answers_total",
	"glb_dns_ecs_queries_total",
	"glb_dns_fail_open_total",
	"glb_dns_all_drained_total",
	"glb_dns_panics_total",
	"glb_panics_total",
	"glb_dns_rrl_limited_total",
	"glb_dns_rrl_exempt_total",
	"glb_dns_cookie_queries_total",
	"glb_dns_tcp_connections",
	"glb_dns_tcp_closed_total",
	"glb_dns_request_duration_seconds",
	"glb_health_region_up",
	"glb_health_endpoint_up",
	"glb_health_probers",
	"glb_server_snapshot_revision",
	"glb_server_snapshot_timestamp_seconds",
	"glb_server_snapshot_builds_total",
	"glb_store_revision",
	"glb_store_rejections_total",
	"glb_store_rejected_keys",
	"glb_store_watch_restarts_total",
	"glb_store_etcd_connected",
	"glb_store_stale",
	"glb_store_cache_writes_total",
	"glb_geoip_build_timestamp_seconds",
	"glb_geoip_reloads_total",
	"glb_geoip_last_reload_timestamp_seconds",
	"glb_geoip_last_reload_successful",
	"glb_geoip_verified",
	"glb_build_info",
}

// scrape fetches /metrics over HTTP.
func scrape(t *testing.T, a *app) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + a.httpLn.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s %v", resp.Status, err)
	}
	return string(body)
}

// registered reports whether reg has a metric called name, whether or not
// it has samples yet: registering another collector of that name fails
// exactly when one is there.
func registered(reg *prometheus.Registry, name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe"})
	if err := reg.Register(probe); err != nil {
		return true
	}
	reg.Unregister(probe)
	return false
}

// TestMetricsExposed answers a few queries (UDP and TCP, with and without
// ECS), scrapes /metrics over HTTP and checks every documented name is
// there, the query counters moved, and the registry passes the linter.
func TestMetricsExposed(t *testing.T) {
	_, a := startSeeded(t)
	for _, network := range []string{"udp", "tcp"} {
		ask(t, network, a.dnsAddr(), "www."+zone, dns.TypeA, londonECS)
		ask(t, network, a.dnsAddr(), "www."+zone, dns.TypeAAAA, "")
		ask(t, network, a.dnsAddr(), "nope."+zone, dns.TypeA, "")
	}
	body := scrape(t, a)
	exposed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			exposed[f[2]] = true
		}
	}
	for _, name := range documentedMetrics {
		if !exposed[name] && !registered(a.reg, name) {
			t.Errorf("%s is neither on /metrics nor registered", name)
		}
	}
	for _, name := range []string{"glb_dns_queries_total", "glb_dns_answers_total", "glb_dns_ecs_queries_total",
		"glb_dns_request_duration_seconds", "glb_store_etcd_connected", "glb_geoip_build_timestamp_seconds", "glb_build_info"} {
		if !exposed[name] {
			t.Errorf("%s not on /metrics after queries", name)
		}
	}
	if got := metricValue(t, a, "glb_dns_queries_total"); got < 6 {
		t.Errorf("glb_dns_queries_total = %v after 6 queries", got)
	}
	if !strings.Contains(body, `glb_store_etcd_connected 1`) {
		t.Error("glb_store_etcd_connected is not 1 with etcd up")
	}
	problems, err := testutil.GatherAndLint(a.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

// TestPromtoolCheckMetrics runs Prometheus' own linter on a scrape of a
// dev-mode glbd. It needs promtool (Debian's prometheus package) and runs
// only when asked: make promtool.
func TestPromtoolCheckMetrics(t *testing.T) {
	if os.Getenv("GLB_PROMTOOL") == "" {
		t.Skip("set GLB_PROMTOOL=1 (make promtool) to check /metrics with promtool")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found; make promtool installs Debian's prometheus package")
	}
	seed, _ := freePortSeed(t)
	a := startApp(t, Config{Dev: true, DevEtcd: "127.0.0.1:0", DevSeed: seed, DevProber: "50.11,8.68"})
	for _, ecs := range []string{londonECS, "216.160.83.0/24", ""} {
		ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, ecs)
	}
	waitFor(t, 5*time.Second, "the dev prober registered", func() bool { return metricValue(t, a, "glb_health_probers") == 1 })
	body := scrape(t, a)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	t.Logf("promtool check metrics on %d lines of /metrics:\n%s", strings.Count(body, "\n"), out)
	if err != nil {
		t.Errorf("promtool check metrics: %v", err)
	}
}
