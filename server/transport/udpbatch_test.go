package transport

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// TestUDPBatches sends bursts larger than a batch from several client
// sockets, over IPv4 and IPv6, one of which goes away before its answers
// come: every other query is answered once, to the socket that sent it.
func TestUDPBatches(t *testing.T) {
	cases := []struct {
		name, listen, client string
	}{
		{"ipv4", "127.0.0.1:0", "127.0.0.1"},
		{"ipv6", "[::1]:0", "::1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if probe, err := net.ListenPacket("udp", net.JoinHostPort(tc.client, "0")); err != nil {
				t.Skipf("no %s loopback: %v", tc.name, err)
			} else {
				probe.Close()
			}
			h, _ := newTestHandler(t, nil)
			addr := serve(t, NewServer(tc.listen, h, nil))
			const clients, perClient = 4, 3 * batchSize
			var conns []*burst
			for range clients {
				conns = append(conns, sendBurst(t, "udp", addr, perClient))
			}
			conns[0].conn.Close() // gone: its answers fail, the rest must not
			for i, b := range conns[1:] {
				_ = b.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				for len(b.pending) > 0 {
					r, err := b.conn.ReadMsg()
					if err != nil {
						t.Fatalf("client %d: %d of %d queries unanswered: %v", i+1, len(b.pending), perClient, err)
					}
					if !b.pending[r.Id] {
						t.Fatalf("client %d: answer to id %d, which it did not ask or got twice", i+1, r.Id)
					}
					delete(b.pending, r.Id)
					if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
						t.Fatalf("client %d: answer %v", i+1, r)
					}
				}
				b.conn.Close()
			}
		})
	}
}

// echo answers a query with itself, flagged as a response, in dst: a
// PacketAnswerer that allocates nothing, to count what the loop allocates.
type echo struct{}

func (echo) AnswerPacket(dst, pkt []byte, _ netip.AddrPort, _ bool) ([]byte, bool) {
	dst = append(dst, pkt...)
	dst[2] |= 0x80
	return dst, true
}

func (e echo) Batches() BatchAnswerer { return packetBatches{e} }

// packetBatches answers a reader's datagrams one by one with AnswerPacket:
// the BatchAnswerer of test answerers that keep nothing per reader.
type packetBatches struct {
	p interface {
		AnswerPacket(dst, pkt []byte, remote netip.AddrPort, tcp bool) ([]byte, bool)
	}
}

func (b packetBatches) AnswerDatagram(dst, pkt []byte, remote netip.AddrPort, _ time.Time) ([]byte, bool) {
	return b.p.AnswerPacket(dst, pkt, remote, false)
}

func (packetBatches) Now() time.Time          { return time.Time{} }
func (packetBatches) Tally()                  {}
func (packetBatches) Answered(int, time.Time) {}

// hookedBatches is a BatchAnswerer that calls before with each datagram
// first.
type hookedBatches struct {
	BatchAnswerer
	before func(pkt []byte)
}

func (b hookedBatches) AnswerDatagram(dst, pkt []byte, remote netip.AddrPort, read time.Time) ([]byte, bool) {
	b.before(pkt)
	return b.BatchAnswerer.AnswerDatagram(dst, pkt, remote, read)
}

// TestUDPLoopAllocs: the UDP loop allocates nothing per datagram (reading
// the sender's address, writing the reply), so that with an allocation-free
// handler the whole path is.
func TestUDPLoopAllocs(t *testing.T) {
	addr := serve(t, NewServer("127.0.0.1:0", echo{}, nil))
	server := netip.MustParseAddrPort(addr)
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q, err := mkQuery("www."+testZone, dns.TypeA, "").Pack()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	roundTrips := func(n int) {
		for range n {
			if _, err := c.WriteToUDPAddrPort(q, server); err != nil {
				t.Fatal(err)
			}
			if n, _, err := c.ReadFromUDPAddrPort(buf); err != nil || n != len(q) || buf[2]&0x80 == 0 {
				t.Fatalf("echo: %d bytes %x, %v", n, buf[:n], err)
			}
		}
	}
	roundTrips(100) // warm up
	const n = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	roundTrips(n)
	runtime.ReadMemStats(&after)
	// Anything per datagram would be at least n; the slack is for the
	// runtime's own bookkeeping meanwhile.
	if got := after.Mallocs - before.Mallocs; got > n/10 {
		t.Errorf("%d allocations for %d queries through the UDP loop, want almost none", got, n)
	}
}

// TestUDPShutdownLeavesNoGoroutine: after Run returns, the readers and
// everything they started are gone.
func TestUDPShutdownLeavesNoGoroutine(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := runServer(t, ctx, NewServer("127.0.0.1:0", h, nil))
	if r := exchange(t, "udp", addr, mkQuery("www."+testZone, dns.TypeA, "")); len(r.Answer) == 0 {
		t.Fatalf("answer %v", r)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > base {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Run returned, %d before it started:\n%s", got, base, buf[:runtime.Stack(buf, true)])
	}
}

// rawAddr is a sender's address as the kernel writes it, and its length.
type rawAddr struct {
	sa unix.RawSockaddrInet6
	n  uint32
}

func rawV4(a [4]byte, port uint16) rawAddr {
	var r rawAddr
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.sa))
	sa4.Family, sa4.Addr = unix.AF_INET, a
	p := (*[2]byte)(unsafe.Pointer(&sa4.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	r.n = unix.SizeofSockaddrInet4
	return r
}

func rawV6(a string, port uint16) rawAddr {
	r := rawAddr{sa: unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: netip.MustParseAddr(a).As16()}, n: unix.SizeofSockaddrInet6}
	p := (*[2]byte)(unsafe.Pointer(&r.sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return r
}

// TestSockaddrAddrPort reads the sender's address the kernel wrote.
func TestSockaddrAddrPort(t *testing.T) {
	cut := rawV4([4]byte{81, 2, 69, 160}, 53000)
	cut.n--
	cases := []struct {
		name string
		raw  rawAddr
		want string
	}{
		{"ipv4", rawV4([4]byte{81, 2, 69, 160}, 53000), "81.2.69.160:53000"},
		{"ipv4 cut short", cut, "invalid AddrPort"},
		{"ipv6", rawV6("2001:db8::1", 1), "[2001:db8::1]:1"},
		{"ipv4 on a dual-stack socket", rawV6("::ffff:1.2.3.4", 65535), "[::ffff:1.2.3.4]:65535"},
		{"unknown family", rawAddr{sa: unix.RawSockaddrInet6{Family: unix.AF_UNIX}, n: unix.SizeofSockaddrInet6}, "invalid AddrPort"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := sockaddrAddrPort(&tc.raw.sa, tc.raw.n).String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// oversize answers like echo, except that a query with id 0xffff gets a
// reply too large for any UDP datagram, which sendmmsg refuses.
type oversize struct{ echo } // echo's clock and Answered

func (oversize) AnswerPacket(dst, pkt []byte, remote netip.AddrPort, tcp bool) ([]byte, bool) {
	if len(pkt) >= 2 && pkt[0] == 0xff && pkt[1] == 0xff {
		return append(dst, make([]byte, maxUDPReply-10)...), true
	}
	return echo{}.AnswerPacket(dst, pkt, remote, tcp)
}

func (o oversize) Batches() BatchAnswerer { return packetBatches{o} }

// TestUDPReplyRefused: a reply the kernel refuses to send is skipped, and
// the others of its batch and after it are still sent.
func TestUDPReplyRefused(t *testing.T) {
	addr := serve(t, NewServer("127.0.0.1:0", oversize{}, nil))
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := mkQuery("www."+testZone, dns.TypeA, "")
	var want []uint16
	for i, id := range []uint16{1, 0xffff, 2, 3, 0xffff, 4} {
		q.Id = id
		p, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(p); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if id != 0xffff {
			want = append(want, id)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got := map[uint16]bool{}
	buf := make([]byte, 512)
	for len(got) < len(want) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("answers to %v of %v: %v", got, want, err)
		}
		if n >= 2 {
			got[uint16(buf[0])<<8|uint16(buf[1])] = true
		}
	}
	for _, id := range want {
		if !got[id] {
			t.Errorf("no answer to id %d", id)
		}
	}
}
