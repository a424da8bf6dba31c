package server

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glb-dns/glb/internal/crash"
)

const (
	// tcpReadBuf is a connection's read buffer: room for a few dozen
	// pipelined queries; a longer message gets a buffer of its own.
	tcpReadBuf = 4096
	// tcpFlushAt is how many bytes of replies are gathered before a write
	// while answering a batch of pipelined queries.
	tcpFlushAt = 16 << 10
	// maxTCPMessage is the most a 2-byte length prefix can announce.
	maxTCPMessage = 65535
	// maxLinger bounds how long a connection closed after its last answer
	// waits for the client to read the answers and close (see linger).
	maxLinger = time.Second
)

// tcpConn is one accepted connection. The fields after key are guarded by
// the server's mu.
type tcpConn struct {
	c      *net.TCPConn
	remote netip.AddrPort
	key    netip.Prefix // clientKey(remote)
	// expires is when MaxConnLifetime has passed: the connection is
	// closed after the first batch of answers it writes from then on.
	expires time.Time

	// spoke is set once the client has sent something: until then a
	// drain waits drainFirstQuery for it rather than drainIdle. Atomic:
	// drain reads it from its own goroutine.
	spoke atomic.Bool

	released   bool     // its slot is given back (closed or evicted)
	idle       bool     // on the idle list
	prev, next *tcpConn // idle list links
}

// tcpBufs are a connection's buffers, pooled across connections so that a
// steady stream of short connections allocates no buffers either.
type tcpBufs struct {
	in  []byte // read buffer; len is its usable size
	out []byte // replies being gathered
}

func (s *tcpServer) getBufs() *tcpBufs {
	if b, ok := s.bufs.Get().(*tcpBufs); ok {
		return b
	}
	return &tcpBufs{in: make([]byte, tcpReadBuf), out: make([]byte, 0, tcpReadBuf)}
}

// putBufs keeps ordinary-sized buffers only: one huge query or answer
// should not pin 64 KiB in the pool.
func (s *tcpServer) putBufs(b *tcpBufs) {
	if len(b.in) != tcpReadBuf || cap(b.out) > 4*tcpFlushAt {
		return
	}
	b.out = b.out[:0]
	s.bufs.Put(b)
}

// serveConn runs one connection to its end and gives its slot back.
func (s *tcpServer) serveConn(tc *tcpConn) {
	defer s.wg.Done()
	reason := closePanic
	defer func() {
		if v := recover(); v != nil {
			crash.Record(s.log, s.m.loopPanics, "panic serving a tcp connection", v)
		}
		// Counted out before the close, so that a client that sees the
		// close sees the metrics already updated.
		s.mu.Lock()
		s.releaseLocked(tc, reason)
		delete(s.conns, tc)
		s.mu.Unlock()
		_ = tc.c.Close()
	}()
	reason = s.serveQueries(tc)
}

// serveQueries reads length-framed queries and answers each, in order,
// until the connection has to close; it returns why. Queries that arrive
// together (pipelined) are answered together, with one write.
//
// Timeouts: waiting for a new query, the connection is idle and may wait
// IdleTimeout (and be evicted); once a query's first byte is in, the whole
// query must arrive within IOTimeout, however slowly it trickles; each
// write must complete within IOTimeout.
func (s *tcpServer) serveQueries(tc *tcpConn) string {
	b := s.getBufs()
	defer s.putBufs(b)
	c, in := tc.c, b.in
	start, end := 0, 0 // in[start:end] is read and not yet answered
	answered := 0
	for {
		if start == end {
			start, end = 0, 0
			if !s.setIdle(tc, true) {
				return closeEvicted
			}
			s.readDeadline(tc, time.Now().Add(s.lim.IdleTimeout), true)
			n, err := c.Read(in)
			// A read whose deadline passed before it ran (a goroutine
			// starved for drainIdle on a loaded machine) fails without
			// looking at the socket; while draining, that would drop
			// queries already sent, so look before giving up.
			for n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && s.draining.Load() && !s.stopping.Load() && dataWaiting(c) {
				s.readDeadline(tc, tc.drainLimit(time.Now()), true)
				n, err = c.Read(in)
			}
			if !s.setIdle(tc, false) {
				return closeEvicted
			}
			if n == 0 {
				if s.draining.Load() && !tc.spoke.Load() {
					s.drainSilent.Add(1)
				}
				return s.readFailed(err, true)
			}
			if !tc.spoke.Load() {
				tc.spoke.Store(true)
			}
			end = n
			s.readDeadline(tc, time.Now().Add(s.lim.IOTimeout), false)
		} else {
			// The rest of a message whose start is in: make room for
			// it and read more under the deadline it already has.
			need := 2
			if end-start >= 2 {
				need += int(binary.BigEndian.Uint16(in[start:]))
			}
			if need > len(in) {
				bigger := make([]byte, 2+maxTCPMessage)
				end = copy(bigger, in[start:end])
				start, in = 0, bigger
			} else if start+need > len(in) {
				end = copy(in, in[start:end])
				start = 0
			}
			n, err := c.Read(in[end:])
			if n == 0 {
				return s.readFailed(err, false)
			}
			end += n
		}

		out := b.out[:0]
		began := start
		for end-start >= 2 {
			l := int(binary.BigEndian.Uint16(in[start:]))
			if l < 12 {
				// Shorter than a header: nothing to answer, and the
				// framing cannot be trusted past it.
				_ = s.write(c, out)
				return closeMalformed
			}
			if end-start < 2+l {
				break
			}
			pkt := in[start+2 : start+2+l]
			mark := len(out)
			reply, ok := s.h.AnswerPacket(append(out, 0, 0), pkt, tc.remote, true)
			if !ok {
				// A response, or a header we ignore: a client that
				// sends those is not speaking DNS to us.
				_ = s.write(c, out[:mark])
				return closeMalformed
			}
			if len(reply)-mark-2 > maxTCPMessage {
				reply, _ = servFail(reply[:mark+2], pkt)
			}
			binary.BigEndian.PutUint16(reply[mark:], uint16(len(reply)-mark-2))
			out = reply
			start += 2 + l
			if answered++; answered >= s.lim.MaxQueries {
				if err := s.write(c, out); err != nil {
					return s.writeFailed(err)
				}
				s.linger(c, in)
				return closeLimit
			}
			if len(out) >= tcpFlushAt {
				if err := s.write(c, out); err != nil {
					return s.writeFailed(err)
				}
				out = out[:0]
			}
		}
		if cap(out) > cap(b.out) {
			b.out = out[:0] // it grew: keep the bigger buffer
		}
		if err := s.write(c, out); err != nil {
			return s.writeFailed(err)
		}
		if start != began && time.Now().After(tc.expires) {
			// A query boundary past the lifetime: every query read
			// whole is answered and its reply written; a message begun
			// after them is dropped, and the client sends it again on
			// a new connection (RFC 7766 §6.2.3).
			s.linger(c, in)
			return closeLifetime
		}
		if start != began && start != end {
			// The leftover is a new message, begun in the last read.
			// Its IOTimeout runs from now: the time spent writing
			// the replies before it was ours, not the client's.
			s.readDeadline(tc, time.Now().Add(s.lim.IOTimeout), false)
		}
	}
}

// drainLimit is how long, from now, a drain waits for tc's next query:
// drainIdle, or drainFirstQuery while the client has sent nothing.
func (tc *tcpConn) drainLimit(now time.Time) time.Time {
	if !tc.spoke.Load() {
		return now.Add(drainFirstQuery)
	}
	return now.Add(drainIdle)
}

// write sends out, if anything, within IOTimeout.
func (s *tcpServer) write(c *net.TCPConn, out []byte) error {
	if len(out) == 0 {
		return nil
	}
	_ = c.SetWriteDeadline(time.Now().Add(s.lim.IOTimeout))
	_, err := c.Write(out)
	return err
}

// readFailed says why a read ended the connection; idle is whether it was
// waiting for a new query.
func (s *tcpServer) readFailed(err error, idle bool) string {
	switch {
	case errors.Is(err, io.EOF):
		return closeClient
	case s.stopping.Load() || errors.Is(err, net.ErrClosed):
		return closeShutdown
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !idle {
			return closeIOTimeout
		}
		if s.draining.Load() {
			return closeShutdown
		}
		return closeIdle
	}
	return closeError
}

func (s *tcpServer) writeFailed(err error) string {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return closeWriteTimeout
	case s.stopping.Load() || errors.Is(err, net.ErrClosed):
		return closeShutdown
	}
	return closeError
}

// linger closes our side after the last answer and waits, briefly, for
// the client to close its own. Closing at once with queries still unread
// (a client that pipelined past MaxQueries) would send a reset, and a
// reset can destroy answers the client has not read yet.
func (s *tcpServer) linger(c *net.TCPConn, scratch []byte) {
	_ = c.CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(min(s.lim.IOTimeout, maxLinger)))
	for {
		if _, err := c.Read(scratch); err != nil {
			return
		}
	}
}

// dataWaiting reports whether bytes are queued on c, without reading them
// or waiting. It clears c's read deadline: the caller sets a new one.
func dataWaiting(c *net.TCPConn) bool {
	_ = c.SetReadDeadline(time.Time{}) // a passed deadline fails even a raw read
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var b [1]byte
	waiting := false
	_ = rc.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		waiting = n > 0 && err == nil
		return true // never wait for readiness
	})
	return waiting
}
