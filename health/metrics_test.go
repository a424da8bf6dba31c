package health

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	NewMetrics(reg)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestMetricsFromProber checks the series a running prober exports,
// including that a removed endpoint's gauge goes away.
func TestMetricsFromProber(t *testing.T) {
	a := tgt("eu", "192.0.2.1", 1*time.Second, 1, 1)
	b := tgt("us", "192.0.2.2", 2*time.Second, 1, 1)
	h := startProber(t, time.Hour, a, b)
	reg := h.reg
	h.feed(t, a, ok, fail)
	h.feed(t, b, ok)

	want := `
# HELP glb_prober_checks_total Health checks run, by region and result (ok or fail).
# TYPE glb_prober_checks_total counter
glb_prober_checks_total{region="eu",result="fail"} 1
glb_prober_checks_total{region="eu",result="ok"} 1
glb_prober_checks_total{region="us",result="fail"} 0
glb_prober_checks_total{region="us",result="ok"} 1
# HELP glb_prober_endpoint_up This prober's verdict on an endpoint after rise/fall hysteresis: 1 up, 0 down.
# TYPE glb_prober_endpoint_up gauge
glb_prober_endpoint_up{endpoint="192.0.2.1",region="eu"} 0
glb_prober_endpoint_up{endpoint="192.0.2.2",region="us"} 1
# HELP glb_prober_targets Endpoints this prober is configured to check.
# TYPE glb_prober_targets gauge
glb_prober_targets 2
`
	names := []string{"glb_prober_checks_total", "glb_prober_endpoint_up", "glb_prober_targets"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(h.m.duration, "glb_prober_check_duration_seconds"); n != 3 {
		t.Errorf("%d duration series, want one per check type", n)
	}

	h.p.SetTargets([]Target{b})
	want = `
# HELP glb_prober_endpoint_up This prober's verdict on an endpoint after rise/fall hysteresis: 1 up, 0 down.
# TYPE glb_prober_endpoint_up gauge
glb_prober_endpoint_up{endpoint="192.0.2.2",region="us"} 1
# HELP glb_prober_targets Endpoints this prober is configured to check.
# TYPE glb_prober_targets gauge
glb_prober_targets 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names[1:]...); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
