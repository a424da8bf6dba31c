package transport

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// TestBlockingReaderTwin: a blocking reader answers on its twin socket
// while the Go socket is out of the port's selection (connected to
// itself), and hands the twin back when it stops, for drain and shutdown;
// with one P the readers wait in the poller instead.
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
	if got := len(u.allConns()); got != 2 {
		t.Errorf("%d sockets after the reader stopped, want the Go one and the twin handed back", got)
	}
	if err := u.shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
