package health

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/internal/crash"
	"github.com/glb-dns/glb/internal/lifecycle"
	"github.com/glb-dns/glb/store/schema"
)

// DefaultRefresh is how often a prober re-publishes a verdict that has not
// changed. It must stay well under schema.MaxReportAge, after which readers
// ignore a report.
const DefaultRefresh = 30 * time.Second

// publishTimeout bounds one Publish or Withdraw, so that a sick etcd delays
// a loop's next check by at most this much.
const publishTimeout = 5 * time.Second

// ProberConfig configures a Prober. Checker and Publisher are required.
type ProberConfig struct {
	ID        string           // prober id, for logs
	Checker   Checker          // runs the checks
	Publisher Publisher        // stores the verdicts
	Logger    *slog.Logger     // default: discard
	Metrics   *Metrics         // default: registered with a private registry
	Now       func() time.Time // default time.Now
	// Refresh is how often an unchanged verdict is re-published, keeping its
	// RTT and time current; default DefaultRefresh. It is measured at
	// checks, so an interval longer than Refresh publishes every check.
	Refresh time.Duration
	// NewTicker makes each loop's ticker; default wraps time.NewTicker.
	// Tests pass a fake to fire checks by hand.
	NewTicker func(d time.Duration) Ticker
}

// Ticker is the part of time.Ticker a probe loop uses.
type Ticker interface {
	// C delivers the ticks.
	C() <-chan time.Time
	// Stop turns the ticker off.
	Stop()
}

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Prober checks every target in its own goroutine, turns results into
// verdicts with rise/fall hysteresis, and publishes them. Targets can change
// at any time with SetTargets; the loops run while Run runs.
type Prober struct {
	checker   Checker
	pub       Publisher
	log       *slog.Logger
	m         *Metrics
	now       func() time.Time
	refresh   time.Duration
	newTicker func(time.Duration) Ticker

	mu       sync.Mutex
	targets  map[string]Target // wanted, by key
	loops    map[string]*loop  // the latest loop of each key, until it exits
	verdicts map[string]schema.HealthReport
	runCtx   context.Context // Run's context while it runs, else nil
	wg       sync.WaitGroup  // the loops

	life *lifecycle.Lifecycle
}

// loop is one target's check goroutine.
type loop struct {
	t      Target
	parent context.Context // Run's context, for the Withdraw after ctx is cancelled
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// removed, guarded by Prober.mu, makes the loop withdraw its verdict as
	// it exits: the target is gone, not merely re-specified.
	removed bool
}

// NewProber returns a Prober with no targets.
func NewProber(cfg ProberConfig) *Prober {
	p := &Prober{
		checker:   cfg.Checker,
		pub:       cfg.Publisher,
		log:       cfg.Logger,
		m:         cfg.Metrics,
		now:       cfg.Now,
		refresh:   cfg.Refresh,
		newTicker: cfg.NewTicker,
		targets:   map[string]Target{},
		loops:     map[string]*loop{},
		verdicts:  map[string]schema.HealthReport{},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "prober", "prober", cfg.ID)
	if p.m == nil {
		p.m = NewMetrics(prometheus.NewRegistry())
	}
	p.life = lifecycle.New(lifecycle.Config{Name: "prober", Logger: p.log, Panics: p.m.panics})
	if p.now == nil {
		p.now = time.Now
	}
	if p.refresh <= 0 {
		p.refresh = DefaultRefresh
	}
	if p.newTicker == nil {
		p.newTicker = func(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }
	}
	return p
}

// SetTargets replaces the set of targets. It may be called at any time from
// any goroutine. While Run runs, it starts loops for new targets, stops the
// loops of removed ones (which then withdraw their verdicts) and restarts a
// loop whose check spec changed, whose first result then decides the
// verdict anew; before Run, the set is remembered.
func (p *Prober) SetTargets(ts []Target) {
	want := make(map[string]Target, len(ts))
	for _, t := range ts {
		want[t.Key()] = t
		p.m.addRegion(t.Region)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, old := range p.targets {
		t, keep := want[k]
		if keep && t == old {
			continue
		}
		if l := p.loops[k]; l != nil {
			l.removed = !keep
			l.cancel()
		}
		if !keep {
			delete(p.verdicts, k)
			p.m.endpointUp.DeleteLabelValues(old.Region, schema.EndpointKey(old.Endpoint))
		}
	}
	for k, t := range want {
		if old, ok := p.targets[k]; ok && old == t {
			continue
		}
		if p.runCtx != nil {
			p.startLocked(t)
		}
	}
	p.targets = want
	p.m.targets.Set(float64(len(want)))
}

// Verdicts returns the current verdict on every target that has one, by
// Target.Key.
func (p *Prober) Verdicts() map[string]schema.HealthReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.verdicts)
}

// Run runs a loop per target until ctx is done or Close is called, then
// stops them, waits for them and returns nil. It returns an error only if
// it is already running or has run, or if a panic was recovered.
func (p *Prober) Run(ctx context.Context) error {
	return p.life.Run(ctx, func(ctx context.Context) error {
		p.mu.Lock()
		p.runCtx = ctx
		for _, t := range p.targets {
			p.startLocked(t)
		}
		p.mu.Unlock()
		// Deferred, so that a panic above still stops and waits for the
		// loops. With runCtx cleared no SetTargets can start a loop, so no
		// wg.Add can race the Wait.
		defer func() {
			p.mu.Lock()
			p.runCtx = nil
			p.mu.Unlock()
			p.wg.Wait()
		}()
		<-ctx.Done()
		return nil
	})
}

// Close stops Run and every loop, and waits for them. A Prober cannot be
// run again after Close. Verdicts are not withdrawn: the publisher's lease
// removes them when the prober goes away.
func (p *Prober) Close() {
	_ = p.life.Close() // a stop timeout is logged by lifecycle
}

// startLocked starts t's loop. A new loop waits for the key's previous one
// to exit first, so that a stale verdict (or a Withdraw) cannot land in the
// store after the new loop's first Publish.
func (p *Prober) startLocked(t Target) {
	ctx, cancel := context.WithCancel(p.runCtx)
	l := &loop{t: t, parent: p.runCtx, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	var prev <-chan struct{}
	if old := p.loops[t.Key()]; old != nil {
		prev = old.done
	}
	p.loops[t.Key()] = l
	p.wg.Add(1)
	go p.run(l, prev)
}

// run is a loop's goroutine: one check at once, then one per tick. Checks
// of a target never overlap, since the next tick is read only after a check
// is done, and time.Ticker drops the ticks a slow check misses rather than
// bunching them.
func (p *Prober) run(l *loop, prev <-chan struct{}) {
	defer p.wg.Done()
	defer close(l.done)
	if prev != nil {
		<-prev // prompt: the previous loop was cancelled
	}
	defer p.exit(l)
	iv := time.Duration(l.t.Check.Interval)
	if iv <= 0 {
		iv = schema.DefaultCheckInterval
	}
	tick := p.newTicker(iv)
	defer tick.Stop()
	var s loopState
	for {
		if l.ctx.Err() != nil {
			return
		}
		p.step(l, &s)
		select {
		case <-l.ctx.Done():
			return
		case <-tick.C():
		}
	}
}

// exit forgets a finished loop and, if its target was removed, withdraws
// its verdict. At shutdown (Run's context done) nothing is withdrawn.
func (p *Prober) exit(l *loop) {
	p.mu.Lock()
	if p.loops[l.t.Key()] == l {
		delete(p.loops, l.t.Key())
	}
	removed := l.removed
	p.mu.Unlock()
	if !removed || l.parent.Err() != nil {
		return
	}
	defer p.recoverPanic(l)
	ctx, cancel := context.WithTimeout(l.parent, publishTimeout)
	defer cancel()
	if err := p.pub.Withdraw(ctx, l.t.Region, schema.EndpointKey(l.t.Endpoint)); err != nil {
		p.m.publishErrors.Inc()
		p.log.Warn("withdraw verdict", "region", l.t.Region, "endpoint", schema.EndpointKey(l.t.Endpoint), "err", err)
	}
}

// loopState is what a loop remembers between checks.
type loopState struct {
	h       hysteresis
	rtt     time.Duration // of the last successful check
	lastErr string        // of the last failed check

	published      bool      // a verdict has been published
	publishedUp    bool      // the last verdict published
	publishedAt    time.Time // the time of the last report published
	publishFailing bool      // the last Publish failed (and was logged)
	publishedLoad  *float64  // the load of the last report published
	loadErr        string    // the last load error logged, "" when the load was read
}

// step runs one check and acts on its result. A panic (in the checker, the
// publisher or here) is recovered and counted, and the loop goes on at its
// next tick.
func (p *Prober) step(l *loop, s *loopState) {
	defer p.recoverPanic(l)
	t := l.t
	endpoint := schema.EndpointKey(t.Endpoint)
	start := p.now()
	res := p.checker.Check(l.ctx, t)
	end := p.now()
	if l.ctx.Err() != nil {
		return // stopped mid-check: the result says nothing about the endpoint
	}
	p.m.duration.WithLabelValues(t.Check.Type).Observe(end.Sub(start).Seconds())
	if res.OK {
		p.m.checks.WithLabelValues(t.Region, "ok").Inc()
		s.rtt = res.RTT
	} else {
		p.m.checks.WithLabelValues(t.Region, "fail").Inc()
		s.lastErr = errText(res.Err)
	}
	wasKnown := s.h.known
	changed := s.h.observe(res.OK, t.Check.Rise, t.Check.Fall)
	rep := schema.HealthReport{Up: s.h.up, RTT: schema.Duration(s.rtt), Time: end, Load: res.Load}
	if !rep.Up {
		rep.Error = s.lastErr
	}
	p.noteLoadErr(l, s, res)

	p.mu.Lock()
	if l.ctx.Err() != nil {
		// Removed or replaced during the check: SetTargets has already
		// dropped this target's verdict and gauge.
		p.mu.Unlock()
		return
	}
	p.verdicts[t.Key()] = rep
	p.m.endpointUp.WithLabelValues(t.Region, endpoint).Set(boolFloat(rep.Up))
	p.mu.Unlock()

	if changed {
		// A first verdict of up is the expected case and, at start-up, one
		// line per endpoint: keep it out of Info. A first down and every
		// later flip are what an operator wants to see.
		level := slog.LevelInfo
		if !wasKnown && rep.Up {
			level = slog.LevelDebug
		}
		p.log.Log(l.ctx, level, "endpoint verdict changed", "region", t.Region, "endpoint", endpoint, "up", rep.Up, "err", rep.Error)
	}
	if !s.published || s.publishedUp != rep.Up || rep.Time.Sub(s.publishedAt) >= p.refresh || loadChanged(s.publishedLoad, rep.Load) {
		p.publish(l, s, rep)
	}
}

// publish stores rep. A failure is counted and logged once until publishing
// works again; it is retried at the next check (the verdict is still due)
// and, after a reconnect, the store's publisher re-publishes on its own, so
// no queue is kept here.
func (p *Prober) publish(l *loop, s *loopState, rep schema.HealthReport) {
	ctx, cancel := context.WithTimeout(l.ctx, publishTimeout)
	defer cancel()
	endpoint := schema.EndpointKey(l.t.Endpoint)
	if err := p.pub.Publish(ctx, l.t.Region, endpoint, rep); err != nil {
		if l.ctx.Err() != nil {
			return
		}
		p.m.publishErrors.Inc()
		if !s.publishFailing {
			s.publishFailing = true
			p.log.Warn("publish verdict", "region", l.t.Region, "endpoint", endpoint, "err", err)
		}
		return
	}
	if s.publishFailing {
		s.publishFailing = false
		p.log.Info("publishing verdicts again", "region", l.t.Region, "endpoint", endpoint)
	}
	s.published, s.publishedUp, s.publishedAt, s.publishedLoad = true, rep.Up, rep.Time, rep.Load
}

func (p *Prober) recoverPanic(l *loop) {
	if r := recover(); r != nil {
		crash.Record(p.log, p.m.panics, "probe loop panicked", r, "region", l.t.Region, "endpoint", schema.EndpointKey(l.t.Endpoint))
	}
}

// errText is a failure's report text, cut to what a report may carry.
func errText(err error) string {
	if err == nil {
		return "check failed"
	}
	s := err.Error()
	if len(s) > schema.MaxErrorBytes {
		// Cutting may split a rune; drop its remains.
		s = strings.ToValidUTF8(s[:schema.MaxErrorBytes-3], "") + "..."
	}
	return s
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
