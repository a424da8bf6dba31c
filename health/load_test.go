package health

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

func TestReadLoad(t *testing.T) {
	hdr := http.Header{"X-Load": []string{" 0.62 "}, "X-Bad": []string{"busy"}}
	prom := "# HELP app_utilization x\n# TYPE app_utilization gauge\napp_utilization_total 9\napp_utilization{pool=\"a\"} 0.4\n"
	for _, tc := range []struct {
		name string
		src  schema.LoadSource
		body string
		want float64
		err  string
	}{
		{"header", schema.LoadSource{Header: "X-Load"}, "", 0.62, ""},
		{"header missing", schema.LoadSource{Header: "X-Other"}, "", 0, "missing"},
		{"header not a number", schema.LoadSource{Header: "X-Bad"}, "", 0, "not a number"},
		{"json number", schema.LoadSource{JSON: "load"}, `{"load": 0.9, "x": 1}`, 0.9, ""},
		{"json string", schema.LoadSource{JSON: "load"}, `{"load": "0.3"}`, 0.3, ""},
		{"json missing", schema.LoadSource{JSON: "load"}, `{"util": 0.3}`, 0, "missing"},
		{"json not an object", schema.LoadSource{JSON: "load"}, `ok`, 0, "not a JSON object"},
		{"json out of range", schema.LoadSource{JSON: "load"}, `{"load": 11}`, 0, "outside"},
		{"metric", schema.LoadSource{Metric: "app_utilization"}, prom, 0.4, ""},
		{"metric missing", schema.LoadSource{Metric: "cpu"}, prom, 0, "missing"},
	} {
		got, err := ReadLoad(&tc.src, hdr, []byte(tc.body))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestCheckReadsLoad runs a real http check against a backend that says
// its load in a header.
func TestCheckReadsLoad(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Load", r.URL.Query().Get("l"))
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, tc := range []struct {
		path string
		want float64
		ok   bool
	}{{"/?l=0.75", 0.75, true}, {"/?l=x", 0, false}} {
		c := schema.Check{Type: "http", Path: tc.path, Connect: net.JoinHostPort(host, port), Load: &schema.LoadSource{Header: "X-Load"}}.WithDefaults()
		res := NewChecker(CheckerConfig{}).Check(t.Context(), Target{Region: "r", Endpoint: netip.MustParseAddr(host), Check: c})
		if !res.OK {
			t.Fatalf("%s: check failed: %v", tc.path, res.Err)
		}
		if tc.ok && (res.Load == nil || *res.Load != tc.want) || !tc.ok && (res.Load != nil || res.LoadErr == nil) {
			t.Errorf("%s: load %v err %v, want %v (ok %v)", tc.path, res.Load, res.LoadErr, tc.want, tc.ok)
		}
	}
}

// TestLoads: the key wins over reports; the reports' median counts only
// fresh reports of registered probers.
func TestLoads(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f := func(v float64) *float64 { return &v }
	rep := func(v *float64, age time.Duration) *schema.HealthReport {
		return &schema.HealthReport{Up: true, Time: now.Add(-age), Load: v}
	}
	region := func(addrs ...string) *schema.RegionState {
		r := &schema.Region{}
		for _, a := range addrs {
			r.Addrs = append(r.Addrs, netip.MustParseAddr(a))
		}
		return &schema.RegionState{Region: r}
	}
	st := &schema.State{
		Regions: map[string]*schema.RegionState{"a": region("192.0.2.1", "192.0.2.2"), "b": region("192.0.2.3"), "c": region("192.0.2.4"), "d": region("192.0.2.5")},
		Probers: map[string]*schema.ProberInfo{"p1": {}, "p2": {}, "p3": {}},
		Loads:   map[string]float64{"b": 0.2},
		Health: map[string]map[string]map[string]*schema.HealthReport{
			"a": {"192.0.2.1": {"p1": rep(f(0.5), time.Second), "p2": rep(f(0.9), 0), "gone": rep(f(5), 0)},
				"192.0.2.2": {"p1": rep(f(0.6), 0), "p3": rep(f(9), time.Hour)}},
			"b": {"192.0.2.3": {"p1": rep(f(0.8), 0)}},
			"c": {"192.0.2.4": {"p1": rep(nil, 0)}},
			"d": {"192.0.2.5": {"p1": rep(f(0.7), time.Minute)}},
		},
	}
	got, stale := LoadsAndStale(st, now, 0)
	if !slices.Equal(stale, []string{"d"}) {
		t.Errorf("stale %v, want [d]", stale)
	}
	want := map[string]RegionLoad{"a": {0.6, "probers"}, "b": {0.2, "key"}}
	if len(got) != len(want) || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Errorf("loads %v, want %v", got, want)
	}
}
