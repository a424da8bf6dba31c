package transport

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server"
)

// gatedHandler holds every query until gate is closed. With the gate being
// the server's own context, a burst sent before the cancel is still queued
// on the sockets when the server starts shutting down, which is the case
// draining exists for.
type gatedHandler struct {
	*server.Handler
	gate <-chan struct{}
}

func (g gatedHandler) AnswerPacket(dst, pkt []byte, remote netip.AddrPort, tcp bool) ([]byte, bool) {
	<-g.gate
	return g.Handler.AnswerPacket(dst, pkt, remote, tcp)
}

func (g gatedHandler) Batches() BatchAnswerer {
	return hookedBatches{g.Handler.Batches(), func([]byte) { <-g.gate }}
}

// runServer starts s, to run until ctx is cancelled, and returns its
// address and where Run's result arrives.
func runServer(t testing.TB, ctx context.Context, s *Server) (string, <-chan error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	udp, _ := s.Addrs()
	return udp.String(), done
}

// burst is one client socket with queries written and not yet answered.
type burst struct {
	conn    *dns.Conn
	pending map[uint16]bool // query ids still to be answered
}

// sendBurst writes n queries on one new UDP socket or TCP connection
// without reading; TCP ones are pipelined on the connection.
func sendBurst(t *testing.T, network, addr string, n int) *burst {
	t.Helper()
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	b := &burst{conn: &dns.Conn{Conn: c}, pending: make(map[uint16]bool)}
	for i := range n {
		q := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")
		q.Id = uint16(i + 1)
		if err := b.conn.WriteMsg(q); err != nil {
			t.Fatalf("%s write: %v", network, err)
		}
		b.pending[q.Id] = true
	}
	return b
}

// collect reads replies until every query is answered or deadline passes,
// and returns how many were not answered.
func (b *burst) collect(deadline time.Time) (lost int, err error) {
	_ = b.conn.SetReadDeadline(deadline)
	for len(b.pending) > 0 {
		m, err := b.conn.ReadMsg()
		if err != nil {
			return len(b.pending), err
		}
		if m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
			delete(b.pending, m.Id)
		}
	}
	return 0, nil
}

// TestDrainAnswersQueuedQueries sends bursts of UDP queries and pipelined
// TCP queries that the server holds until the cancel, so they are queued on
// its sockets when it shuts down, and checks that every one is answered.
// A shutdown that sets a past read deadline right away drops most of them.
func TestDrainAnswersQueuedQueries(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := runServer(t, ctx, NewServer("127.0.0.1:0", gatedHandler{Handler: h, gate: ctx.Done()}, nil))

	// Small enough that no socket buffer overflows before the cancel:
	// a datagram dropped there is not the server's to answer.
	const clients, perClient = 8, 16
	var bursts []*burst
	for i := range 2 * clients {
		network := []string{"udp", "tcp"}[i%2]
		bursts = append(bursts, sendBurst(t, network, addr, perClient))
	}
	cancel()
	start := time.Now()

	deadline := time.Now().Add(5 * time.Second)
	var lost atomic.Int64
	var wg sync.WaitGroup
	for i, b := range bursts {
		wg.Go(func() {
			if n, err := b.collect(deadline); n > 0 {
				lost.Add(int64(n))
				t.Errorf("client %d (%s): %d of %d queries unanswered: %v", i, []string{"udp", "tcp"}[i%2], n, perClient, err)
			}
		})
	}
	wg.Wait()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	t.Logf("answers and shutdown took %s; %d of %d queries unanswered", time.Since(start), lost.Load(), 2*clients*perClient)
}

// TestDrainIsBounded keeps clients sending over UDP and TCP through the
// cancel, so no queue ever goes idle, and checks that Run still returns
// soon after drainMax.
func TestDrainIsBounded(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := runServer(t, ctx, NewServer("127.0.0.1:0", h, nil))

	var stop atomic.Bool
	var answered atomic.Int64
	warm := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }()
	for _, network := range []string{"udp", "tcp", "udp", "tcp"} {
		wg.Go(func() {
			c := &dns.Client{Net: network, Timeout: 200 * time.Millisecond}
			q := mkQuery("www."+testZone, dns.TypeA, "")
			for i := 0; i < 100_000 && !stop.Load(); i++ {
				// A new TCP connection per query keeps the accept
				// backlog busy as well.
				if _, _, err := c.Exchange(q, addr); err == nil && answered.Add(1) == 100 {
					close(warm)
				}
			}
		})
	}
	select {
	case <-warm:
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no load: 100 queries not answered in 5s")
	}
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(drainMax + ShutdownTimeout):
		t.Fatal("Run did not return")
	}
	took := time.Since(start)
	t.Logf("shutdown under steady load took %s", took)
	if took > drainMax+time.Second {
		t.Errorf("shutdown took %s, want about drainMax (%s)", took, drainMax)
	}
}
