package geo

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/geo/geotest"
)

// reloadSetup copies the fixture's rows into a database in a temporary
// directory, opens it and starts a Reloader polling every millisecond.
func reloadSetup(t *testing.T) (*DB, *Reloader, *prometheus.Registry, []geotest.Row) {
	t.Helper()
	rows, err := geotest.ReadCSVFile("../testdata/geoip/networks.csv")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := (geotest.Options{}).WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	reg := prometheus.NewPedanticRegistry()
	r := NewReloader(d, ReloaderConfig{Interval: time.Millisecond, Metrics: NewMetrics(reg)})
	errc := make(chan error, 1)
	go func() { errc <- r.Run(context.Background()) }()
	t.Cleanup(func() {
		r.Close()
		if err := <-errc; err != nil {
			t.Errorf("Run = %v, want nil after Close", err)
		}
	})
	return d, r, reg, rows
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReloaderFollowsReplacement installs a new database the way updaters
// do (write elsewhere, rename over the path) and checks the Reloader picks
// it up: lookups change and the metrics say so.
func TestReloaderFollowsReplacement(t *testing.T) {
	d, r, reg, rows := reloadSetup(t)
	london := netip.MustParseAddr("81.2.69.1")
	if loc, _, _ := d.Lookup(london); loc.Continent != "EU" {
		t.Fatalf("before: %+v", loc)
	}
	epoch := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	moved := geotest.Move(rows, netip.MustParsePrefix("81.2.69.0/24"), netip.MustParsePrefix("1.128.0.0/16"))
	if err := (geotest.Options{BuildEpoch: epoch.Unix()}).WriteFile(d.Path(), moved); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "London moved to Oceania", func() bool { loc, _, _ := d.Lookup(london); return loc.Continent == "OC" })
	// The database is swapped before the Reloader records the load, so
	// the metrics may trail the lookups by a moment.
	waitUntil(t, "the reload counted", func() bool { return testutil.ToFloat64(r.m.reloads.WithLabelValues("ok")) == 1 })
	if got := d.BuildTime(); !got.Equal(epoch) {
		t.Errorf("BuildTime %v, want %v", got, epoch)
	}
	if got := testutil.ToFloat64(r.m.buildTime); got != float64(epoch.Unix()) {
		t.Errorf("glb_geoip_build_timestamp_seconds = %v, want %d", got, epoch.Unix())
	}
	if got := testutil.ToFloat64(r.m.reloads.WithLabelValues("ok")); got != 1 {
		t.Errorf(`glb_geoip_reloads_total{result="ok"} = %v, want 1`, got)
	}
	if got := testutil.ToFloat64(r.m.lastReload); time.Since(time.Unix(int64(got), 0)) > time.Minute {
		t.Errorf("glb_geoip_last_reload_timestamp_seconds = %v, not recent", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// TestReloaderKeepsOldOnBadFile replaces the database with damaged files
// and a missing one: lookups keep working from the database in use, each
// bad version is counted once (not on every poll), and a good file is then
// taken.
func TestReloaderKeepsOldOnBadFile(t *testing.T) {
	d, r, _, rows := reloadSetup(t)
	good, err := os.ReadFile(d.Path())
	if err != nil {
		t.Fatal(err)
	}
	london := netip.MustParseAddr("81.2.69.1")
	errCount := func() float64 { return testutil.ToFloat64(r.m.reloads.WithLabelValues("error")) }
	bad := []struct {
		name    string
		install func()
	}{
		{"truncated", func() { replaceFile(t, d.Path(), good[:len(good)/2]) }},
		{"garbage", func() { replaceFile(t, d.Path(), []byte(strings.Repeat("not a database ", 100))) }},
		{"removed", func() {
			if err := os.Remove(d.Path()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, b := range bad {
		b.install()
		waitUntil(t, b.name+" rejected", func() bool { return errCount() == float64(i+1) })
		if loc, _, found := d.Lookup(london); !found || loc.Continent != "EU" {
			t.Errorf("%s: lookup after the rejection = %+v, %v; want the old database's answer", b.name, loc, found)
		}
		if got := testutil.ToFloat64(r.m.lastSuccessful); got != 0 {
			t.Errorf("%s: glb_geoip_last_reload_successful = %v, want 0", b.name, got)
		}
	}
	// The last bad state stays: once the Reloader has looked at it again
	// and again, nothing more may have been counted. Counting the looks,
	// not sleeping, keeps a slow machine from passing without any.
	from := r.polls.Load()
	waitUntil(t, "20 more polls", func() bool { return r.polls.Load() >= from+20 })
	if got := errCount(); got != float64(len(bad)) {
		t.Errorf("errors counted %v, want %d: a rejected file must not be retried until it changes", got, len(bad))
	}
	if got := testutil.ToFloat64(r.m.reloads.WithLabelValues("ok")); got != 0 {
		t.Errorf("ok reloads %v, want 0", got)
	}

	moved := geotest.Move(rows, netip.MustParsePrefix("81.2.69.0/24"), netip.MustParsePrefix("1.128.0.0/16"))
	if err := (geotest.Options{}).WriteFile(d.Path(), moved); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "good file taken", func() bool { loc, _, _ := d.Lookup(london); return loc.Continent == "OC" })
	if got := testutil.ToFloat64(r.m.lastSuccessful); got != 1 {
		t.Errorf("glb_geoip_last_reload_successful = %v, want 1", got)
	}
}

// TestReloaderReloadNow: Reload (SIGHUP) loads the file even when it looks
// unchanged, and reports a rejection to its caller.
func TestReloaderReloadNow(t *testing.T) {
	d, err := Open(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	var calls int
	r := NewReloader(d, ReloaderConfig{OnReload: func() { calls++ }}) // not running: only Reload loads
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("OnReload called %d times after a reload, want 1", calls)
	}
	if got := testutil.ToFloat64(r.m.reloads.WithLabelValues("ok")); got != 1 {
		t.Errorf("ok reloads %v, want 1", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil {
		t.Error("Reload of a closed DB succeeded")
	}
	if got := testutil.ToFloat64(r.m.reloads.WithLabelValues("error")); got != 1 {
		t.Errorf("error reloads %v, want 1", got)
	}
	if calls != 1 {
		t.Errorf("OnReload called %d times in all, want 1: not after a rejected reload", calls)
	}
}

// TestReloaderRunOnce: a second Run is refused, and Run after Close
// returns at once.
func TestReloaderRunOnce(t *testing.T) {
	_, r, _, _ := reloadSetup(t)
	waitUntil(t, "running", func() bool { return r.polls.Load() > 0 })
	if err := r.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
	r.Close()
	if err := r.Run(context.Background()); err != nil {
		t.Errorf("Run after Close = %v, want nil", err)
	}
}
