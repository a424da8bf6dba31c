package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// tcpRig is a running Server with its own TCP limits and metrics.
type tcpRig struct {
	srv  *Server
	addr string
	m    *Metrics
}

// startTCP runs a Server for h (the dev configuration when nil) with lim
// on a free loopback port until the test ends.
func startTCP(t testing.TB, h *Handler, lim TCPLimits) *tcpRig {
	t.Helper()
	if h == nil {
		h, _ = newTestHandler(t, nil)
	}
	m := NewMetrics(prometheus.NewRegistry())
	s := NewServerWith("127.0.0.1:0", h, ServerOptions{Metrics: m, TCP: lim})
	serve(t, s)
	_, tcp := s.Addrs()
	return &tcpRig{srv: s, addr: tcp.String(), m: m}
}

func (r *tcpRig) closed(reason string) float64 { return testutil.ToFloat64(r.m.tcpClosed[reason]) }
func (r *tcpRig) open() float64                { return testutil.ToFloat64(r.m.tcpConns) }

// reasons lists the non-zero close counters, for failure messages.
func (r *tcpRig) reasons() string {
	var out []string
	for _, reason := range closeReasons {
		if v := r.closed(reason); v != 0 {
			out = append(out, fmt.Sprintf("%s=%v", reason, v))
		}
	}
	return strings.Join(out, " ")
}

// idle counts the connections on the idle list.
func (r *tcpRig) idle() int {
	r.srv.mu.Lock()
	ts := r.srv.fastTCP
	r.srv.mu.Unlock()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := 0
	for tc := ts.idleHead; tc != nil; tc = tc.next {
		n++
	}
	return n
}

// dial opens a raw TCP connection from local (an address on lo such as
// 127.0.0.2, so that tests can play several clients; "" for any).
func dial(t *testing.T, local, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// frame returns q packed with its 2-byte length prefix.
func frame(t testing.TB, q *dns.Msg) []byte {
	t.Helper()
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(wire))), wire...)
}

// wwwQuery is a GSLB query with id, from a London ECS subnet.
func wwwQuery(id uint16) *dns.Msg {
	q := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")
	q.Id = id
	return q
}

// readReply reads one framed reply within d.
func readReply(c net.Conn, d time.Duration) (*dns.Msg, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf); err != nil {
		return nil, fmt.Errorf("reply does not parse: %w", err)
	}
	return m, nil
}

// askTCP sends one query on c and checks that the answer is eu-west's.
func askTCP(t *testing.T, c net.Conn, id uint16) {
	t.Helper()
	if _, err := c.Write(frame(t, wwwQuery(id))); err != nil {
		t.Fatalf("write: %v", err)
	}
	m, err := readReply(c, 2*time.Second)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if m.Id != id || len(m.Answer) != 2 || !strings.Contains(m.Answer[0].String(), "198.51.100.") {
		t.Fatalf("answer id %d %v, want id %d with eu-west's two addresses", m.Id, m.Answer, id)
	}
}

// closedBy reports whether the server closes c (EOF or reset) within d;
// any data still arriving is read and dropped.
func closedBy(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}
}

// refused reports whether a connection from local is closed by the server
// before any query. The reset of a refusal can beat the dial's return.
func tcpRefused(t *testing.T, local, addr string) bool {
	t.Helper()
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return errors.Is(err, syscall.ECONNRESET)
	}
	defer c.Close()
	return closedBy(c, 2*time.Second)
}

// waitUntil polls cond every few milliseconds for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
	}
}

// TestTCPPipelining writes many queries in one write and checks that each
// gets its answer, in order, on the one connection: small ones (the fast
// path, one reply batch) and large ones (several flushes, never truncated).
func TestTCPPipelining(t *testing.T) {
	var values []string
	for i := range 20 {
		values = append(values, fmt.Sprintf("%02d-%s", i, strings.Repeat("x", 100)))
	}
	h, _ := newTestHandler(t, map[string]any{"zones/gslb.example.test/records/big/TXT": map[string]any{"values": values}})
	r := startTCP(t, h, TCPLimits{})
	for _, tc := range []struct {
		name    string
		n       int
		query   func(id uint16) *dns.Msg
		answers int
	}{
		{name: "50 GSLB queries", n: 50, query: wwwQuery, answers: 2},
		{name: "30 large TXT answers", n: 30, answers: 20, query: func(id uint16) *dns.Msg {
			q := mkQuery("big."+testZone, dns.TypeTXT, "")
			q.SetEdns0(1232, false) // over TCP the answer is whole anyway
			q.Id = id
			return q
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, "", r.addr)
			var batch []byte
			for i := range tc.n {
				batch = append(batch, frame(t, tc.query(uint16(1000+i)))...)
			}
			if _, err := c.Write(batch); err != nil {
				t.Fatal(err)
			}
			for i := range tc.n {
				m, err := readReply(c, 2*time.Second)
				if err != nil {
					t.Fatalf("reply %d of %d: %v", i+1, tc.n, err)
				}
				if m.Id != uint16(1000+i) || m.Rcode != dns.RcodeSuccess || m.Truncated || len(m.Answer) != tc.answers {
					t.Fatalf("reply %d: id %d rcode %s TC %v, %d answers; want id %d NOERROR, %d answers",
						i+1, m.Id, dns.RcodeToString[m.Rcode], m.Truncated, len(m.Answer), 1000+i, tc.answers)
				}
			}
		})
	}
}

// TestTCPGlobalCap fills MaxConns and checks both answers to one more
// connection: the connection idle longest makes way for it, and when none
// is idle (every one is mid-query) the newcomer is refused.
func TestTCPGlobalCap(t *testing.T) {
	const max = 3
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("busy=%v", busy), func(t *testing.T) {
			r := startTCP(t, nil, TCPLimits{MaxConns: max, IOTimeout: 10 * time.Second})
			var conns []*net.TCPConn
			for i := range max {
				c := dial(t, fmt.Sprintf("127.0.2.%d", i+1), r.addr) // a client each: only the global cap applies
				waitUntil(t, 2*time.Second, "the connection admitted", func() bool { return r.open() == float64(i+1) })
				if busy {
					c.Write([]byte{0}) // half a length prefix: a query has begun
				}
				conns = append(conns, c)
			}
			if busy {
				waitUntil(t, 2*time.Second, "every connection busy", func() bool { return r.idle() == 0 })
			}
			if busy {
				if !tcpRefused(t, "127.0.2.100", r.addr) {
					t.Fatal("connection over the cap with none idle was not refused")
				}
				if got := r.closed(closeRefusedGlobal); got != 1 {
					t.Errorf("refused_global = %v, want 1", got)
				}
				for i, c := range conns[:1] {
					if closedBy(c, 100*time.Millisecond) {
						t.Errorf("busy connection %d was closed", i)
					}
				}
				return
			}
			// The first connection asks again and so becomes the most
			// recently idle; the second is now idle longest.
			askTCP(t, conns[0], 6)
			waitUntil(t, 2*time.Second, "the first connection idle again", func() bool { return r.idle() == max })
			extra := dial(t, "127.0.2.100", r.addr)
			askTCP(t, extra, 7) // admitted and served
			if !closedBy(conns[1], 2*time.Second) {
				t.Fatal("the connection idle longest was not evicted")
			}
			if got := r.closed(closeEvicted); got != 1 {
				t.Errorf("evicted = %v, want 1", got)
			}
			for i, c := range []*net.TCPConn{conns[0], conns[2]} {
				askTCP(t, c, uint16(10+i)) // the others are untouched
			}
			if got := r.open(); got != max {
				t.Errorf("%v connections open, want %d", got, max)
			}
		})
	}
}

// TestTCPPerClientCap plays clients from different loopback addresses. A
// client over its cap with idle connections gets its new connection, and
// its own connection idle longest is closed for it, never another
// client's; a client whose connections are all mid-query is refused, and
// its admitted connections keep working.
func TestTCPPerClientCap(t *testing.T) {
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("busy=%v", busy), func(t *testing.T) {
			r := startTCP(t, nil, TCPLimits{MaxConns: 100, MaxConnsPerClient: 2, IOTimeout: 10 * time.Second})
			// Another client's connection, idle longest of all: the
			// global eviction order would pick it, the per-client one
			// must not.
			other := dial(t, "127.0.0.3", r.addr)
			waitUntil(t, 2*time.Second, "the other client admitted", func() bool { return r.open() == 1 })
			a1, a2 := dial(t, "127.0.0.2", r.addr), dial(t, "127.0.0.2", r.addr)
			waitUntil(t, 2*time.Second, "two connections admitted", func() bool { return r.open() == 3 })
			if busy {
				for _, c := range []*net.TCPConn{a1, a2} {
					c.Write([]byte{0}) // half a length prefix: a query has begun
				}
				waitUntil(t, 2*time.Second, "both connections busy", func() bool { return r.idle() == 1 })
				if !tcpRefused(t, "127.0.0.2", r.addr) {
					t.Fatal("third connection from 127.0.0.2 with none idle was not refused")
				}
				if got := r.closed(closeRefusedClient); got != 1 {
					t.Errorf("refused_client = %v, want 1", got)
				}
				for _, c := range []*net.TCPConn{a1, a2} {
					// The rest of the begun query: still answered.
					q := frame(t, wwwQuery(4))
					if _, err := c.Write(q[1:]); err != nil {
						t.Fatal(err)
					}
					if m, err := readReply(c, 2*time.Second); err != nil || m.Id != 4 {
						t.Fatalf("busy connection not answered after the refusal: %v %v", m, err)
					}
				}
			} else {
				// a1 asks, so a2 is now the client's connection idle
				// longest.
				askTCP(t, a1, 1)
				waitUntil(t, 2*time.Second, "a1 idle again", func() bool { return r.idle() == 3 })
				a3 := dial(t, "127.0.0.2", r.addr)
				askTCP(t, a3, 2) // admitted and served
				if !closedBy(a2, 2*time.Second) {
					t.Fatal("the client's connection idle longest was not closed for its new one")
				}
				if got := r.closed(closeEvictedClient); got != 1 {
					t.Errorf("evicted_client = %v, want 1 (closed: %s)", got, r.reasons())
				}
				askTCP(t, a1, 3)
			}
			askTCP(t, other, 5) // the other client's connection is untouched
			askTCP(t, dial(t, "127.0.0.4", r.addr), 6)
			if got := r.closed(closeEvicted); got != 0 {
				t.Errorf("evicted = %v, want 0: the global cap was never reached", got)
			}
		})
	}
}

// TestTCPMaxConnLifetime checks that a connection past MaxConnLifetime is
// closed at the next query boundary: the query in flight is answered whole
// (even with the first byte of the next one sent behind it), then EOF;
// within its lifetime the same connection goes on serving.
func TestTCPMaxConnLifetime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		closes   bool
	}{
		// 1ns: past at the first answer, with no clock to wait for.
		{name: "past its lifetime", lifetime: time.Nanosecond, closes: true},
		{name: "within its lifetime", lifetime: time.Hour, closes: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startTCP(t, nil, TCPLimits{MaxConnLifetime: tc.lifetime})
			c := dial(t, "", r.addr)
			next := frame(t, wwwQuery(2))
			// One query and the first byte of the next, as the client
			// that holds a slot by never going idle sends them.
			if _, err := c.Write(append(frame(t, wwwQuery(1)), next[0])); err != nil {
				t.Fatal(err)
			}
			m, err := readReply(c, 2*time.Second)
			if err != nil || m.Id != 1 || len(m.Answer) != 2 {
				t.Fatalf("reply to the query in flight: %v %v; want it whole", m, err)
			}
			if !tc.closes {
				if _, err := c.Write(next[1:]); err != nil {
					t.Fatal(err)
				}
				if m, err := readReply(c, 2*time.Second); err != nil || m.Id != 2 {
					t.Fatalf("second query not answered within the lifetime: %v %v", m, err)
				}
				if got := r.closed(closeLifetime); got != 0 {
					t.Errorf("lifetime = %v, want 0", got)
				}
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("after the reply: %d bytes, %v; want EOF (an orderly close)", n, err)
			}
			c.Close()
			waitUntil(t, 3*time.Second, "counted as closed at its lifetime", func() bool { return r.closed(closeLifetime) == 1 })
		})
	}
}

// TestTCPIdleTimeout checks that a connection that has gone quiet, after a
// query or from the start, is closed after IdleTimeout and not long before.
func TestTCPIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	r := startTCP(t, nil, TCPLimits{IdleTimeout: idle})
	for _, query := range []bool{true, false} {
		t.Run(fmt.Sprintf("after a query %v", query), func(t *testing.T) {
			c := dial(t, "", r.addr)
			if query {
				askTCP(t, c, 1)
			}
			start := time.Now()
			if !closedBy(c, 5*time.Second) {
				t.Fatal("idle connection not closed")
			}
			if took := time.Since(start); took < idle*8/10 || took > idle+2*time.Second {
				t.Errorf("closed after %s, want about %s", took, idle)
			}
		})
	}
	if got := r.closed(closeIdle); got != 2 {
		t.Errorf("idle = %v, want 2", got)
	}
}

// TestTCPQueryLimit checks that a connection is closed once it has been
// answered MaxQueries queries, answering all of them first, whether they
// came one at a time or pipelined past the limit.
func TestTCPQueryLimit(t *testing.T) {
	const limit = 5
	r := startTCP(t, nil, TCPLimits{MaxQueries: limit})
	t.Run("one at a time", func(t *testing.T) {
		c := dial(t, "", r.addr)
		for i := range limit {
			askTCP(t, c, uint16(i))
		}
		if !closedBy(c, 2*time.Second) {
			t.Fatal("connection still open after the limit")
		}
	})
	t.Run("pipelined past it", func(t *testing.T) {
		c := dial(t, "", r.addr)
		var batch []byte
		for i := range limit + 3 {
			batch = append(batch, frame(t, wwwQuery(uint16(i)))...)
		}
		if _, err := c.Write(batch); err != nil {
			t.Fatal(err)
		}
		for i := range limit {
			if m, err := readReply(c, 2*time.Second); err != nil || m.Id != uint16(i) {
				t.Fatalf("reply %d: %v %v", i, m, err)
			}
		}
		if m, err := readReply(c, 2*time.Second); err == nil {
			t.Fatalf("answer %d past the limit: %v", m.Id, m)
		}
	})
	// Counted once the server has closed its side too (see linger).
	waitUntil(t, 3*time.Second, "both counted as closed at the limit", func() bool { return r.closed(closeLimit) == 2 })
}

// TestDataWaiting checks the look at a socket that drain makes after a
// read failed on a deadline that had passed before the read ran.
func TestDataWaiting(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client := dial(t, "", ln.Addr().String())
	server, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	expire := func() {
		_ = server.SetReadDeadline(time.Now().Add(-time.Second))
		if _, err := server.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read past its deadline: %v", err)
		}
	}
	expire()
	if dataWaiting(server) {
		t.Error("data waiting on a quiet connection")
	}
	if _, err := client.Write([]byte{0, 12}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 2*time.Second, "the bytes queued", func() bool { expire(); return dataWaiting(server) })
	// The look consumed nothing.
	_ = server.SetReadDeadline(time.Now().Add(time.Second))
	if b := make([]byte, 4); func() int { n, _ := server.Read(b); return n }() != 2 {
		t.Error("the bytes looked at were consumed")
	}
}
