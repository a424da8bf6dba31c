package server

import (
	"context"
	"net"
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/server/internal/testdev"
	"github.com/glb-dns/glb/server/transport"
	"github.com/glb-dns/glb/store/schema"
)

const testZone = testdev.Zone

// devState builds a State from the dev configuration, with edits applied on
// top (a nil value deletes the key).
func devState(t testing.TB, edits map[string]any) *schema.State { return testdev.State(t, edits) }

func openTestDB(t testing.TB) *geo.DB { return testdev.OpenDB(t) }

// newTestHandler returns a handler serving the dev configuration with
// deterministic randomness: rand always returns 0.
func newTestHandler(t testing.TB, edits map[string]any) (*Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Rand: func(int) int { return 0 }})
	applyNow(h, devState(t, edits))
	return h, reg
}

// applyNow applies st and builds the ECS scope tables at once, as the
// handler's Run would shortly after.
func applyNow(h *Handler, st *schema.State) {
	h.Apply(st)
	for range 3 { // a build can queue another when the partition is new
		h.buildScopes(h.geo.(Partitioner))
	}
}

// recorder is a dns.ResponseWriter that keeps the reply, for handler tests.
type recorder struct {
	remote net.Addr
	msg    *dns.Msg
}

func (r *recorder) LocalAddr() net.Addr       { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (r *recorder) RemoteAddr() net.Addr      { return r.remote }
func (r *recorder) WriteMsg(m *dns.Msg) error { r.msg = m; return nil }
func (r *recorder) Write(b []byte) (int, error) {
	r.msg = new(dns.Msg)
	return len(b), r.msg.Unpack(b)
}
func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

// ask sends one query over UDP from remote through the handler's
// production entry point, AnswerPacket (fast path, exact-sections check,
// RRL), and returns the reply as a client would see it.
func ask(t testing.TB, h *Handler, remote string, q *dns.Msg) *dns.Msg {
	t.Helper()
	pkt, err := q.Pack()
	if err != nil {
		t.Fatalf("pack query: %v", err)
	}
	return askWire(t, h, remote, pkt)
}

// askWire is ask for a query already in wire form.
func askWire(t testing.TB, h *Handler, remote string, pkt []byte) *dns.Msg {
	t.Helper()
	from, err := netip.ParseAddrPort(remote)
	if err != nil {
		from = netip.AddrPortFrom(netip.MustParseAddr(remote), 40000)
	}
	wire, ok := h.AnswerPacket(make([]byte, 0, 4096), pkt, from, false)
	if !ok {
		t.Fatal("no reply")
	}
	out := new(dns.Msg)
	if err := out.Unpack(wire); err != nil {
		t.Fatalf("unpack reply: %v", err)
	}
	return out
}

// mkQuery builds a query; ecs is "addr/len" or "".
func mkQuery(name string, qtype uint16, ecs string) *dns.Msg { return testdev.Query(name, qtype, ecs) }

func ecsOption(s string) *dns.EDNS0_SUBNET { return testdev.ECSOption(s) }

// startServer runs a real UDP+TCP server (the transport glbd uses) for h
// on a free loopback port until the test ends.
func startServer(t *testing.T, h *Handler) string {
	t.Helper()
	s := transport.NewServer("127.0.0.1:0", h, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server Run: %v", err)
		}
	})
	udp, _ := s.Addrs()
	return udp.String()
}

func exchange(t *testing.T, network, addr string, q *dns.Msg) *dns.Msg {
	t.Helper()
	return testdev.Exchange(t, network, addr, q)
}

// rrText returns the records as sorted zone-file lines with tabs collapsed.
func rrText(rrs []dns.RR) []string { return testdev.RRText(rrs) }

// replyScope returns the ECS scope of a reply, or -1 without ECS.
func replyScope(m *dns.Msg) int { return testdev.ReplyScope(m) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testdev.WaitUntil(t, d, what, cond)
}

// counterValue is the value of the counter family name with the one label
// value given, gathered from reg (0 when absent).
func counterValue(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
