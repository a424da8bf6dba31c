package store

import (
	"strings"
	"testing"

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
	// Every kind is there from the start, at zero.
	want := `
# HELP glb_store_rejections_total Keys newly rejected (a new key, or a new reason), by kind of key.
# TYPE glb_store_rejections_total counter
glb_store_rejections_total{kind="health"} 0
glb_store_rejections_total{kind="load"} 0
glb_store_rejections_total{kind="name"} 0
glb_store_rejections_total{kind="prober"} 0
glb_store_rejections_total{kind="record"} 0
glb_store_rejections_total{kind="region"} 0
glb_store_rejections_total{kind="schedule"} 0
glb_store_rejections_total{kind="unknown"} 0
glb_store_rejections_total{kind="weight"} 0
glb_store_rejections_total{kind="zone"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "glb_store_rejections_total"); err != nil {
		t.Error(err)
	}
}
