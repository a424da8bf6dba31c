package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PacketAnswerer answers raw DNS messages; *Handler is one. A Server whose
// handler is a PacketAnswerer reads UDP itself instead of through the DNS
// library: one socket per CPU (SO_REUSEPORT), one goroutine per socket, no
// goroutine or allocation per packet.
type PacketAnswerer interface {
	AnswerPacket(dst, pkt []byte, remote netip.AddrPort, tcp bool) ([]byte, bool)
}

// maxUDPQuery is the largest query read: EDNS payloads above 4096 are not
// used in practice, and a cut datagram fails to parse and gets FORMERR.
const maxUDPQuery = 4096

// udpServer serves DNS over a set of UDP sockets bound to one address.
type udpServer struct {
	conns    []*net.UDPConn
	h        PacketAnswerer
	stopping atomic.Bool
	draining atomic.Bool // see drain
	wg       sync.WaitGroup
}

// listenUDP binds n sockets to addr with SO_REUSEPORT, so the kernel
// spreads datagrams over them; with port 0 the first socket picks the port
// and the others join it.
func listenUDP(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	var conns []*net.UDPConn
	for i := range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		conns = append(conns, pc.(*net.UDPConn))
		if i == 0 {
			addr = pc.LocalAddr().String()
		}
	}
	return conns, nil
}

func newUDPServer(conns []*net.UDPConn, h PacketAnswerer) *udpServer {
	return &udpServer{conns: conns, h: h}
}

// start runs one reader per socket.
func (u *udpServer) start() {
	for _, c := range u.conns {
		u.wg.Add(1)
		go u.serve(c)
	}
}

func (u *udpServer) serve(c *net.UDPConn) {
	defer u.wg.Done()
	buf := make([]byte, maxUDPQuery)
	out := make([]byte, 0, 4096)
	// Checking stopping here, not only after a failed read, matters while
	// draining: the read deadline set below would otherwise replace the
	// one shutdown sets, and a steady stream of queries would keep the
	// reader going past it.
	for !u.stopping.Load() {
		// While draining, each read gets a fresh drainIdle: the deadline
		// drain set may have passed while a reply was being built, and an
		// expired deadline would fail the read with datagrams still queued.
		if u.draining.Load() {
			_ = c.SetReadDeadline(time.Now().Add(drainIdle))
		}
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if u.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Past the stopping check, only drain sets deadlines, and it
			// sets the flag first.
			if errors.Is(err, os.ErrDeadlineExceeded) && u.draining.Load() {
				return // the socket's queue is drained
			}
			continue // e.g. ICMP errors surfacing on the socket: keep serving
		}
		if reply, ok := u.h.AnswerPacket(out[:0], buf[:n], from, false); ok {
			// A failed write means the client is gone; nobody to tell.
			_, _ = c.WriteToUDPAddrPort(reply, from)
		}
	}
}

// drain keeps the readers going until every socket's queue has been idle
// for drainIdle, so the datagrams queued before the cancel are answered,
// or until ctx is done. shutdown must follow.
func (u *udpServer) drain(ctx context.Context) {
	u.draining.Store(true)
	// Wake the readers blocked with no deadline; later reads set their own.
	for _, c := range u.conns {
		_ = c.SetReadDeadline(time.Now().Add(drainIdle))
	}
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }() // ends at the latest when shutdown closes the sockets
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// shutdown stops reading: each reader finishes the packet in hand, then
// the sockets close.
func (u *udpServer) shutdown(ctx context.Context) error {
	u.stopping.Store(true)
	for _, c := range u.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	for _, c := range u.conns {
		c.Close()
	}
	return err
}

// udpSockets is how many sockets a Server binds for UDP.
func udpSockets() int { return runtime.GOMAXPROCS(0) }
