package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server"

	"github.com/glb-dns/glb/server/internal/testdev"
)

// startServer runs a real UDP+TCP server on a free loopback port.
func startServer(t *testing.T, h *server.Handler) string {
	t.Helper()
	s := NewServer("127.0.0.1:0", h, nil)
	serve(t, s)
	udp, tcp := s.Addrs()
	if udp.String() != tcp.String() {
		t.Fatalf("udp %s and tcp %s differ", udp, tcp)
	}
	return udp.String()
}

// serve runs s until the test ends, failing it if Run fails, and returns
// its address once it is ready.
func serve(t testing.TB, s *Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := runServer(t, ctx, s)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server Run: %v", err)
		}
	})
	return addr
}

func exchange(t *testing.T, network, addr string, q *dns.Msg) *dns.Msg {
	t.Helper()
	return testdev.Exchange(t, network, addr, q)
}

// TestWireTruncation checks that a UDP answer larger than the client's
// buffer comes back with TC set, and that TCP serves it whole.
func TestWireTruncation(t *testing.T) {
	var values []string
	for i := range 20 {
		values = append(values, fmt.Sprintf("%02d-%s", i, strings.Repeat("x", 100)))
	}
	h, _ := newTestHandler(t, map[string]any{"zones/gslb.example.test/records/big/TXT": map[string]any{"values": values}})
	addr := startServer(t, h)

	cases := []struct {
		name    string
		net     string
		bufsize uint16 // 0: no EDNS
		tc      bool
		full    bool
	}{
		{name: "udp without EDNS is cut at 512", net: "udp", tc: true},
		{name: "udp EDNS 4096 is capped at 1232", net: "udp", bufsize: 4096, tc: true},
		{name: "tcp serves it whole", net: "tcp", full: true},
		{name: "tcp with EDNS serves it whole", net: "tcp", bufsize: 1232, full: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := mkQuery("big."+testZone, dns.TypeTXT, "")
			if tc.bufsize > 0 {
				q.SetEdns0(tc.bufsize, false)
			}
			m := exchange(t, tc.net, addr, q)
			if m.Truncated != tc.tc {
				t.Errorf("TC = %v, want %v", m.Truncated, tc.tc)
			}
			if tc.full && len(m.Answer) != 20 {
				t.Errorf("got %d TXT records, want 20", len(m.Answer))
			}
			m.Compress = true // as sent: the client unpacked a compressed reply
			wire, _ := m.Pack()
			limit := 512
			if tc.bufsize > 0 {
				limit = 1232
			}
			if tc.net == "udp" && len(wire) > limit {
				t.Errorf("udp reply of %d bytes exceeds %d", len(wire), limit)
			}
		})
	}
}

// TestWireGeo checks ECS answers over both transports.
func TestWireGeo(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	addr := startServer(t, h)
	for _, network := range []string{"udp", "tcp"} {
		m := exchange(t, network, addr, mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24"))
		got := testdev.RRText(m.Answer)
		if len(got) != 2 || !strings.Contains(got[0], "198.51.100.1") || !m.Authoritative {
			t.Errorf("%s: answer %q AA=%v, want eu-west addresses with AA", network, got, m.Authoritative)
		}
		if s := testdev.ReplyScope(m); s != 24 {
			t.Errorf("%s: scope %d, want 24", network, s)
		}
	}
}

// TestWireMalformed sends packets the DNS library cannot parse: a malformed
// ECS option gets FORMERR, and garbage too short for a header gets nothing.
func TestWireMalformed(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	addr := startServer(t, h)

	q := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	// The ECS option is the last thing in the packet: family(2) source(1)
	// scope(1) address(3). Family 3 does not exist.
	famAt := len(wire) - 7
	if wire[famAt] != 0 || wire[famAt+1] != 1 {
		t.Fatalf("test packet layout unexpected: % x", wire[famAt:])
	}
	badFamily := append([]byte(nil), wire...)
	badFamily[famAt+1] = 3
	badPrefix := append([]byte(nil), wire...)
	badPrefix[famAt+2] = 33 // source prefix 33 for IPv4

	for _, tc := range []struct {
		name   string
		packet []byte
		rcode  int // -1: no reply expected
	}{
		{name: "ECS family 3", packet: badFamily, rcode: dns.RcodeFormatError},
		{name: "ECS IPv4 prefix 33", packet: badPrefix, rcode: dns.RcodeFormatError},
		{name: "five bytes of garbage", packet: []byte{1, 2, 3, 4, 5}, rcode: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.packet); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			buf := make([]byte, 4096)
			n, err := c.Read(buf)
			if tc.rcode < 0 {
				if err == nil {
					t.Fatalf("got a %d-byte reply to garbage", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("no reply: %v", err)
			}
			m := new(dns.Msg)
			if err := m.Unpack(buf[:n]); err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			if m.Rcode != tc.rcode || m.Id != q.Id || !m.Response {
				t.Errorf("rcode %s id %d QR %v, want %s id %d QR", dns.RcodeToString[m.Rcode], m.Id, m.Response, dns.RcodeToString[tc.rcode], q.Id)
			}
		})
	}
}

// slowLog is a log destination that Run's goroutines and the test may use
// at once, and that takes its time over the "dns listening" line, as a
// log written to a busy pipe or disk may.
type slowLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *slowLog) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "dns listening") {
		time.Sleep(50 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *slowLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestListeningLoggedBeforeReady: by the time Ready closes, the bound
// addresses are in the log. glbd logs "glbd started" when Ready closes,
// and whoever reads the bound address from the log (the rolling restart
// test, an operator's script) must find it on a line before that one.
func TestListeningLoggedBeforeReady(t *testing.T) {
	var log slowLog
	s := NewServer("127.0.0.1:0", echo{}, slog.New(slog.NewTextHandler(&log, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := runServer(t, ctx, s)
	logged := log.String()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged, `msg="dns listening" component=dns udp=`+addr+" ") {
		t.Fatalf("Ready closed before the bound address %s was logged; the log then:\n%s", addr, logged)
	}
}
