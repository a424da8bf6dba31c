package health

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/store/schema"
)

// waitTimeout bounds every wait in these tests. It is generous because
// nothing sleeps on it: it only turns a hang into a failure.
const waitTimeout = 5 * time.Second

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkCall is one call of fakeChecker.Check, held until the test answers.
type checkCall struct {
	t     Target
	reply chan func() Result
}

// answer makes the call return r.
func (c *checkCall) answer(r Result) { c.reply <- func() Result { return r } }

// fakeChecker hands every Check call to the test, per target key, and
// returns what the test answers; a call returns early if its ctx ends. It
// counts concurrent calls per key.
type fakeChecker struct {
	mu        sync.Mutex
	calls     map[string]chan *checkCall
	active    map[string]int
	maxActive map[string]int
}

func newFakeChecker() *fakeChecker {
	return &fakeChecker{calls: map[string]chan *checkCall{}, active: map[string]int{}, maxActive: map[string]int{}}
}

func (f *fakeChecker) ch(key string) chan *checkCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.calls[key]
	if !ok {
		c = make(chan *checkCall)
		f.calls[key] = c
	}
	return c
}

func (f *fakeChecker) Check(ctx context.Context, t Target) Result {
	k := t.Key()
	f.mu.Lock()
	f.active[k]++
	f.maxActive[k] = max(f.maxActive[k], f.active[k])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active[k]--
		f.mu.Unlock()
	}()
	c := &checkCall{t: t, reply: make(chan func() Result, 1)}
	select {
	case f.ch(k) <- c:
	case <-ctx.Done():
		return Result{Err: ctx.Err()}
	}
	select {
	case r := <-c.reply:
		return r()
	case <-ctx.Done():
		return Result{Err: ctx.Err()}
	}
}

// next waits for the next call for key.
func (f *fakeChecker) next(t *testing.T, key string) *checkCall {
	t.Helper()
	select {
	case c := <-f.ch(key):
		return c
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for a check of %s", key)
		return nil
	}
}

func (f *fakeChecker) max(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxActive[key]
}

// pubEvent is one call of fakePublisher.
type pubEvent struct {
	op       string // "publish" or "withdraw"
	region   string
	endpoint string
	rep      schema.HealthReport
}

// fakePublisher records calls and fails Publish while err is set.
type fakePublisher struct {
	mu     sync.Mutex
	events []pubEvent
	err    error
}

func (f *fakePublisher) Publish(_ context.Context, region, endpoint string, r schema.HealthReport) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.events = append(f.events, pubEvent{"publish", region, endpoint, r})
	return nil
}

func (f *fakePublisher) Withdraw(_ context.Context, region, endpoint string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, pubEvent{op: "withdraw", region: region, endpoint: endpoint})
	return nil
}

func (f *fakePublisher) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakePublisher) all() []pubEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pubEvent(nil), f.events...)
}

// fakeTicker ticks when the test fires it; like time.Ticker it holds one
// tick and drops the rest.
type fakeTicker struct {
	ch      chan time.Time
	stopped atomic.Bool
}

func (f *fakeTicker) C() <-chan time.Time { return f.ch }
func (f *fakeTicker) Stop()               { f.stopped.Store(true) }

func (f *fakeTicker) fire() {
	select {
	case f.ch <- time.Time{}:
	default:
	}
}

// fakeTickers makes fakeTickers and finds them by interval: tests give
// their targets distinct intervals to tell the loops' tickers apart.
type fakeTickers struct {
	mu   sync.Mutex
	byIv map[time.Duration]*fakeTicker // the latest made for each interval
	all  []*fakeTicker
}

func (f *fakeTickers) New(d time.Duration) Ticker {
	f.mu.Lock()
	defer f.mu.Unlock()
	tk := &fakeTicker{ch: make(chan time.Time, 1)}
	if f.byIv == nil {
		f.byIv = map[time.Duration]*fakeTicker{}
	}
	f.byIv[d] = tk
	f.all = append(f.all, tk)
	return tk
}

// get returns the latest ticker of interval d. Loops make their ticker
// before their first check, so after a loop's first call it is there.
func (f *fakeTickers) get(t *testing.T, d time.Duration) *fakeTicker {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	tk := f.byIv[d]
	if tk == nil {
		t.Fatalf("no ticker of interval %s", d)
	}
	return tk
}

func (f *fakeTickers) allStopped() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tk := range f.all {
		if !tk.stopped.Load() {
			return false
		}
	}
	return true
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logBuffer collects log text from concurrent loops.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how many lines contain every one of subs.
func (l *logBuffer) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.SplitSeq(l.b.String(), "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}

// harness is a Prober wired to fakes and running.
type harness struct {
	p       *Prober
	chk     *fakeChecker
	pub     *fakePublisher
	tk      *fakeTickers
	clock   *fakeClock
	m       *Metrics
	reg     *prometheus.Registry // m's
	logs    *logBuffer
	pending map[string]*checkCall // the call each loop is blocked in
}

// startProber sets ts before Run, as cmd/glbprobe may, and runs the
// prober until the test ends. The clock stands still unless moved.
func startProber(t *testing.T, refresh time.Duration, ts ...Target) *harness {
	t.Helper()
	h := &harness{
		chk:     newFakeChecker(),
		pub:     &fakePublisher{},
		tk:      &fakeTickers{},
		clock:   &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		reg:     prometheus.NewPedanticRegistry(),
		logs:    &logBuffer{},
		pending: map[string]*checkCall{},
	}
	h.m = NewMetrics(h.reg)
	h.p = NewProber(ProberConfig{
		ID:        "p1",
		Checker:   h.chk,
		Publisher: h.pub,
		Logger:    slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:   h.m,
		Now:       h.clock.Now,
		Refresh:   refresh,
		NewTicker: h.tk.New,
	})
	h.p.SetTargets(ts)
	errc := make(chan error, 1)
	go func() { errc <- h.p.Run(context.Background()) }()
	t.Cleanup(func() {
		h.p.Close()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
		if !h.tk.allStopped() {
			t.Error("a ticker was not stopped")
		}
	})
	return h
}

// call returns the check tg's loop is in, waiting for it if need be.
func (h *harness) call(t *testing.T, tg Target) *checkCall {
	t.Helper()
	c := h.pending[tg.Key()]
	if c == nil {
		c = h.chk.next(t, tg.Key())
	}
	delete(h.pending, tg.Key())
	return c
}

// feed answers tg's checks with rs in turn, firing its ticker after each,
// and returns the verdict and the number of publishes after each result.
// They are read once the next check has begun, when the loop has done all
// it does for the previous one: no sleeps.
func (h *harness) feed(t *testing.T, tg Target, rs ...Result) (ups []bool, pubs []int) {
	t.Helper()
	for _, r := range rs {
		h.call(t, tg).answer(r)
		h.tk.get(t, time.Duration(tg.Check.Interval)).fire()
		h.pending[tg.Key()] = h.chk.next(t, tg.Key())
		ups = append(ups, h.p.Verdicts()[tg.Key()].Up)
		pubs = append(pubs, len(h.pub.all()))
	}
	return ups, pubs
}

// tgt is a target whose interval also names its fake ticker.
func tgt(region, addr string, iv time.Duration, rise, fall int) Target {
	return Target{Region: region, Endpoint: netip.MustParseAddr(addr), Check: schema.Check{
		Type: "tcp", Port: 9, Interval: schema.Duration(iv), Timeout: schema.Duration(time.Second), Rise: rise, Fall: fall,
	}}
}

var (
	ok   = Result{OK: true, RTT: 10 * time.Millisecond}
	fail = Result{Err: errors.New("connect 192.0.2.1:9: connection refused")}
)
