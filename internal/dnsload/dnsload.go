// Package dnsload sends DNS queries to one server over UDP or TCP and counts
// what comes back: sent, answered (by rcode), lost (and why) and latency.
// It is glb's one load generator: the rolling restart and handover tests,
// glbsoak and glbbench all run it, so a fix to how a reply is matched or a
// loss is counted reaches every number they report.
//
// A load is always bounded: by Count queries, by Duration, or both, and by
// its ctx. Two shapes cover every caller:
//   - closed loop (Rate 0): each worker has one query in flight, and sends
//     the next when the last is answered or lost; this is how the handover
//     tests keep every socket of a port busy;
//   - paced (Rate > 0): queries leave at an even rate whatever the replies
//     do, matched back by id (UDP) so a slow reply never holds up the pace;
//     this is how glbsoak and glbbench measure latency under a known load.
package dnsload

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Transports.
const (
	UDP = "udp"
	TCP = "tcp"
)

// DefaultTimeout is how long a query waits for its reply when
// Config.Timeout is zero.
const DefaultTimeout = time.Second

// Config describes one load. Zero fields take the defaults named on each.
type Config struct {
	// Server is the ip:port queried.
	Server string
	// Transport is UDP (default) or TCP.
	Transport string
	// Workers is how many sockets (UDP) or connections (TCP) send in
	// parallel; default 1. Each UDP worker has its own socket, so its own
	// flow: several reach every socket of a SO_REUSEPORT group.
	Workers int
	// Rate is the queries per second over all workers, paced evenly; 0
	// runs closed loop (one query in flight per worker).
	Rate float64
	// Count stops the load after this many queries; 0: no limit.
	Count int64
	// Duration stops sending after this long; 0: no limit. Count or
	// Duration must be set.
	Duration time.Duration
	// Timeout is how long a query waits for its reply before it is lost;
	// default DefaultTimeout.
	Timeout time.Duration
	// LateWindow is how long after its Timeout a UDP reply is still
	// recognised, and reported to OnReply as late, rather than ignored as
	// stray; default 0.
	LateWindow time.Duration
	// QueriesPerConn is how many queries a TCP connection carries before a
	// new one is opened; default 1, a connection per query, as a resolver
	// falling back to TCP does.
	QueriesPerConn int
	// Query returns the i-th query, packed; its id is overwritten. tag is
	// handed back in the Reply. Required.
	Query func(i int64) (wire []byte, tag any, err error)
	// OnReply, if set, is called once per query with its outcome (twice for
	// a late UDP reply: lost, then late). Calls overlap: it must be safe
	// for concurrent use.
	OnReply func(Reply)
}

// Reply is the outcome of one query.
type Reply struct {
	Index   int64     // i of Config.Query
	Tag     any       // Config.Query's tag
	Sent    time.Time // when it was written
	Latency time.Duration
	// Msg is the raw reply, valid only during the call; nil when lost.
	Msg []byte
	// Late is set on a UDP reply that came after Timeout (within
	// LateWindow); the query was already reported lost.
	Late bool
	// Err says why there is no reply: ErrTimeout, or the transport's error.
	Err error
}

// ErrTimeout is a Reply's Err when no reply came within Timeout.
var ErrTimeout = errors.New("no reply within the timeout")

// Stats are a load's counters so far; Load.Stats reads them while it runs.
type Stats struct {
	Sent     int64 // queries written, or attempted (a failed TCP dial counts)
	Answered int64 // replies to a query of ours, any rcode, within Timeout
	NoError  int64 // of Answered, those with rcode NOERROR
	Lost     int64 // queries without a reply within Timeout
}

// Result is what a finished load saw.
type Result struct {
	Stats
	// Rcodes counts Answered by rcode.
	Rcodes map[int]int64
	// Failures counts Lost by kind: timeout, refused, reset, eof, write,
	// dial, other.
	Failures map[string]int64
	// Late counts UDP replies after Timeout, within LateWindow.
	Late int64
	// Stray counts replies matching no query in flight (duplicates, or
	// beyond LateWindow).
	Stray int64
	// Latencies of the answered queries, sorted.
	Latencies []time.Duration
	// Elapsed is the time from the first send to the end of sending.
	Elapsed time.Duration
}

// Percentile is the nearest-rank percentile (p in 0..100) of Latencies, 0
// when there are none.
func (r *Result) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	k := int(p/100*float64(n) + 0.999999)
	return r.Latencies[min(max(k, 1), n)-1]
}

// Load is one load generator. Run it once.
type Load struct {
	cfg Config

	sent, answered, noError, lost atomic.Int64
	next                          atomic.Int64 // the next query index

	start time.Time // Run's start

	mu       sync.Mutex
	sendEnd  time.Duration // after start, when the last worker stopped sending
	rcodes   map[int]int64
	failures map[string]int64
	late     int64
	stray    int64
	lat      []time.Duration
}

// New checks cfg and returns its Load.
func New(cfg Config) (*Load, error) {
	switch cfg.Transport {
	case "":
		cfg.Transport = UDP
	case UDP, TCP:
	default:
		return nil, fmt.Errorf("dnsload: transport %q: want udp or tcp", cfg.Transport)
	}
	if _, err := netip.ParseAddrPort(cfg.Server); err != nil {
		return nil, fmt.Errorf("dnsload: server %q: want ip:port: %w", cfg.Server, err)
	}
	if cfg.Count <= 0 && cfg.Duration <= 0 {
		return nil, errors.New("dnsload: unbounded load: set Count or Duration")
	}
	if cfg.Query == nil {
		return nil, errors.New("dnsload: Query is required")
	}
	if cfg.Rate < 0 {
		return nil, fmt.Errorf("dnsload: rate %g: want 0 (closed loop) or more", cfg.Rate)
	}
	cfg.Workers = max(cfg.Workers, 1)
	cfg.QueriesPerConn = max(cfg.QueriesPerConn, 1)
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Load{cfg: cfg, rcodes: map[int]int64{}, failures: map[string]int64{}}, nil
}

// Stats returns the counters so far; it is safe while Run runs.
func (l *Load) Stats() Stats {
	return Stats{Sent: l.sent.Load(), Answered: l.answered.Load(), NoError: l.noError.Load(), Lost: l.lost.Load()}
}

// Run sends until Count queries are sent, Duration has passed or ctx is
// done, waits for the replies still due, and returns what it saw. Its error
// is one that stops the load (a socket that cannot be opened, a query that
// cannot be built); lost queries are counted, not errors.
func (l *Load) Run(ctx context.Context) (Result, error) {
	if l.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.cfg.Duration)
		defer cancel()
	}
	l.start = time.Now()
	var wg sync.WaitGroup
	errs := make([]error, l.cfg.Workers)
	for w := range l.cfg.Workers {
		p := l.pacer(w)
		wg.Go(func() {
			if l.cfg.Transport == TCP {
				errs[w] = l.runTCP(ctx, p)
			} else {
				errs[w] = l.runUDP(ctx, p)
			}
		})
	}
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.lat)
	res := Result{Stats: l.Stats(), Rcodes: l.rcodes, Failures: l.failures, Late: l.late, Stray: l.stray,
		Latencies: l.lat, Elapsed: l.sendEnd}
	return res, errors.Join(errs...)
}

// stoppedSending notes that a worker sent its last query.
func (l *Load) stoppedSending() {
	d := time.Since(l.start)
	l.mu.Lock()
	l.sendEnd = max(l.sendEnd, d)
	l.mu.Unlock()
}

// take returns the index of the next query, or false when Count are sent.
func (l *Load) take() (int64, bool) {
	i := l.next.Add(1) - 1
	return i, l.cfg.Count <= 0 || i < l.cfg.Count
}

// pacer is one worker's schedule: in a paced load it waits for the worker's
// next slot; closed loop, it only checks ctx.
type pacer struct {
	period time.Duration // 0: closed loop
	next   time.Time
}

func (l *Load) pacer(w int) *pacer {
	if l.cfg.Rate <= 0 {
		return &pacer{}
	}
	period := time.Duration(float64(time.Second) * float64(l.cfg.Workers) / l.cfg.Rate)
	// Workers are staggered across one period, so together they are even.
	return &pacer{period: period, next: l.start.Add(period * time.Duration(w) / time.Duration(l.cfg.Workers))}
}

// wait blocks until the next slot and reports false when ctx ended first.
func (p *pacer) wait(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if p.period == 0 {
		return true
	}
	d := time.Until(p.next)
	p.next = p.next.Add(p.period)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// answer counts a reply with rcode and latency and reports it.
func (l *Load) answer(r Reply, rcode int) {
	l.answered.Add(1)
	if rcode == 0 {
		l.noError.Add(1)
	}
	l.mu.Lock()
	l.rcodes[rcode]++
	l.lat = append(l.lat, r.Latency)
	l.mu.Unlock()
	if l.cfg.OnReply != nil {
		l.cfg.OnReply(r)
	}
}

// fail counts a lost query by kind and reports it.
func (l *Load) fail(r Reply) {
	l.lost.Add(1)
	l.mu.Lock()
	l.failures[Failure(r.Err)]++
	l.mu.Unlock()
	if l.cfg.OnReply != nil {
		l.cfg.OnReply(r)
	}
}

// build returns query i with id.
func (l *Load) build(i int64, id uint16) ([]byte, any, error) {
	wire, tag, err := l.cfg.Query(i)
	if err != nil {
		return nil, nil, fmt.Errorf("dnsload: build query %d: %w", i, err)
	}
	if len(wire) < 12 {
		return nil, nil, fmt.Errorf("dnsload: query %d: %d bytes, shorter than a header", i, len(wire))
	}
	wire = slices.Clone(wire)
	wire[0], wire[1] = byte(id>>8), byte(id)
	return wire, tag, nil
}
