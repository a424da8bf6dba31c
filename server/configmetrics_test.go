package server

import (
	"maps"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestConfigMetrics applies a sequence of configurations and checks that
// glb_region_weight has exactly one series per configured region with its
// weight, and that the counters alerts use (glb_dns_fail_open_total,
// glb_dns_all_drained_total) exist at zero for every name before any query,
// per name or per zone, and go with the name.
func TestConfigMetrics(t *testing.T) {
	newRegion := map[string]any{"lat": 1, "lon": 2, "addrs": []string{"192.0.2.99"}}
	for _, perZone := range []bool{false, true} {
		reg := prometheus.NewRegistry()
		h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), ZoneMetrics: perZone})
		names := func(n ...string) map[string]float64 {
			out := map[string]float64{}
			for _, l := range n {
				if perZone {
					l = allNames
				}
				out["gslb.example.test/"+l] = 0
			}
			return out
		}
		dev := map[string]float64{"us-east": 100, "us-west": 100, "eu-west": 100, "eu-central": 100,
			"ap-northeast": 100, "ap-southeast": 100, "sa-east": 100}
		with := func(edits map[string]float64) map[string]float64 {
			out := maps.Clone(dev)
			maps.Copy(out, edits)
			return out
		}
		for _, step := range []struct {
			name        string
			edits       map[string]any
			wantWeights map[string]float64
			wantNames   map[string]float64
		}{
			{"dev configuration", nil, dev, names("www", "api")},
			{"eu-west drained", map[string]any{"regions/eu-west/weight": "0"}, with(map[string]float64{"eu-west": 0}), names("www", "api")},
			{"a new region with a weight", map[string]any{"regions/test-new": newRegion, "regions/test-new/weight": "5"},
				with(map[string]float64{"test-new": 5}), names("www", "api")},
			{"the new region deleted again", nil, dev, names("www", "api")},
			// The weight put moves the revision on: devState builds each
			// state afresh, and a delete alone would repeat the last one's.
			{"api deleted", map[string]any{"zones/gslb.example.test/names/api": nil, "regions/us-east/weight": "100"}, dev, names("www")},
		} {
			applyNow(h, devState(t, step.edits))
			if got := gaugeValues(t, reg, "glb_region_weight", "region"); !maps.Equal(got, step.wantWeights) {
				t.Errorf("perZone %v, %s: glb_region_weight %v, want %v", perZone, step.name, got, step.wantWeights)
			}
			for _, metric := range []string{"glb_dns_fail_open_total", "glb_dns_all_drained_total"} {
				if got := gaugeValues(t, reg, metric, "zone", "name"); !maps.Equal(got, step.wantNames) {
					t.Errorf("perZone %v, %s: %s %v, want %v", perZone, step.name, metric, got, step.wantNames)
				}
			}
		}
	}
}

// gaugeValues gathers metric from reg as a map from its label values
// (joined with "/") to its value, gauge or counter.
func gaugeValues(t *testing.T, reg *prometheus.Registry, metric string, labels ...string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
		for _, m := range mf.GetMetric() {
			vals := map[string]string{}
			for _, l := range m.GetLabel() {
				vals[l.GetName()] = l.GetValue()
			}
			var key []string
			for _, l := range labels {
				key = append(key, vals[l])
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out[strings.Join(key, "/")] = v
		}
	}
	return out
}
