package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/glb-dns/glb/internal/crash"
)

// PacketAnswerer answers raw DNS messages; *server.Handler is one. A Server
// whose handler is a PacketAnswerer reads UDP itself instead of through the
// DNS library: one socket per CPU (SO_REUSEPORT), one goroutine per socket,
// no goroutine or allocation per packet.
//
// Each UDP reader answers through a BatchAnswerer of its own (Batches); TCP
// and the drain use AnswerPacket, which reads the clock itself.
type PacketAnswerer interface {
	AnswerPacket(dst, pkt []byte, remote netip.AddrPort, tcp bool) ([]byte, bool)
	Batches() BatchAnswerer
}

// BatchAnswerer answers the datagrams of one UDP reader, which alone uses
// it: per batch the reader reads its clock once (Now), answers every
// datagram with that time (AnswerDatagram), calls Tally before sending the
// replies and Answered with how many it queued after.
//
// An alias of an interface literal, so that the answerer's package can
// spell the same type without importing this one (server.BatchAnswerer).
type BatchAnswerer = interface {
	Now() time.Time
	AnswerDatagram(dst, pkt []byte, remote netip.AddrPort, read time.Time) ([]byte, bool)
	Tally()
	Answered(n int, read time.Time)
}

// udpReadBuffer is the receive buffer asked for each UDP socket.
const udpReadBuffer = 4 << 20

// maxUDPQuery is the largest query read: EDNS payloads above 4096 are not
// used in practice, and a cut datagram fails to parse and gets FORMERR.
const maxUDPQuery = 4096

// udpServer serves DNS over a set of UDP sockets bound to one address.
type udpServer struct {
	conns []*net.UDPConn
	h     PacketAnswerer
	// stopping makes the readers return at their next read; drain and
	// shutdown set it, then a past read deadline wakes the readers. Unread
	// datagrams stay queued, for drain to answer.
	stopping atomic.Bool
	wg       sync.WaitGroup
	// keepInGroup turns off leaving the SO_REUSEPORT selection while
	// draining: the old way, which a test uses to show what it loses.
	keepInGroup bool
	drained     atomic.Int64 // queries answered by drain
	// cutShort is set when a drain ran out of time before every socket's
	// queue was seen empty: what was still queued is lost at the close.
	cutShort atomic.Bool
	// log and panics record a panic in a reader, which then starts over
	// (AnswerPacket recovers its own; this covers the loop around it).
	log    *slog.Logger
	panics prometheus.Counter
	// blocking: the readers block in recvmmsg on twins of the sockets
	// (udpblock.go); twins are those handed back by stopped readers, for
	// drain and shutdown, and closed says shutdown has closed the sockets.
	// readingTwins are the twins of the readers still running, for
	// wakeReaders.
	blocking     bool
	twinMu       sync.Mutex
	readingTwins map[int]bool
	twins        []*net.UDPConn
	closed       bool
}

// listenUDP binds n sockets to addr with SO_REUSEPORT, so the kernel
// spreads datagrams over them; with port 0 the first socket picks the port
// and the others join it. Another process (the next glbd of a rolling
// restart) may join the same port the same way.
func listenUDP(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: udpSocket}
	var conns []*net.UDPConn
	for i := range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		uc := pc.(*net.UDPConn)
		// A deep receive queue rides out a short pause of the readers
		// (a garbage collection while a big scope table is built) instead
		// of dropping queries; the kernel caps it at net.core.rmem_max.
		_ = uc.SetReadBuffer(udpReadBuffer)
		conns = append(conns, uc)
		if i == 0 {
			addr = pc.LocalAddr().String()
		}
	}
	return conns, nil
}

// reusePort sets SO_REUSEPORT on a socket before it is bound.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	return errors.Join(err, serr)
}

// udpSocket readies a UDP socket before it is bound: reusePort, and the
// path-MTU option of noPMTU.
func udpSocket(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) { serr = noPMTU(int(fd), network != "udp4") })
	return errors.Join(reusePort(network, address, c), err, serr)
}

// noPMTU makes a UDP socket ignore path-MTU information
// (IP_PMTUDISC_OMIT, and IPV6_PMTUDISC_OMIT on an IPv6 socket): replies
// leave without the DF bit, sized by the interface's MTU alone. A forged
// ICMP "fragmentation needed" then cannot make glbd fragment its answers,
// the lever of fragmentation-based cache poisoning (what gdnsd, Knot and
// others set on their UDP sockets too), and a send skips the route's PMTU
// lookup (ip_skb_dst_mtu, ipv4_mtu: 0.3 % of glbd's CPU at saturation).
// On an IPv6 socket the IPv4 option, which serves its IPv4-mapped
// traffic, is set where the kernel allows it.
func noPMTU(fd int, v6 bool) error {
	v4err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_OMIT)
	if !v6 {
		return v4err
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_OMIT)
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
	twin := -1
	if u.blocking {
		fd, err := newTwin(c)
		if err == nil {
			twin = fd
			u.reading(fd)
			defer u.handBack(fd)
		} else if u.log != nil {
			u.log.Warn("udp reader waits in the poller instead of blocking", "err", err)
		}
	}
	for !u.serveBatches(c, twin) {
	}
}

// serveBatches reads and answers until the socket stops (true) or a panic
// cuts it short (false, recorded): the datagrams of the batch in hand are
// lost, the rest stay queued for the next round.
func (u *udpServer) serveBatches(c *net.UDPConn, twin int) (stopped bool) {
	defer func() {
		if v := recover(); v != nil {
			stopped = false
			if u.log != nil && u.panics != nil {
				crash.Record(u.log, u.panics, "panic in a udp reader; it starts over", v)
			}
		}
	}()
	b, err := newMmsgBatcher(c)
	if err != nil {
		return true // the socket is closed
	}
	// A reader started over after a panic gets a new answerer: counts
	// its batch in hand had not yet added are lost with the batch.
	b.a = u.h.Batches()
	serve := func(fd uintptr) bool { return u.serveQueued(b, fd) }
	if twin >= 0 {
		// What reached c before it left the selection, then the twin.
		_ = b.rc.Control(func(fd uintptr) { serve(fd) })
		b.blocking = true
		u.serveBlocking(b, uintptr(twin))
		return true
	}
	// Checking stopping before each read, not only after a failed one,
	// matters under steady load: a reader that always finds data would
	// otherwise never see the past deadline.
	for !u.stopping.Load() {
		// One Read call serves until the reader stops: serve waits
		// through the poller whenever the queue is empty (see
		// mmsgBatcher), and Read returns on the stopping deadline.
		if err := b.rc.Read(serve); err != nil && (u.stopping.Load() || errors.Is(err, net.ErrClosed)) {
			return true // what is still queued stays for drain
		}
	}
	return true
}

// serveQueued reads and answers the datagrams queued on the socket, batch
// by batch. It returns false to wait for more (the last read emptied the
// queue) and true to return from Read: stopping, or a read error, e.g.
// an ICMP error surfacing on the socket, after which the reader goes on.
func (u *udpServer) serveQueued(b *mmsgBatcher, fd uintptr) bool {
	for !u.stopping.Load() {
		n, errno := b.recvmmsg(fd)
		if errno == unix.EAGAIN || (errno == 0 && n == 0) {
			return false
		}
		if errno != 0 {
			return true
		}
		u.answer(b, n)
		// A failed write means the clients are gone; nobody to tell.
		u.sent(b, b.flush(fd))
		if n < batchSize {
			return false
		}
	}
	return true
}

// answer answers the n datagrams of the last read, queueing the replies.
// One clock reading serves the whole batch.
func (u *udpServer) answer(b *mmsgBatcher, n int) {
	b.read = b.a.Now()
	for i := range n {
		pkt, from := b.packet(i)
		reply, ok := b.a.AnswerDatagram(b.outBuffer(i), pkt, from, b.read)
		b.reply(i, reply, ok)
	}
	b.a.Tally()
}

// sent reports the replies of the batch just flushed as sent.
func (u *udpServer) sent(b *mmsgBatcher, replies int) {
	if replies > 0 {
		b.a.Answered(replies, b.read)
	}
}

// stopReaders makes the batched readers return after the batch in hand
// and waits for them (at most until ctx is done). A past deadline fails a
// read before it takes anything off the queue, so nothing is lost.
func (u *udpServer) stopReaders(ctx context.Context) bool {
	u.stopping.Store(true)
	for _, c := range u.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	u.wakeReaders()
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }() // ends at the latest when shutdown closes the sockets
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// drain answers the queries queued on the sockets before they close. Each
// socket first leaves the kernel's SO_REUSEPORT selection (see
// leaveReuseportGroup), so datagrams of new flows go to the sockets of the
// other process on the port, the next glbd of a rolling restart, or, with
// none, are refused as they would be once the socket is closed. The queue
// then only shrinks, and is read until it has been empty for drainIdle.
// Without leaving, a process sharing its port under steady load would find
// its queues never empty, and lose what they hold at the close.
func (u *udpServer) drain(ctx context.Context, log *slog.Logger) {
	// A datagram sent just before the cancel may still be on its way
	// through the kernel (loopback and receive processing run later, in
	// softirq context); once the sockets have left the group it would find
	// none and be refused. Serving on for drainIdle first lets it land.
	t := time.NewTimer(drainIdle)
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	if !u.stopReaders(ctx) {
		u.cutShort.Store(true)
		return
	}
	var wg sync.WaitGroup
	for _, c := range u.allConns() {
		wg.Go(func() {
			if !u.keepInGroup {
				if err := leaveReuseportGroup(c); err != nil {
					// Still read the queue out; new flows keep coming to
					// this socket until drainMax.
					log.Warn("udp socket stays in the port's selection while draining", "err", err)
				}
			}
			n, emptied := drainSocket(ctx, c, u.h)
			u.drained.Add(int64(n))
			if !emptied {
				u.cutShort.Store(true)
			}
		})
	}
	wg.Wait()
}

// shutdown stops reading: each reader finishes the packet in hand, then
// the sockets close.
func (u *udpServer) shutdown(ctx context.Context) error {
	var err error
	if !u.stopReaders(ctx) {
		err = ctx.Err()
	}
	u.twinMu.Lock()
	u.closed = true // a reader still to stop closes its twin itself
	conns := append(append([]*net.UDPConn(nil), u.conns...), u.twins...)
	u.twinMu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return err
}

// udpSockets is how many sockets a Server binds for UDP.
// Blocking readers keep one P for everything else (udpblock.go).
func udpSockets() int {
	if useBlockingReaders() {
		return runtime.GOMAXPROCS(0) - 1
	}
	return runtime.GOMAXPROCS(0)
}

// batchSize is how many datagrams one system call reads or writes. Under
// load a socket's queue holds several queries; taking them with one
// recvmmsg and answering with one sendmmsg saves most of the per-packet
// system call and wake-up cost, which dominates the cost of an answer.
const batchSize = 32

// maxUDPReply bounds a reply buffer; replies are cut to the client's
// buffer size, at most 65535.
const maxUDPReply = 65535
