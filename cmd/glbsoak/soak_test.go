package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSamples(t *testing.T) {
	const text = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 31
go_memstats_heap_inuse_bytes 6.725632e+06
glb_geoip_reloads_total{result="error"} 1
glb_geoip_reloads_total{result="ok"} 3
glb_health_probers 2
`
	for _, c := range []struct {
		name   string
		series string
		want   float64
		found  bool
	}{
		{"gauge", "go_goroutines", 31, true},
		{"float notation", "go_memstats_heap_inuse_bytes", 6725632, true},
		{"labelled series", `glb_geoip_reloads_total{result="ok"}`, 3, true},
		{"other label value", `glb_geoip_reloads_total{result="error"}`, 1, true},
		{"absent series", "glb_nothing", 0, false},
		{"name alone does not match a labelled series", "glb_geoip_reloads_total", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := parseSamples(strings.NewReader(text), []string{c.series})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := m[c.series]
			if ok != c.found || got != c.want {
				t.Errorf("%s = %v (found %v), want %v (found %v)", c.series, got, ok, c.want, c.found)
			}
		})
	}
}

func TestConfigValidates(t *testing.T) {
	backends := map[string]string{}
	for _, r := range soakRegions {
		backends[r.id] = "127.0.0.1:1"
	}
	kvs, err := buildConfig(backends)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 2*len(soakRegions) + len(soakNames); len(kvs) != want {
		t.Errorf("%d keys, want %d", len(kvs), want)
	}
	// Every region is in the drain order once, and neighbours there are on
	// different continents (the GeoIP checks rely on it).
	cont := map[string]string{}
	for _, r := range soakRegions {
		cont[r.id] = r.continent
	}
	if len(drainOrder) != len(soakRegions) {
		t.Fatalf("drain order has %d regions, want %d", len(drainOrder), len(soakRegions))
	}
	for i, r := range drainOrder {
		next := drainOrder[(i+1)%len(drainOrder)]
		if cont[r] == "" || cont[r] == cont[next] {
			t.Errorf("drain order: %s (%q) next to %s (%q)", r, cont[r], next, cont[next])
		}
	}
}

// TestSoakShort runs the whole soak for a short while against real glbd
// and glbprobe binaries built from this tree. It is the smoke test of make
// soak; the real run is five minutes (make soak). It takes about a minute
// with the builds on a busy two-core machine, too long for make test, so it
// runs only when GLB_SOAK is set (make soak-short).
func TestSoakShort(t *testing.T) {
	if testing.Short() || os.Getenv("GLB_SOAK") == "" {
		t.Skip("soak: starts etcd, glbd and probers for ~16 s; set GLB_SOAK=1 (make soak-short)")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/glbd", "./cmd/glbprobe")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg, err := parseFlags([]string{"-duration", "16s", "-rate", "500", "-tcp-rate", "20", "-churn-every", "4s",
		"-glbd", filepath.Join(bin, "glbd"), "-glbprobe", filepath.Join(bin, "glbprobe"),
		"-geoip-csv", filepath.Join("..", "..", "testdata", "geoip", "networks.csv"), "-workdir", t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	start := time.Now()
	err = run(t.Context(), cfg, &out)
	t.Logf("soak took %s:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatal(err)
	}
	// The summary must show every kind of event happened, or the run
	// proved nothing.
	for _, want := range []string{"2 prober joins", "replacement 1", "replacement 2", "probers seen [1 2]", "0 failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}
