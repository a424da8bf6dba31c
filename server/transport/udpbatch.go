package transport

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgBatcher reads and writes one UDP socket's datagrams in batches with
// recvmmsg and sendmmsg, called directly on the socket, IPv4 or IPv6 alike.
//
// Measured at a paced 20,000 q/s with the server on one CPU (see
// deploy/loadtest/README.md), most of glbd's CPU per query went to what
// surrounds the answer, not to the answer; this type removes three costs:
//
//   - Waking the runtime's monitor thread. A system call made the usual way
//     (syscall.Syscall, what golang.org/x/net uses) tells the scheduler it
//     may block; when the process was idle, the monitor thread (sysmon) was
//     asleep and is woken by a futex, then polls every 20 us for a while:
//     two context switches or more per wake-up of the reader, on the one
//     CPU the server has. recvmmsg and sendmmsg on a non-blocking socket
//     (MSG_DONTWAIT) never block, so they are made as raw system calls.
//   - The empty read. The reader used to read until the queue was empty
//     (EAGAIN) before waiting, one wasted recvmmsg per wake-up. A read that
//     returns fewer than batchSize datagrams has emptied the queue; every
//     datagram queued after it wakes the poller again (the socket is
//     registered edge-triggered, and the readiness flag is only cleared when
//     the wait consumes it), so the reader waits at once. The whole loop
//     runs inside one RawConn.Read call, because starting a new one clears
//     that flag.
//   - Allocations: x/net's ReadBatch allocates a net.UDPAddr per datagram
//     and WriteBatch a socket address per reply. Here the senders' addresses
//     are read into, and the replies sent to, preallocated raw sockaddrs.
type mmsgBatcher struct {
	rc syscall.RawConn
	a  BatchAnswerer // this reader's
	// in are the headers recvmmsg fills: datagram i in inBuf[i], its
	// sender in names[i] (an IPv4 one in the first bytes, as a
	// RawSockaddrInet4).
	in    []unix.Mmsghdr
	inIov []unix.Iovec
	inBuf [][]byte
	names []unix.RawSockaddrInet6
	// filled is how many headers of in the last read filled.
	filled int
	// out are the headers of the replies queued for sendmmsg, nOut of
	// them; reply i is built in outBuf[i].
	out    []unix.Mmsghdr
	outIov []unix.Iovec
	outBuf [][]byte
	nOut   int
	// write sends from the writeFrom-th reply on, setting written and
	// writeErr, for the rare wait for room in the send buffer: a closure
	// made once instead of per wait.
	write     func(fd uintptr) bool
	writeFrom uintptr
	written   int
	writeErr  syscall.Errno
	// blocking: the socket is a blocking reader's twin, not known to the
	// poller; flush waits for room in a blocking sendmmsg.
	blocking bool
	// read is when the batch in hand was read.
	read time.Time
}

func newMmsgBatcher(c *net.UDPConn) (*mmsgBatcher, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udp socket %s: %w", c.LocalAddr(), err)
	}
	b := &mmsgBatcher{rc: rc,
		in: make([]unix.Mmsghdr, batchSize), inIov: make([]unix.Iovec, batchSize), inBuf: make([][]byte, batchSize),
		names: make([]unix.RawSockaddrInet6, batchSize),
		out:   make([]unix.Mmsghdr, batchSize), outIov: make([]unix.Iovec, batchSize), outBuf: make([][]byte, batchSize)}
	for i := range batchSize {
		b.inBuf[i] = make([]byte, maxUDPQuery)
		b.inIov[i].Base = &b.inBuf[i][0]
		b.inIov[i].SetLen(maxUDPQuery)
		h := &b.in[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &b.inIov[i]
		h.SetIovlen(1)
		b.outBuf[i] = make([]byte, 0, 4096)
		b.out[i].Hdr.Iov = &b.outIov[i]
		b.out[i].Hdr.SetIovlen(1)
	}
	b.write = func(fd uintptr) bool {
		b.written, b.writeErr = b.sendmmsg(fd, b.writeFrom)
		return b.writeErr != unix.EAGAIN
	}
	return b, nil
}

// recvmmsg reads up to batchSize queued datagrams without waiting.
func (b *mmsgBatcher) recvmmsg(fd uintptr) (int, syscall.Errno) {
	b.resetIn()
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.in[0])), uintptr(len(b.in)),
			unix.MSG_DONTWAIT, 0, 0)
		if errno != unix.EINTR {
			return b.received(n, errno)
		}
	}
}

// resetIn readies the read headers for the next recvmmsg: only those the
// last read filled, since the kernel writes back the address length and
// flags only for a datagram it returns. Resetting all batchSize of them
// would write 32 cache lines per read, where a read at a paced rate
// returns two or three datagrams.
func (b *mmsgBatcher) resetIn() {
	for i := range b.filled {
		b.in[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.in[i].Hdr.Flags = 0
	}
	b.filled = 0
}

// packet returns datagram i of the last read and its sender.
func (b *mmsgBatcher) packet(i int) ([]byte, netip.AddrPort) {
	return b.inBuf[i][:b.in[i].Len], sockaddrAddrPort(&b.names[i], b.in[i].Hdr.Namelen)
}

// sockaddrAddrPort converts a raw socket address to a netip.AddrPort
// without allocating; an IPv6 zone (a link-local sender's interface) is
// left out, the reply goes back through the raw address anyway.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6, n uint32) netip.AddrPort {
	switch {
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), netPort(sa4.Port))
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), netPort(sa.Port))
	}
	return netip.AddrPort{}
}

// netPort reads a port stored in network byte order.
func netPort(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// outBuffer is the buffer to build reply i in.
func (b *mmsgBatcher) outBuffer(i int) []byte { return b.outBuf[i][:0] }

// reply queues reply i (ok false: none) to datagram i's sender.
func (b *mmsgBatcher) reply(i int, reply []byte, ok bool) {
	if !ok || len(reply) == 0 || len(reply) > maxUDPReply {
		return
	}
	if cap(reply) > cap(b.outBuf[i]) {
		b.outBuf[i] = reply[:0] // it grew: keep the bigger buffer
	}
	iov := &b.outIov[b.nOut]
	iov.Base = &reply[0]
	iov.SetLen(len(reply))
	h := &b.out[b.nOut].Hdr
	h.Name, h.Namelen = b.in[i].Hdr.Name, b.in[i].Hdr.Namelen
	b.nOut++
}

// flush sends the queued replies and returns how many there were. A reply
// that fails (its client is gone) is skipped, not the rest of the batch;
// with the send buffer full it waits for room through the poller, as a
// blocking write would.
func (b *mmsgBatcher) flush(fd uintptr) (queued int) {
	queued = b.nOut
	for sent := 0; sent < b.nOut; {
		n, errno := b.sendmmsg(fd, uintptr(sent))
		if errno == unix.EAGAIN && b.blocking {
			n, errno = b.sendmmsgWait(fd, uintptr(sent))
		} else if errno == unix.EAGAIN {
			b.writeFrom = uintptr(sent)
			if b.rc.Write(b.write) != nil {
				break // closed
			}
			n, errno = b.written, b.writeErr
		}
		if errno != 0 || n == 0 {
			n++
		}
		sent += n
	}
	b.nOut = 0
	return queued
}

// sendmmsg sends the queued replies from the from-th on, without waiting.
func (b *mmsgBatcher) sendmmsg(fd, from uintptr) (int, syscall.Errno) {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.out[from])),
			uintptr(b.nOut)-from, unix.MSG_DONTWAIT, 0, 0)
		if errno != unix.EINTR {
			return syscallCount(n, errno)
		}
	}
}

// received notes how many headers a recvmmsg filled and returns its count.
func (b *mmsgBatcher) received(n uintptr, errno syscall.Errno) (int, syscall.Errno) {
	count, errno := syscallCount(n, errno)
	b.filled = count
	return count, errno
}

// syscallCount is the count a system call returned: 0 when it failed,
// where the raw result is -1.
func syscallCount(n uintptr, errno syscall.Errno) (int, syscall.Errno) {
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}
