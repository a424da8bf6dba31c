package main

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// loadResult is what one load worker saw.
type loadResult struct {
	sent, answered int // queries written / answered
	// lostBefore counts queries whose write completed before the cancel and
	// that got no answer: the number graceful shutdown must keep at zero.
	lostBefore int
	lostAfter  int // the same for writes that completed after the cancel (allowed)
	firstErr   error
}

// loadWorker sends queries one at a time over one UDP socket or one TCP
// connection until it has sent max, it sees the cancel flag (it then sends
// at most one more query), or the connection fails. A query counts as sent
// before the cancel when the flag was still clear after its write returned,
// which is conservative: the cancel cannot have happened before that read.
func loadWorker(network, addr string, max int, cancelled *atomic.Bool, answered *atomic.Int64) loadResult {
	var res loadResult
	const replyTimeout = time.Second
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	var dc *dns.Conn
	q := new(dns.Msg)
	q.SetQuestion("www."+zone, dns.TypeA)
	q.SetEdns0(1232, false)
	q.IsEdns0().Option = append(q.IsEdns0().Option, ecsOpt("81.2.69.0/24"))
	for i := 0; i < max; i++ {
		// The server closes a TCP connection after -tcp-max-queries
		// (1000 by default), so a new one is opened every 100, which
		// also keeps the accept backlog in play.
		if conn == nil || (network == "tcp" && i%100 == 0) {
			if conn != nil {
				conn.Close()
			}
			var err error
			conn, err = net.DialTimeout(network, addr, time.Second)
			if err != nil {
				break // the listener is closed: nothing was sent
			}
			dc = &dns.Conn{Conn: conn}
		}
		wasCancelled := cancelled.Load()
		q.Id = dns.Id()
		if err := dc.WriteMsg(q); err != nil {
			break // the server closed the connection: nothing was sent
		}
		before := !cancelled.Load()
		res.sent++
		_ = conn.SetReadDeadline(time.Now().Add(replyTimeout))
		m, err := dc.ReadMsg()
		for err == nil && m.Id != q.Id { // a late reply to an earlier query (UDP)
			m, err = dc.ReadMsg()
		}
		switch {
		case err == nil:
			res.answered++
			answered.Add(1)
		case before:
			res.lostBefore++
			if res.firstErr == nil {
				res.firstErr = err
			}
		default:
			res.lostAfter++
		}
		if err != nil || wasCancelled {
			break
		}
	}
	return res
}

// TestGracefulShutdown runs a steady load over UDP and TCP, cancels glbd's
// context (what SIGTERM and SIGINT do) in the middle of it, and checks that
// Run returns without error well within the shutdown deadline, every
// worker finishes (nothing hangs on a half-closed connection), and every
// query whose write completed before the cancel was answered: the server
// drains its socket queues before it stops.
func TestGracefulShutdown(t *testing.T) {
	r := launch(t, Config{Etcd: seededEtcd(t).Endpoints()})
	t.Cleanup(func() { r.stop(t) })
	waitReady(t, r.a)
	addr := r.a.dnsAddr()

	const workers, perWorker = 4, 5000 // per transport; the cancel comes long before perWorker
	var cancelled atomic.Bool
	var answered atomic.Int64
	results := make([]loadResult, 2*workers)
	var wg sync.WaitGroup
	for i := range 2 * workers {
		network := "udp"
		if i%2 == 1 {
			network = "tcp"
		}
		wg.Go(func() { results[i] = loadWorker(network, addr, perWorker, &cancelled, &answered) })
	}
	waitFor(t, 5*time.Second, "load running", func() bool { return answered.Load() >= 400 })
	cancelled.Store(true)
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	wg.Wait()

	var sent, ans, lostBefore, lostAfter int
	var errs []error
	for i, res := range results {
		sent += res.sent
		ans += res.answered
		lostBefore += res.lostBefore
		lostAfter += res.lostAfter
		if res.lostBefore > 0 {
			errs = append(errs, res.firstErr)
			t.Logf("worker %d (%s): %d sent before the cancel got no answer: %v", i, []string{"udp", "tcp"}[i%2], res.lostBefore, res.firstErr)
		}
	}
	t.Logf("shutdown took %s; %d queries sent, %d answered, %d unanswered sent before the cancel, %d unanswered sent after it",
		took, sent, ans, lostBefore, lostAfter)
	if lostBefore > 0 {
		t.Errorf("%d queries sent before the cancel got no answer: %v", lostBefore, errors.Join(errs...))
	}
	if ans == 0 || sent-ans != lostBefore+lostAfter {
		t.Errorf("%d sent, %d answered, %d + %d lost: the counts do not add up", sent, ans, lostBefore, lostAfter)
	}
	if took > 2*time.Second {
		t.Errorf("shutdown took %s with no slow queries in flight", took)
	}
}
