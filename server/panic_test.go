package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/geo"
)

// trapDB is the test GeoIP database with two injected faults: Lookup
// panics for addresses in trap, and Partition panics while partitionTraps
// is above zero (each call uses one up).
type trapDB struct {
	*geo.DB
	trap           netip.Prefix
	partitionTraps atomic.Int32
}

func (d *trapDB) Lookup(ip netip.Addr) (geo.Location, netip.Prefix, bool) {
	if d.trap.Contains(ip) {
		panic("injected: lookup of " + ip.String())
	}
	return d.DB.Lookup(ip)
}

func (d *trapDB) Partition() (*geo.Partition, error) {
	if d.partitionTraps.Add(-1) >= 0 {
		panic("injected: partition")
	}
	return d.DB.Partition()
}

// syncLog is a log sink tests read while the server writes to it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records returns the JSON log records with message msg.
func (l *syncLog) records(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.b.String()) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func panicsOf(t *testing.T, reg *prometheus.Registry, component string) float64 {
	t.Helper()
	n, err := testutil.GatherAndCount(reg, "glb_panics_total")
	if err != nil || n == 0 {
		return 0
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "glb_panics_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "component" && lp.GetValue() == component {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestQueryPanicIsServfail makes the handler panic on queries from one
// network, over a real UDP and TCP listener: each such query gets SERVFAIL
// with its ID, the panic is counted in glb_panics_total{component="dns"}
// and logged with its stack, and the server goes on answering.
func TestQueryPanicIsServfail(t *testing.T) {
	db := &trapDB{DB: openTestDB(t), trap: netip.MustParsePrefix("198.18.0.0/15")}
	reg := prometheus.NewRegistry()
	logs := &syncLog{}
	h := NewHandler(Options{Geo: db, Metrics: NewMetrics(reg), Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	// No scope tables (Run is not running): the fast path looks every
	// client up, so UDP queries reach the trap through it and TCP ones
	// through the general path.
	h.Apply(devState(t, nil))
	addr := startServer(t, h)

	for i, network := range []string{"udp", "tcp", "udp", "tcp"} {
		trap := mkQuery("www."+testZone, dns.TypeA, "198.18.7.0/24")
		m := exchange(t, network, addr, trap)
		if m.Rcode != dns.RcodeServerFailure || m.Id != trap.Id || !m.Response {
			t.Errorf("%s: rcode %s id %d, want SERVFAIL id %d", network, dns.RcodeToString[m.Rcode], m.Id, trap.Id)
		}
		if got := panicsOf(t, reg, "dns"); got != float64(i+1) {
			t.Errorf("%s: glb_panics_total{component=\"dns\"} = %v, want %d", network, got, i+1)
		}
		good := exchange(t, network, addr, mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24"))
		if good.Rcode != dns.RcodeSuccess || len(good.Answer) == 0 {
			t.Errorf("%s: after the panic a good query got %s with %d answers", network, dns.RcodeToString[good.Rcode], len(good.Answer))
		}
	}
	recs := logs.records("panic answering query")
	if len(recs) != 4 {
		t.Fatalf("%d panic log lines, want 4", len(recs))
	}
	if s, _ := recs[0]["stack"].(string); !strings.Contains(s, "trapDB") {
		t.Errorf("the log line's stack does not show where it panicked: %q", s)
	}
}

// TestScopeWorkerSurvivesPanic makes the ECS scope build panic once in a
// running handler: the panic is counted under scope_worker and logged, and
// the worker goes on to build the tables the next time it is asked.
func TestScopeWorkerSurvivesPanic(t *testing.T) {
	db := &trapDB{DB: openTestDB(t)}
	db.partitionTraps.Store(1)
	reg := prometheus.NewRegistry()
	logs := &syncLog{}
	h := NewHandler(Options{Geo: db, Metrics: NewMetrics(reg), Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	h.Apply(devState(t, nil)) // queues the first build, which panics
	waitUntil(t, 10*time.Second, "the panic counted", func() bool { return panicsOf(t, reg, "scope_worker") == 1 })
	if len(logs.records("ecs scope build panicked; its tables are left unbuilt")) != 1 {
		t.Error("no log line for the scope worker's panic")
	}
	h.Apply(devState(t, map[string]any{"regions/us-east/weight": "90"})) // a change queues the tables again
	waitUntil(t, 10*time.Second, "scope tables built after the panic", func() bool {
		snap := h.snap.Load()
		for _, z := range snap.Config.Zones {
			for _, n := range z.Nodes {
				if n.GSLB != nil && snap.TableFor(n.GSLB, dns.TypeA) != nil {
					return true
				}
			}
		}
		return false
	})
}
