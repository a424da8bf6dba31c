package server

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/server/plan"
)

// gatedDB is the test GeoIP database whose Partition, the start of every
// scope table build, waits while the test holds the gate: a build is then
// provably not done, without a sleep that could pass vacuously.
type gatedDB struct {
	*geo.DB
	entered chan struct{} // a token each time Partition reaches the gate (never blocks)
	mu      sync.Mutex
	gate    chan struct{} // closed: open
	held    bool
}

func newGatedDB(d *geo.DB) *gatedDB {
	return &gatedDB{DB: d, entered: make(chan struct{}, 16), gate: make(chan struct{}), held: true}
}

func (d *gatedDB) Partition() (*geo.Partition, error) {
	d.mu.Lock()
	gate := d.gate
	d.mu.Unlock()
	select {
	case d.entered <- struct{}{}:
	default:
	}
	<-gate
	return d.DB.Partition()
}

// hold makes builds that start from now on wait; tokens of earlier ones
// are dropped.
func (d *gatedDB) hold() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.entered) > 0 {
		<-d.entered
	}
	if !d.held {
		d.gate, d.held = make(chan struct{}), true
	}
}

// release lets every waiting and later build through.
func (d *gatedDB) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.held {
		close(d.gate)
		d.held = false
	}
}

// TestAnswersBeforeScopeTables checks that serving does not wait for the
// ECS scope tables, at start-up and after a GeoIP reload: while the build
// is held, answers over UDP and TCP are those of the finished server with
// the GeoIP network's own scope (narrower, never wrong); once it is let
// through, the same queries get the widest scopes.
func TestAnswersBeforeScopeTables(t *testing.T) {
	ref, _ := newTestHandler(t, nil) // tables built synchronously: the truth to compare with

	// Clients whose finished scope is wider than their GeoIP network, so
	// that "own network" and "widest" differ, for both families.
	type client struct {
		addr            netip.Addr
		qtype           uint16
		network, widest int
		answer          []string
	}
	var clients []client
	r := rand.New(rand.NewPCG(19, 2))
	for len(clients) < 40 {
		a := randomAddr(r)
		qtype, bits := dns.TypeA, 32
		if a.Is6() {
			qtype, bits = dns.TypeAAAA, 128
		}
		m := ask(t, ref, "127.0.0.1", mkQuery("www."+testZone, qtype, netip.PrefixFrom(a, bits).String()))
		_, network, _ := ref.geo.Lookup(a)
		if s := replyScope(m); s < network.Bits() {
			clients = append(clients, client{a, qtype, network.Bits(), s, rrText(m.Answer)})
		}
	}

	db := newGatedDB(openTestDB(t)) // held
	h := NewHandler(Options{Geo: db, Metrics: NewMetrics(prometheus.NewRegistry()), Rand: func(int) int { return 0 }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		db.release() // a build still waiting returns and sees ctx done
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	addr := startServer(t, h)

	check := func(phase string, scopeOf func(client) int) {
		t.Helper()
		for _, network := range []string{"udp", "tcp"} {
			for _, c := range clients {
				bits := 32
				if c.addr.Is6() {
					bits = 128
				}
				m := exchange(t, network, addr, mkQuery("www."+testZone, c.qtype, netip.PrefixFrom(c.addr, bits).String()))
				if got, want := rrText(m.Answer), c.answer; !slices.Equal(got, want) {
					t.Errorf("%s, %s %s: answer %v, want %v", phase, network, c.addr, got, want)
				}
				if got, want := replyScope(m), scopeOf(c); got != want {
					t.Errorf("%s, %s %s: scope /%d, want /%d", phase, network, c.addr, got, want)
				}
			}
		}
	}
	network := func(c client) int { return c.network }
	widest := func(c client) int { return c.widest }
	tablesIn := func() bool {
		return h.snap.Load().TableFor(h.snap.Load().Config.Zones[testZone].Nodes["www."+testZone].GSLB, dns.TypeA) != nil
	}

	for _, phase := range []struct {
		name   string
		before func() // what makes a build due
	}{
		{"start-up", func() { h.Apply(devState(t, nil)) }},
		{"after a GeoIP reload", h.GeoReloaded},
	} {
		db.hold()
		phase.before()
		select {
		case <-db.entered: // a build is due and held
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no scope table build started", phase.name)
		}
		if tablesIn() {
			t.Fatalf("%s: scope tables in use while their build is held", phase.name)
		}
		check(phase.name+", tables held", network)
		db.release()
		waitUntil(t, 10*time.Second, phase.name+": scope tables in use", tablesIn)
		check(phase.name+", tables built", widest)
	}
}

// TestScopeBuildReportsNewDatabase: the scope worker gives memory back
// after the first tables of a database (start-up, reload), and only then;
// buildScopesWith says which builds those are.
func TestScopeBuildReportsNewDatabase(t *testing.T) {
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry())})
	steps := []struct {
		name   string
		before func()
		want   bool
	}{
		{"start-up", func() { h.Apply(devState(t, nil)) }, true},
		{"a configuration change", func() { h.Apply(devState(t, map[string]any{"regions/us-east/weight": "90"})) }, false},
		{"a GeoIP reload", h.GeoReloaded, true},
	}
	for _, s := range steps {
		s.before()
		if got := h.buildScopesWith(h.geo.(Partitioner), &plan.ScopeBuilder{}); got != s.want {
			t.Errorf("%s: new database %v, want %v", s.name, got, s.want)
		}
	}
}
