package dnsload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// runTCP asks one query at a time over a connection, opening a new one
// after QueriesPerConn queries and after any error.
func (l *Load) runTCP(ctx context.Context, p *pacer) error {
	defer l.stoppedSending()
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	var onConn int
	buf := make([]byte, 65535)
	for id := uint16(0); p.wait(ctx); id++ {
		i, ok := l.take()
		if !ok {
			return nil
		}
		wire, tag, err := l.build(i, id)
		if err != nil {
			return err
		}
		if conn != nil && onConn >= l.cfg.QueriesPerConn {
			conn.Close()
			conn = nil
		}
		l.sent.Add(1)
		r := Reply{Index: i, Tag: tag, Sent: time.Now()}
		if conn == nil {
			c, err := net.DialTimeout("tcp", l.cfg.Server, l.cfg.Timeout)
			if err != nil {
				r.Err = err
				l.fail(r)
				continue
			}
			conn, onConn = c, 0
		}
		onConn++
		n, err := exchange(conn, r.Sent.Add(l.cfg.Timeout), wire, buf)
		if err != nil {
			// No retry: the query is lost, and the connection with it.
			r.Err = err
			l.fail(r)
			conn.Close()
			conn = nil
			continue
		}
		r.Latency, r.Msg = time.Since(r.Sent), buf[:n]
		l.answer(r, int(buf[3]&0xf))
	}
	return nil
}

// errWrongID is the error of a TCP reply that answers another query.
var errWrongID = errors.New("reply to another query id")

// exchange writes one framed query and reads its framed reply into buf.
func exchange(conn net.Conn, deadline time.Time, wire, buf []byte) (int, error) {
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(wire))), wire...)); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(conn, buf[:2]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(buf))
	if _, err := io.ReadFull(conn, buf[:n]); err != nil {
		return 0, err
	}
	if n < 12 || buf[0] != wire[0] || buf[1] != wire[1] {
		return 0, fmt.Errorf("%w (%d bytes)", errWrongID, n)
	}
	return n, nil
}

// Failure names the kind of a lost query's error, which says where it was
// lost: timeout, refused (no listener), reset (a closed listener's queue,
// or a connection closed with the query unread), eof (closed before the
// answer), bad_reply (another query's), other.
func Failure(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, errWrongID):
		return "bad_reply"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}
