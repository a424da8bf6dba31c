package transport

import (
	"context"
	"time"
)

// The end of a tcpServer: read deadlines that shorten while it drains,
// drain (a rolling restart hands the port over) and shutdown.

// readDeadline sets tc's read deadline to t, shortened while the server
// drains (idle waits only: a query already arriving keeps its IOTimeout)
// or stops. The flags are checked after the set, so a drain or shutdown
// starting meanwhile is never undone: either the check sees the flag, or
// their own deadline lands after ours.
func (s *tcpServer) readDeadline(tc *tcpConn, t time.Time, idle bool) {
	_ = tc.c.SetReadDeadline(t)
	if s.stopping.Load() {
		_ = tc.c.SetReadDeadline(time.Now())
		return
	}
	if idle && s.draining.Load() {
		if limit := tc.drainLimit(time.Now()); t.After(limit) {
			_ = tc.c.SetReadDeadline(limit)
		}
	}
}

// drain answers what clients have already sent and gives the port up to
// the other listeners on it (the next glbd of a rolling restart), in that
// order of concern:
//
//  1. The listener closes as soon as possible. Until it does, the kernel
//     keeps choosing it for a share of the new connections (SO_REUSEPORT
//     hashes each to one listener of the port), and under steady load its
//     backlog is never empty; at the close, the connections in the backlog
//     and the handshakes under way are moved to another listener when the
//     kernel migrates requests (net.ipv4.tcp_migrate_req=1), and reset
//     otherwise. So with migration drain takes only what is queued at
//     once (for a last process, which has no one to hand it to) and
//     closes; without, it accepts until the backlog has been empty for
//     drainIdle, for at most drainAccept, and closes: what arrived since
//     is lost either way, and waiting longer saves nothing.
//  2. The connections accepted are answered until each has been idle for
//     drainIdle, or drainFirstQuery for one that has not sent its query
//     yet (its client may not have been scheduled since connecting), or
//     until ctx; shutdown then closes what is left.
func (s *tcpServer) drain(ctx context.Context) {
	start := time.Now()
	migrates := s.migrates()
	wait, acceptFor := drainIdle, drainAccept
	if migrates {
		wait, acceptFor = drainQueued, drainIdle
	}
	s.acceptWait.Store(int64(wait))
	s.draining.Store(true)
	// Wake an Accept and idle reads blocked without a short deadline;
	// from now on each sets its own.
	_ = s.ln.SetDeadline(time.Now().Add(wait))
	s.mu.Lock()
	for tc := s.idleHead; tc != nil; tc = tc.next {
		_ = tc.c.SetReadDeadline(tc.drainLimit(time.Now()))
	}
	s.mu.Unlock()
	t := time.NewTimer(acceptFor)
	busy := false
	select {
	case <-s.acceptIdle:
	case <-s.acceptDone:
	case <-t.C:
		busy = true
	case <-ctx.Done():
		busy = true
	}
	t.Stop()
	_ = s.ln.Close()
	// Wait for the connections only once Accept has returned, so that no
	// wg.Add can overlap the Wait.
	<-s.acceptDone
	closed := time.Since(start)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }() // ends at the latest when shutdown closes the connections
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.mu.Lock()
	left := s.open
	s.mu.Unlock()
	s.log.Info("tcp drained", "migrate", migrates, "backlog_busy", busy,
		"listener_closed_after_seconds", closed.Seconds(), "accepted", s.drainAccepted.Load(),
		"closed_silent", s.drainSilent.Load(), "cut", left)
}

// shutdown stops accepting and reading: each connection finishes the
// replies in hand, then closes. After ctx, the rest are closed hard.
func (s *tcpServer) shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	close(s.stopc)
	_ = s.ln.Close()
	<-s.acceptDone // no wg.Add after this
	s.mu.Lock()
	for tc := range s.conns {
		_ = tc.c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for tc := range s.conns {
		_ = tc.c.Close() // unblocks a write to a client that does not read
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}
