package server

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// drawObserver is a SamplingObserver whose draw the test sets.
type drawObserver struct {
	draw              bool
	observed, records int
}

func (d *drawObserver) Sample() bool           { return d.draw }
func (d *drawObserver) Record(*QueryEvent)     { d.records++ }
func (d *drawObserver) Observe(ev *QueryEvent) { d.observed++ }

// TestSamplingObserverKeepsFastPath: a query the sampling observer does not
// draw is answered on the fast path and not passed on; a drawn one takes
// the general path (the observer gets messages) and is recorded once,
// never observed (which would draw again).
func TestSamplingObserverKeepsFastPath(t *testing.T) {
	obs := &drawObserver{}
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry()), Rand: func(int) int { return 0 }, Observer: obs})
	applyNow(h, devState(t, nil))
	pkt, err := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24").Pack()
	if err != nil {
		t.Fatal(err)
	}
	var tookFast bool
	fastHook = func() { tookFast = true }
	defer func() { fastHook = nil }()
	remote := netip.MustParseAddrPort("192.0.2.1:5300")
	for _, draw := range []bool{false, true} {
		obs.draw, tookFast = draw, false
		before := obs.records
		if _, ok := h.AnswerPacket(nil, pkt, remote, false); !ok {
			t.Fatalf("draw %v: no reply", draw)
		}
		if tookFast == draw {
			t.Errorf("draw %v: fast path %v, want %v", draw, tookFast, !draw)
		}
		if got := obs.records - before; got != map[bool]int{false: 0, true: 1}[draw] {
			t.Errorf("draw %v: %d records, want %v", draw, got, draw)
		}
	}
	if obs.observed != 0 {
		t.Errorf("Observe called %d times; a sampling observer gets Record", obs.observed)
	}
}
