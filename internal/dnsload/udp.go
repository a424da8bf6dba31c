package dnsload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// inflight is a UDP query waiting for its reply.
type inflight struct {
	i    int64
	tag  any
	sent time.Time
	lost bool          // reported lost; kept until LateWindow passes
	done chan struct{} // closed loop: closed when answered
}

// udpWorker is one UDP socket: the sender writes, one reader matches the
// replies by id.
type udpWorker struct {
	l    *Load
	conn net.Conn

	mu      sync.Mutex
	pending map[uint16]*inflight
}

// runUDP sends from one socket until the load ends, then waits for the
// replies still due (Timeout, then LateWindow) and closes the socket.
func (l *Load) runUDP(ctx context.Context, p *pacer) error {
	conn, err := net.Dial("udp", l.cfg.Server)
	if err != nil {
		return fmt.Errorf("dnsload: dial udp %s: %w", l.cfg.Server, err)
	}
	if uc, ok := conn.(*net.UDPConn); ok && p.period > 0 {
		_ = uc.SetReadBuffer(1 << 20) // a paced load has many replies in flight
	}
	u := &udpWorker{l: l, conn: conn, pending: map[uint16]*inflight{}}
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		u.receive()
	}()
	err = u.send(ctx, p)
	l.stoppedSending()
	// The last queries get their full chance, late ones included.
	end := time.Now().Add(l.cfg.Timeout + l.cfg.LateWindow)
	for u.waiting() > 0 && time.Now().Before(end) {
		time.Sleep(10 * time.Millisecond)
		u.sweep(time.Now())
	}
	u.sweep(end.Add(time.Second)) // whatever is left is lost
	conn.Close()
	<-recvDone
	return err
}

// send writes queries until the load ends.
func (u *udpWorker) send(ctx context.Context, p *pacer) error {
	l := u.l
	var id uint16
	for p.wait(ctx) {
		i, ok := l.take()
		if !ok {
			return nil
		}
		u.mu.Lock()
		for u.pending[id] != nil { // an id still awaiting its reply is not reused
			id++
		}
		u.mu.Unlock()
		wire, tag, err := l.build(i, id)
		if err != nil {
			return err
		}
		// Complete before the reader can see it.
		q := &inflight{i: i, tag: tag, sent: time.Now()}
		if p.period == 0 {
			q.done = make(chan struct{})
		}
		u.mu.Lock()
		u.pending[id] = q
		u.mu.Unlock()
		l.sent.Add(1)
		if _, err := u.conn.Write(wire); err != nil {
			u.mu.Lock()
			delete(u.pending, id)
			u.mu.Unlock()
			l.fail(Reply{Index: i, Tag: tag, Sent: q.sent, Err: fmt.Errorf("write: %w", err)})
		} else if q.done != nil {
			u.await(id, q)
		}
		id++
		u.sweep(time.Now())
	}
	return nil
}

// await waits, closed loop, for q's reply or its timeout.
func (u *udpWorker) await(id uint16, q *inflight) {
	t := time.NewTimer(time.Until(q.sent.Add(u.l.cfg.Timeout)))
	defer t.Stop()
	select {
	case <-q.done:
	case <-t.C:
		u.sweep(time.Now())
	}
}

// waiting is how many queries are still remembered.
func (u *udpWorker) waiting() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.pending)
}

// sweep reports the queries unanswered past Timeout as lost, and forgets
// those past LateWindow too.
func (u *udpWorker) sweep(now time.Time) {
	l := u.l
	var lost []*inflight
	u.mu.Lock()
	for id, q := range u.pending {
		age := now.Sub(q.sent)
		if !q.lost && age > l.cfg.Timeout {
			q.lost = true
			lost = append(lost, q)
		}
		if age > l.cfg.Timeout+l.cfg.LateWindow {
			delete(u.pending, id)
		}
	}
	u.mu.Unlock()
	for _, q := range lost {
		l.fail(Reply{Index: q.i, Tag: q.tag, Sent: q.sent, Err: ErrTimeout})
	}
}

// receive matches replies to queries until the socket is closed.
func (u *udpWorker) receive() {
	l := u.l
	buf := make([]byte, 65535)
	for {
		n, err := u.conn.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		recv := time.Now()
		if err != nil {
			continue // ICMP port unreachable while a server restarts: the sweep counts the loss
		}
		if n < 12 {
			u.stray()
			continue
		}
		id := uint16(buf[0])<<8 | uint16(buf[1])
		u.mu.Lock()
		q := u.pending[id]
		if q != nil {
			delete(u.pending, id)
		}
		u.mu.Unlock()
		if q == nil {
			u.stray()
			continue
		}
		r := Reply{Index: q.i, Tag: q.tag, Sent: q.sent, Latency: recv.Sub(q.sent), Msg: buf[:n]}
		switch {
		case q.lost || r.Latency > l.cfg.Timeout:
			if !q.lost { // the sweep has not seen it yet
				l.fail(Reply{Index: q.i, Tag: q.tag, Sent: q.sent, Err: ErrTimeout})
			}
			r.Late = true
			l.mu.Lock()
			l.late++
			l.mu.Unlock()
			if l.cfg.OnReply != nil {
				l.cfg.OnReply(r)
			}
		default:
			l.answer(r, int(buf[3]&0xf))
		}
		if q.done != nil {
			close(q.done)
		}
	}
}

func (u *udpWorker) stray() {
	u.l.mu.Lock()
	u.l.stray++
	u.l.mu.Unlock()
}
