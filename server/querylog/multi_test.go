package querylog

import (
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/server"
)

// recorder notes its name in log for each query it observes.
type recorder struct {
	name string
	log  *[]string
}

func (r recorder) Observe(ev *server.QueryEvent) {
	*r.log = append(*r.log, r.name)
}

func TestMulti(t *testing.T) {
	var log []string
	a, b := recorder{"a", &log}, recorder{"b", &log}
	var unset *Dnstap
	var unsetSampler *Sampler

	if o := Multi(); o != nil {
		t.Errorf("Multi() = %v, want nil", o)
	}
	if o := Multi(nil, unset, unsetSampler); o != nil {
		t.Errorf("Multi of nils = %#v, want a nil interface so the server skips it", o)
	}
	if o := Multi(nil, a, unset); o != server.QueryObserver(a) {
		t.Errorf("Multi of one = %#v, want that one", o)
	}
	o := Multi(a, nil, b, unset)
	o.Observe(queryEvent(t, testEvents[0]))
	if want := []string{"a", "b"}; !slices.Equal(log, want) {
		t.Errorf("observed by %v, want %v in order", log, want)
	}
}

// TestMetricsLint registers both outputs on one registry, as glbd does,
// and lints the result.
func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	d, err := NewDnstap(DnstapConfig{Path: filepath.Join(t.TempDir(), "f")}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := NewSampler(SampleConfig{Rate: 0.5}, slog.New(slog.DiscardHandler), reg); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	want := `
# HELP glb_panics_total Panics recovered at the root of a goroutine, by component; each is logged with its stack.
# TYPE glb_panics_total counter
glb_panics_total{component="dnstap"} 0
# HELP glb_querylog_dnstap_dropped_total dnstap frames dropped, by reason: queue_full (the writer is behind), encode (a message would not pack), output (the file or collector is unavailable).
# TYPE glb_querylog_dnstap_dropped_total counter
glb_querylog_dnstap_dropped_total{reason="encode"} 0
glb_querylog_dnstap_dropped_total{reason="output"} 0
glb_querylog_dnstap_dropped_total{reason="queue_full"} 0
# HELP glb_querylog_dnstap_frames_total dnstap frames written (two per query: AUTH_QUERY and AUTH_RESPONSE).
# TYPE glb_querylog_dnstap_frames_total counter
glb_querylog_dnstap_frames_total 0
# HELP glb_querylog_dnstap_output_up 1 while the dnstap file is writable or the collector socket is connected, else 0.
# TYPE glb_querylog_dnstap_output_up gauge
glb_querylog_dnstap_output_up 1
# HELP glb_querylog_dnstap_panics_total Panics recovered in the dnstap writer.
# TYPE glb_querylog_dnstap_panics_total counter
glb_querylog_dnstap_panics_total 0
# HELP glb_querylog_dnstap_queue_length Queries waiting for the dnstap writer.
# TYPE glb_querylog_dnstap_queue_length gauge
glb_querylog_dnstap_queue_length 0
# HELP glb_querylog_sampled_total Queries written to the sampled query log.
# TYPE glb_querylog_sampled_total counter
glb_querylog_sampled_total 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
