package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Blocking readers (measured in deploy/loadtest/README.md, "Blocking reads
// on a dedicated thread"). At a paced 20,000 q/s most wake-ups bring one
// to three datagrams, and waiting in Go's poller costs the runtime two
// epoll_pwait per wake-up besides recvmmsg and sendmmsg; gdnsd's threads
// sleep in recvmmsg itself. A blocking reader does the same: it serves a
// raw socket of its own (a twin of the Go socket, bound to the same
// address with SO_REUSEPORT, in blocking mode and never registered with
// the poller, where every arriving datagram would wake the thread waiting
// on epoll), and reads with recvmmsg(MSG_WAITFORONE) through
// syscall.Syscall6, so that the scheduler knows the thread is blocked. The
// Go socket leaves the port's selection at start (leaveReuseportGroup), so
// the twin gets its flows; when the reader stops, the twin is handed back
// as a *net.UDPConn for drain and shutdown, which work on it as on the Go
// sockets.
//
// A reader blocked in a system call keeps its P, so the process needs one
// P more than there are readers (udpSockets; glbd raises GOMAXPROCS by
// one): with none idle, sysmon would take the reader's P after 20 us in
// every call.

// A blocking reader sleeps in recvmmsg with no timeout, and stopReaders
// wakes it with shutdown(SHUT_RD) on its twin (wakeReaders): closing a
// socket does not wake a thread blocked reading it. A receive timeout
// (SO_RCVTIMEO) would do too, but arms and cancels a kernel timer on every
// sleep, which at a paced 20,000 q/s cost 2-9 % of the CPU per query
// (deploy/loadtest/README.md). A socket shut down for reading still queues
// what arrives and gives up what is queued; only a blocking read of an
// empty queue returns at once, with an empty datagram from no address.
// The twin is handed back in non-blocking mode, so drain reads it as any
// other socket.

// A blocking reader passes through the scheduler (runtime.Gosched) when
// blockingYieldAfter has gone by, on the clock its batches are read by,
// since it last did, or after blockingYieldEvery reads whatever that clock
// says (a test's clock may stand still). A goroutine that never yields is
// preempted by sysmon after 10 ms, its P taken away, which also sets
// sysmon back to waking every 20 us. Each pass costs two futex calls and
// two context switches (the runtime wakes a spinning thread for the idle
// P): going by time, not by a count of reads, makes about 125 of them a
// second at any load, where every 64 reads made 340 a second at
// saturation.
const (
	blockingYieldAfter = 8 * time.Millisecond
	blockingYieldEvery = 1024
)

// useBlockingReaders reports whether the UDP readers block in recvmmsg:
// only with a P to spare for everything else.
func useBlockingReaders() bool { return runtime.GOMAXPROCS(0) >= 2 }

// newTwin binds a blocking raw socket to c's address, in c's SO_REUSEPORT
// group, and takes c out of the group's selection.
func newTwin(c *net.UDPConn) (fd int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("udp socket %s: %w", c.LocalAddr(), err)
	}
	var sa unix.Sockaddr
	var serr error
	if err := errors.Join(rc.Control(func(f uintptr) { sa, serr = unix.Getsockname(int(f)) }), serr); err != nil {
		return -1, fmt.Errorf("udp socket %s: %w", c.LocalAddr(), err)
	}
	family, v6only := unix.AF_INET, 0
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
		// Dual stack or not, as Go made c.
		_ = rc.Control(func(f uintptr) { v6only, serr = unix.GetsockoptInt(int(f), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY) })
	}
	fd, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("udp socket %s: twin: %w", c.LocalAddr(), err)
	}
	if family == unix.AF_INET6 {
		err = errors.Join(serr, unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only))
	}
	if err == nil {
		err = errors.Join(unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1), noPMTU(fd, family == unix.AF_INET6))
	}
	if err == nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, udpReadBuffer)
		if err = unix.Bind(fd, sa); err == nil {
			err = leaveReuseportGroup(c)
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("udp socket %s: twin: %w", c.LocalAddr(), err)
	}
	return fd, nil
}

// reading notes fd as the twin of a running reader, for wakeReaders.
func (u *udpServer) reading(fd int) {
	u.twinMu.Lock()
	defer u.twinMu.Unlock()
	if u.readingTwins == nil {
		u.readingTwins = map[int]bool{}
	}
	u.readingTwins[fd] = true
}

// wakeReaders wakes the readers blocked in recvmmsg, stopping set: they
// return, see it, and stop. Under twinMu, so that no twin is closed (its
// number free to be reused) while it is shut down here.
func (u *udpServer) wakeReaders() {
	u.twinMu.Lock()
	defer u.twinMu.Unlock()
	for fd := range u.readingTwins {
		// An unconnected socket reports ENOTCONN, but is shut down and
		// its readers woken all the same.
		if err := unix.Shutdown(fd, unix.SHUT_RD); err != nil && err != unix.ENOTCONN && u.log != nil {
			u.log.Warn("udp reader not woken: it stops at its next datagram", "err", err)
		}
	}
}

// handBack wraps the twin fd, its reader gone, into a *net.UDPConn for
// drain and shutdown (in non-blocking mode, registered with the poller).
func (u *udpServer) handBack(fd int) {
	u.twinMu.Lock()
	delete(u.readingTwins, fd)
	u.twinMu.Unlock()
	f := os.NewFile(uintptr(fd), "udp") // blocking: not registered
	pc, err := net.FilePacketConn(f)
	f.Close()
	u.twinMu.Lock()
	defer u.twinMu.Unlock()
	if err != nil {
		if u.log != nil {
			u.log.Warn("udp socket lost: what is queued on it is not drained", "err", err)
		}
		return
	}
	if u.closed {
		pc.Close()
		return
	}
	u.twins = append(u.twins, pc.(*net.UDPConn))
}

// allConns are the Go sockets and the twins handed back.
func (u *udpServer) allConns() []*net.UDPConn {
	u.twinMu.Lock()
	defer u.twinMu.Unlock()
	return append(append([]*net.UDPConn(nil), u.conns...), u.twins...)
}

// serveBlocking reads and answers on the twin fd until stopping is set.
func (u *udpServer) serveBlocking(b *mmsgBatcher, fd uintptr) {
	var yielded time.Time
	for k := 0; !u.stopping.Load(); k++ {
		if k%blockingYieldEvery == blockingYieldEvery-1 || b.read.Sub(yielded) >= blockingYieldAfter {
			runtime.Gosched()
			yielded = b.read
		}
		n, errno := b.recvmmsgWait(fd)
		if errno != 0 || n == 0 {
			continue // an ICMP error surfacing
		}
		// Woken by wakeReaders, n is 1, an empty datagram, which gets no
		// reply; the datagrams read with it are answered as usual.
		u.answer(b, n)
		u.sent(b, b.flush(fd))
	}
}

// recvmmsgWait waits for at least one datagram, or wakeReaders, and reads
// what else is queued, up to batchSize.
func (b *mmsgBatcher) recvmmsgWait(fd uintptr) (int, syscall.Errno) {
	b.resetIn()
	for {
		n, _, errno := syscall.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.in[0])), uintptr(len(b.in)),
			unix.MSG_WAITFORONE, 0, 0)
		if errno != unix.EINTR {
			return b.received(n, errno)
		}
	}
}

// sendmmsgWait is sendmmsg waiting for room in the send buffer, on a
// socket in blocking mode.
func (b *mmsgBatcher) sendmmsgWait(fd, from uintptr) (int, syscall.Errno) {
	for {
		n, _, errno := syscall.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.out[from])),
			uintptr(b.nOut)-from, 0, 0, 0)
		if errno != unix.EINTR {
			return syscallCount(n, errno)
		}
	}
}
