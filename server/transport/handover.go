package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Draining is how a shutdown keeps the queries clients have already sent.
// Stopping with a read deadline in the past (what dns.Server's
// ShutdownContext does) fails a read even when data is waiting, so it drops
// the datagrams queued on a UDP socket, the connections in the TCP accept
// backlog and the queries already written on open TCP connections. Socket
// queues are FIFO, so once a queue is seen empty after the cancel,
// everything queued before the cancel has been read: draining keeps reading
// each queue until it has been idle for drainIdle, and only then stops.
const (
	// drainIdle is how long a queue must stay empty to count as drained:
	// long enough for a query sent just before the cancel to arrive, short
	// enough not to slow a shutdown down noticeably.
	drainIdle = 25 * time.Millisecond
	// drainMax bounds the drain when clients keep sending (a queue that is
	// never idle); what is still queued then is dropped.
	drainMax = 500 * time.Millisecond
	// drainFirstQuery replaces drainIdle for a TCP connection that has not
	// sent anything yet: a client writes its query right after connecting,
	// but on a busy machine it may take longer than drainIdle to be
	// scheduled, and closing the connection then loses the query.
	drainFirstQuery = 250 * time.Millisecond
	// drainAccept bounds how long a draining TCP listener whose backlog
	// never empties keeps accepting when the kernel does not migrate its
	// queue: it leaves drainFirstQuery of drainMax for the connections
	// accepted last to send their query.
	drainAccept = drainMax - drainFirstQuery
	// drainQueued is how long a draining TCP listener whose queue the
	// kernel migrates waits for a connection before closing: a system
	// call's worth, to take what is already queued and no more.
	drainQueued = time.Millisecond
)

// Handing a port over to the next glbd of a rolling restart.
//
// Both processes bind the port with SO_REUSEPORT, and the kernel hashes each
// flow to one socket of the group. A socket that is closed loses the
// datagrams queued on it, and under steady load its queue is never empty,
// so the old process must first stop the kernel from choosing its sockets.
// Connecting a UDP socket does that (verified on Linux 6.18 by
// TestKernelConnectLeavesReuseportSelection):
//
//   - a socket bound to an address and connected is TCP_ESTABLISHED, which
//     reuseport_select_sock_by_hash skips, and a connected socket only
//     matches datagrams from its peer;
//   - a wildcard-bound socket gets a local address from connect and is
//     rehashed out of the group;
//   - either way the datagrams already queued stay there to be read, and
//     the socket can still send to anyone.
//
// The peer is the socket's own address: nothing ever sends from it to it,
// since every socket on the port belongs to a glbd that only replies.

// kernelMigratesTCP reports whether the kernel moves the connections
// queued on a closing SO_REUSEPORT listener, and its handshakes under way,
// to another listener of the port (net.ipv4.tcp_migrate_req=1, Linux 5.14
// or later, per network namespace) instead of resetting them.
func kernelMigratesTCP() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_migrate_req")
	return err == nil && len(b) > 0 && b[0] == '1'
}

// leaveReuseportGroup takes c out of the kernel's selection for its port.
func leaveReuseportGroup(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("leave reuseport group: %w", err)
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		var sa unix.Sockaddr
		if sa, serr = unix.Getsockname(int(fd)); serr != nil {
			return
		}
		// A wildcard address is no peer; its loopback twin is, and it is
		// local, so nothing else sends from it.
		switch a := sa.(type) {
		case *unix.SockaddrInet4:
			if a.Addr == [4]byte{} {
				a.Addr = [4]byte{127, 0, 0, 1}
			}
		case *unix.SockaddrInet6:
			if a.Addr == [16]byte{} {
				a.Addr[15] = 1
			}
		}
		serr = unix.Connect(int(fd), sa)
	})
	if err = errors.Join(err, serr); err != nil {
		return fmt.Errorf("leave reuseport group: connect udp %s to itself: %w", c.LocalAddr(), err)
	}
	return nil
}

// drainSocket answers what is queued on c until the queue has been empty
// for drainIdle or ctx is done, and returns how many queries it answered
// and whether it saw the queue empty (false: ctx ended first, and what is
// still queued is lost at the close). It is the slow path of a shutdown:
// one system call per datagram.
//
// Each reply goes out from the address its query was sent to (IP_PKTINFO):
// a wildcard socket's local address became loopback at the connect, and a
// reply from there would not reach, or not be accepted by, a remote client.
func drainSocket(ctx context.Context, c *net.UDPConn, h PacketAnswerer) (answered int, emptied bool) {
	pc, err := newPktinfoConn(c)
	if err != nil {
		return 0, false
	}
	limit, _ := ctx.Deadline()
	in := make([]byte, maxUDPQuery)
	out := make([]byte, 0, 4096)
	for ctx.Err() == nil {
		d := time.Now().Add(drainIdle)
		atLimit := !limit.IsZero() && limit.Before(d)
		if atLimit {
			d = limit
		}
		_ = c.SetReadDeadline(d)
		n, dst, from, err := pc.read(in)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// Idle for drainIdle: drained. Idle only until the
				// limit: maybe not.
				return answered, !atLimit
			}
			if errors.Is(err, net.ErrClosed) {
				return answered, false
			}
			continue // an ICMP error surfacing on the socket: keep reading
		}
		reply, ok := h.AnswerPacket(out[:0], in[:n], from, false)
		if ok && len(reply) <= maxUDPReply && pc.write(reply, dst, from) == nil {
			answered++
		}
		if cap(reply) > cap(out) {
			out = reply[:0]
		}
	}
	return answered, false
}

// pktinfoConn reads datagrams with the address they were sent to and
// writes replies from a given address (IP_PKTINFO, IPV6_PKTINFO), over
// IPv4 or IPv6 (dual stack: an IPv4 destination comes as ::ffff:a.b.c.d,
// which the kernel takes back as source). golang.org/x/net/ipv6 does not
// marshal such a source, hence the control messages by hand.
type pktinfoConn struct {
	c   *net.UDPConn
	v6  bool
	oob []byte
}

func newPktinfoConn(c *net.UDPConn) (*pktinfoConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	p := &pktinfoConn{c: c, oob: make([]byte, 128)}
	var serr error
	err = rc.Control(func(fd uintptr) {
		var sa unix.Sockaddr
		if sa, serr = unix.Getsockname(int(fd)); serr != nil {
			return
		}
		_, p.v6 = sa.(*unix.SockaddrInet6)
		if p.v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		}
	})
	if err = errors.Join(err, serr); err != nil {
		return nil, fmt.Errorf("ask for packet info on %s: %w", c.LocalAddr(), err)
	}
	return p, nil
}

// read reads one datagram; dst is invalid when the kernel did not say.
func (p *pktinfoConn) read(b []byte) (n int, dst netip.Addr, from netip.AddrPort, err error) {
	n, oobn, _, from, err := p.c.ReadMsgUDPAddrPort(b, p.oob)
	if err != nil {
		return 0, dst, from, err
	}
	msgs, _ := unix.ParseSocketControlMessage(p.oob[:oobn])
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= unix.SizeofInet6Pktinfo:
			dst = netip.AddrFrom16([16]byte(m.Data[:16])) // in6_pktinfo: address, then interface
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo:
			dst = netip.AddrFrom4([4]byte(m.Data[8:12])) // in_pktinfo: interface, spec_dst, header destination
		}
	}
	return n, dst, from, nil
}

// write sends b to to, from the address src when it is valid.
func (p *pktinfoConn) write(b []byte, src netip.Addr, to netip.AddrPort) error {
	var oob []byte
	switch {
	case src.IsValid() && p.v6:
		oob = make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		a := src.As16()
		copy(oob[unix.CmsgLen(0):], a[:])
	case src.IsValid():
		oob = make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		a := src.Unmap().As4()
		copy(oob[unix.CmsgLen(0)+4:], a[:]) // spec_dst: the source to use
	}
	_, _, err := p.c.WriteMsgUDPAddrPort(b, oob, to)
	return err
}
