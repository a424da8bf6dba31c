package server

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
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

// drainListener is a TCP listener that can drain its accept backlog and
// the connections it accepted before the DNS server stops.
type drainListener struct {
	*net.TCPListener

	draining   atomic.Bool
	accepting  atomic.Int32  // Accept calls under way, see closeAndFinish
	acceptIdle chan struct{} // closed when Accept has found the backlog empty while draining
	idleOnce   sync.Once
	closed     chan struct{} // closed by Close
	closeOnce  sync.Once

	mu    sync.Mutex
	conns map[*drainConn]struct{} // open accepted connections, to shorten their deadlines
	wg    sync.WaitGroup          // one per accepted connection until it is closed
}

func newDrainListener(ln *net.TCPListener) *drainListener {
	return &drainListener{
		TCPListener: ln,
		acceptIdle:  make(chan struct{}),
		closed:      make(chan struct{}),
		conns:       make(map[*drainConn]struct{}),
	}
}

// Accept waits for the next connection. While draining, it waits at most
// drainIdle; the first time nothing arrives it reports the backlog drained
// and then blocks until Close. Returning the timeout instead would make
// dns.Server retry at once (it is a temporary error) and spin.
func (l *drainListener) Accept() (net.Conn, error) {
	l.accepting.Add(1)
	defer l.accepting.Add(-1) // after the connection is in conns
	if l.draining.Load() {
		_ = l.SetDeadline(time.Now().Add(drainIdle))
	}
	c, err := l.AcceptTCP()
	if err != nil {
		// drain sets draining before its deadline, so a deadline error
		// always finds draining set.
		if l.draining.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
			l.idleOnce.Do(func() { close(l.acceptIdle) })
			<-l.closed
			return nil, net.ErrClosed
		}
		return nil, err
	}
	dc := &drainConn{TCPConn: c, l: l}
	l.mu.Lock()
	l.conns[dc] = struct{}{}
	l.mu.Unlock()
	l.wg.Add(1)
	return dc, nil
}

// Close closes the listener and releases an Accept blocked after draining.
func (l *drainListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.TCPListener.Close()
}

// drain stops waiting for TCP clients once the accept backlog and every
// accepted connection have been idle for drainIdle, or when ctx is done.
// The caller then shuts dns.Server down, which closes the listener.
func (l *drainListener) drain(ctx context.Context) {
	l.draining.Store(true)
	limit := time.Now().Add(drainIdle)
	// Wake an Accept or a read that is blocked without a short deadline;
	// from now on each Accept and read sets its own.
	_ = l.SetDeadline(limit)
	l.mu.Lock()
	for c := range l.conns {
		_ = c.TCPConn.SetReadDeadline(c.idleLimit(limit))
	}
	l.mu.Unlock()

	// Only wait for the connections once Accept has stopped: a Wait that
	// overlaps an Add from a new connection at count zero is a misuse of
	// sync.WaitGroup, and a connection accepted later would be missed.
	select {
	case <-l.acceptIdle:
	case <-ctx.Done():
		l.closeAndFinish()
		return
	}
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }() // ends once the server closes the connections
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// closeAndFinish ends a drain whose accept backlog never emptied (clients
// keep connecting; in a rolling restart the kernel keeps choosing this
// listener until it closes). It closes the listener first, which hands the
// backlog to the other listener on the port when the kernel migrates
// requests (net.ipv4.tcp_migrate_req=1; else it resets them, as any close
// would), then waits, for at most drainMax more, until the connections
// already accepted are done: the server's shutdown would otherwise cut
// those whose query it had not read yet. It polls the Accept calls under
// way and the set of connections: an Accept returning just as the
// listener closes may still add one, and a sync.WaitGroup must not be
// added to while it is waited on.
func (l *drainListener) closeAndFinish() {
	_ = l.Close()
	limit := time.Now().Add(drainMax)
	for time.Now().Before(limit) {
		l.mu.Lock()
		n := len(l.conns)
		l.mu.Unlock()
		if n == 0 && l.accepting.Load() == 0 {
			return
		}
		time.Sleep(drainIdle / 5)
	}
}

// drainConn is an accepted connection that counts itself out on Close and
// keeps its read deadline short while the listener drains.
type drainConn struct {
	*net.TCPConn
	l         *drainListener
	closeOnce sync.Once
	spoke     atomic.Bool // the client has sent something
}

// Read reads from the connection and notes that the client has spoken.
func (c *drainConn) Read(b []byte) (int, error) {
	n, err := c.TCPConn.Read(b)
	if n > 0 {
		c.spoke.Store(true)
	}
	return n, err
}

// idleLimit is limit, an idle deadline drainIdle from now, pushed to
// drainFirstQuery from now for a connection that has sent nothing yet.
func (c *drainConn) idleLimit(limit time.Time) time.Time {
	if !c.spoke.Load() {
		return limit.Add(drainFirstQuery - drainIdle)
	}
	return limit
}

// SetReadDeadline caps t at drainIdle from now while draining, so that
// dns.Server's per-read timeouts (seconds) cannot keep an idle connection
// open. The flag is checked after the set, so a drain starting meanwhile
// is never undone: either the check sees the flag, or drain's own short
// deadline lands after ours. Earlier deadlines (ShutdownContext's, in the
// past) pass unchanged.
func (c *drainConn) SetReadDeadline(t time.Time) error {
	err := c.TCPConn.SetReadDeadline(t)
	if c.l.draining.Load() {
		if limit := c.idleLimit(time.Now().Add(drainIdle)); t.IsZero() || t.After(limit) {
			err = c.TCPConn.SetReadDeadline(limit)
		}
	}
	return err
}

// SetDeadline sets both deadlines, the read one capped as in
// SetReadDeadline.
func (c *drainConn) SetDeadline(t time.Time) error {
	return errors.Join(c.TCPConn.SetWriteDeadline(t), c.SetReadDeadline(t))
}

// Close closes the connection and counts it out, once however often it is
// called.
func (c *drainConn) Close() error {
	err := c.TCPConn.Close()
	c.closeOnce.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		c.l.wg.Done()
	})
	return err
}
