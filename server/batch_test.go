package server

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestBatchesCountAsOneByOne: a UDP reader's answerer counts per batch
// what AnswerPacket counts per query. Two handlers with the same draws
// answer the same random queries, one through a reader in batches of 1 to
// 32 (more series than a tally keeps, so it also adds up early), the other
// one by one; every counter of their registries (the duration histogram
// aside) and the answers per region then agree, and so do the replies.
func TestBatchesCountAsOneByOne(t *testing.T) {
	st := devState(t, merge(name(map[string]any{"regions": []string{"us-east", "us-west", "eu-west", "eu-central"},
		"answers": 2, "spread": true}), euWestDown))
	now := time.Unix(1700000000, 0)
	mk := func() (*Handler, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		draws := rand.New(rand.NewPCG(3, 4)) // the same sequence for both
		h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Cookies: &testCookies,
			Now: func() time.Time { return now }, Rand: func(n int) int { return draws.IntN(n) }})
		applyNow(h, st)
		return h, reg
	}
	batched, batchedReg := mk()
	single, singleReg := mk()
	fast := 0
	fastHook = func() { fast++ }
	defer func() { fastHook = nil }()

	r := rand.New(rand.NewPCG(7, 8))
	reader := batched.Batches()
	for i := 0; i < 3000; {
		read := reader.Now()
		for range 1 + r.IntN(32) {
			remote := netip.AddrPortFrom(randomAddr(r), 5353)
			pkt := randomQueryFrom(r, remote.Addr(), uint32(now.Unix()))
			a, okA := reader.AnswerDatagram(nil, pkt, remote, read)
			b, okB := single.AnswerPacket(nil, pkt, remote, false)
			if okA != okB || string(a) != string(b) {
				t.Fatalf("query %d: batched and single replies differ\n% x\n% x", i, a, b)
			}
			i++
		}
		reader.Tally()
		reader.Answered(1, read)
	}
	if fast < 1000 {
		t.Fatalf("only %d of 6000 answers took the fast path", fast)
	}
	got, want := counters(t, batchedReg), counters(t, singleReg)
	if !slices.Equal(got, want) {
		t.Errorf("counters differ:\nbatched: %s\nsingle:  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if got, want := fmt.Sprint(batched.AnswersByRegion()), fmt.Sprint(single.AnswersByRegion()); got != want {
		t.Errorf("answers by region: batched %s, single %s", got, want)
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "glb_dns_queries_total") }) {
		t.Errorf("no glb_dns_queries_total among %v", got)
	}
}

// counters renders every counter series of reg as "name{labels} value",
// sorted.
func counters(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetCounter() == nil {
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out = append(out, fmt.Sprintf("%s{%s} %g", mf.GetName(), strings.Join(labels, ","), m.GetCounter().GetValue()))
		}
	}
	slices.Sort(out)
	return out
}

// TestBatchesDrawByWeight: without Options.Rand, a reader draws with its
// own generator, and the draws follow the regions' weights (1:3).
func TestBatchesDrawByWeight(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg)})
	applyNow(h, devState(t, merge(name(map[string]any{"regions": []string{"eu-central", "us-west"}, "policy": "weighted"}),
		map[string]any{"regions/eu-central/weight": "1", "regions/us-west/weight": "3"})))
	pkt, err := mkQuery("p."+testZone, 1, "").Pack()
	if err != nil {
		t.Fatal(err)
	}
	before := h.AnswersByRegion()
	reader := h.Batches()
	const n = 20000
	out := make([]byte, 0, 512)
	for i := 0; i < n; i += 16 {
		read := reader.Now()
		for range 16 {
			if _, ok := reader.AnswerDatagram(out[:0], pkt, netip.MustParseAddrPort("127.0.0.1:5353"), read); !ok {
				t.Fatal("no reply")
			}
		}
		reader.Tally()
	}
	after := h.AnswersByRegion()
	eu, us := after["eu-central"]-before["eu-central"], after["us-west"]-before["us-west"]
	if eu+us != n {
		t.Fatalf("answers: eu-central %d, us-west %d; want %d in all", eu, us, n)
	}
	// eu-central's share is 1/4: 5,000 expected, standard deviation 61.
	if eu < 4700 || eu > 5300 {
		t.Errorf("eu-central drawn %d of %d times, want about 5000", eu, n)
	}
}

// TestReaderClock: a reader reads the handler's clock when one is given,
// and otherwise a batchClock, whose time is the wall clock's (it reads
// it at least once a second) and runs on with the monotonic clock in
// between, without reading the wall clock again.
func TestReaderClock(t *testing.T) {
	fixed := time.Unix(1700000000, 0)
	given := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry()),
		Now: func() time.Time { return fixed }})
	if got := given.Batches().Now(); !got.Equal(fixed) {
		t.Errorf("with a given clock, a reader's Now = %v, want %v", got, fixed)
	}

	realClock := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry())})
	r := realClock.Batches().(*reader)
	near := func(what string, got time.Time) {
		t.Helper()
		// Generous for a loaded machine; a clock read once and never
		// advanced, or the zero time, is off by far more.
		if d := time.Since(got); d < -time.Second || d > time.Second {
			t.Errorf("%s: %v is %v from the wall clock", what, got, d)
		}
		if !strings.Contains(got.String(), " m=") {
			t.Errorf("%s: %v has no monotonic reading", what, got)
		}
	}
	first := r.Now()
	near("first read", first)
	if !r.clock.wall.Equal(first) {
		t.Fatalf("the first read is the wall clock's: %v, kept %v", first, r.clock.wall)
	}
	wall := r.clock.wall
	var last time.Time
	for i := range 1000 {
		got := r.Now()
		if got.Before(first) || got.Before(last) {
			t.Fatalf("read %d went back: %v after %v", i, got, last)
		}
		last = got
	}
	near("later read", last)
	for time.Since(first) < 2*time.Millisecond { // a busy wait of 2 ms at most
	}
	if got := r.Now(); got.Sub(first) < 2*time.Millisecond {
		t.Errorf("2 ms on, the reader's clock moved %v", got.Sub(first))
	}
	if !r.clock.wall.Equal(wall) && time.Since(wall) < batchClockAnchor {
		t.Errorf("the wall clock was read again within %v", batchClockAnchor)
	}

	// A reading older than batchClockAnchor (set back here, not waited
	// for) is replaced by a new one.
	r.clock.wall = time.Now().Add(-2 * batchClockAnchor)
	near("after the anchor aged", r.Now())
	if d := time.Since(r.clock.wall); d > time.Second {
		t.Errorf("an old wall reading was kept: %v old", d)
	}
}
