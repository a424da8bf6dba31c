package transport

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// TestBlockingReaderTwin: a blocking reader answers on its twin socket
// while the Go socket is out of the port's selection (connected to
// itself), and hands the twin back when it stops, for drain and shutdown;
// with one P the readers wait in the poller instead. Stopping wakes the
// blocked reader at once (no receive timeout to wait out), and what reaches
// the twin after that is answered by drain.
func TestBlockingReaderTwin(t *testing.T) {
	if !useBlockingReaders() {
		t.Skip("GOMAXPROCS 1: no blocking readers")
	}
	h, _ := newTestHandler(t, nil)
	conns, err := listenUDP("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	u := newUDPServer(conns, h)
	u.blocking = true
	u.start()
	addr := conns[0].LocalAddr().String()
	for i := range 3 { // several wake-ups of the blocked reader
		if r := exchange(t, "udp", addr, mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")); len(r.Answer) == 0 {
			t.Fatalf("query %d: answer %v", i, r)
		}
	}
	rc, err := conns[0].SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var perr error
	_ = rc.Control(func(fd uintptr) { _, perr = unix.Getpeername(int(fd)) })
	if perr != nil {
		t.Errorf("the Go socket is not connected (still in the port's selection): %v", perr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if !u.stopReaders(ctx) {
		t.Fatal("the blocked reader did not stop")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("stopping took %v", d)
	}
	conns = u.allConns()
	if len(conns) != 2 {
		t.Fatalf("%d sockets after the reader stopped, want the Go one and the twin handed back", len(conns))
	}
	// The reader was woken by shutting its twin down for reading; the twin
	// still takes the port's new flows, and drain answers them.
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")
	wire, _ := m.Pack()
	if _, err := c.Write(wire); err != nil {
		t.Fatal(err)
	}
	if n, emptied := drainSocket(ctx, conns[1], h); n != 1 || !emptied {
		t.Errorf("drain of the twin answered %d (emptied %v), want the query sent after the stop", n, emptied)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	if n, err := c.Read(buf); err != nil || n < 12 || buf[0] != wire[0] || buf[1] != wire[1] {
		t.Errorf("no reply from the drained twin: %d bytes, %v", n, err)
	}
	if err := u.shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
