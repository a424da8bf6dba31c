package transport

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// TestTCPDrainLeavesPortAndWaitsForFirstQuery checks the two halves of a
// TCP drain, with and without the kernel migrating a closed listener's
// queue: the listener closes within a few drainIdle (a connection
// attempted then is refused, not queued on a listener that will never
// accept it), and a connection accepted before the drain whose client
// sends its query only after drainIdle, within drainFirstQuery, is still
// answered.
func TestTCPDrainLeavesPortAndWaitsForFirstQuery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		migrate bool
	}{
		{"kernel migrates", true},
		{"kernel resets", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestHandler(t, nil)
			ln, err := listenTCP("127.0.0.1:0", true)
			if err != nil {
				t.Fatal(err)
			}
			s := newTCPServer(ln.(*net.TCPListener), h, TCPLimits{}, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
			s.migrates = func() bool { return tc.migrate }
			served := make(chan error, 1)
			go func() { served <- s.serve() }()
			addr := ln.Addr().String()

			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for admitted := false; !admitted; {
				s.mu.Lock()
				admitted = s.open == 1
				s.mu.Unlock()
				if !admitted {
					time.Sleep(time.Millisecond)
				}
			}

			ctx, cancel := context.WithTimeout(context.Background(), drainMax)
			defer cancel()
			drained := make(chan struct{})
			go func() { s.drain(ctx); close(drained) }()

			// Past drainIdle: a connection that had spoken would be
			// closed by now; this one has not.
			time.Sleep(4 * drainIdle)
			if late, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				late.Close()
				t.Errorf("a connection %s into the drain was accepted by the kernel: the listener is still open", 4*drainIdle)
			} else if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("dial %s during the drain: %v, want connection refused", addr, err)
			}

			dc := &dns.Conn{Conn: c}
			q := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")
			if err := dc.WriteMsg(q); err != nil {
				t.Fatalf("write the first query %s into the drain: %v", 4*drainIdle, err)
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			m, err := dc.ReadMsg()
			if err != nil || m.Id != q.Id || m.Rcode != dns.RcodeSuccess {
				t.Errorf("first query sent %s into the drain: reply %v, %v; want an answer", 4*drainIdle, m, err)
			}

			select {
			case <-drained:
			case <-time.After(drainMax + time.Second):
				t.Fatal("drain did not return")
			}
			if n := s.drainSilent.Load(); n != 0 {
				t.Errorf("%d connections closed silent, want 0", n)
			}
			sctx, scancel := context.WithTimeout(context.Background(), time.Second)
			defer scancel()
			if err := s.shutdown(sctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if err := <-served; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
}
