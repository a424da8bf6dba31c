// Package lifecycle is the Run/Close contract that every long-lived owner
// of a goroutine in glb keeps (STYLE.md convention 15), written once: the
// GeoIP reloader, the store watcher and publisher, the health prober and
// the dnstap writer each embed a Lifecycle instead of hand-writing the same
// mutex, cancel func and done channel.
//
// The contract, in the manner of etcd's concurrency.Session (Orphan cancels,
// then waits on donec) and Caddy's active health checker:
//   - Run runs once. A second Run, while the first runs or after it
//     returned, is refused with ErrAlreadyRun; a Run after Close returns nil
//     at once without running anything.
//   - Run returns only when its ctx is cancelled or Close is called (or when
//     the owner's body gives up with an error).
//   - Close cancels Run's context and waits for Run to return. It is
//     idempotent, safe before Run, and bounded: after StopTimeout it stops
//     waiting, logs at Error and returns ErrStopTimeout, so a stuck
//     goroutine shows up in the log instead of hanging shutdown for ever.
//   - A panic at the root of Run's goroutine is recovered, logged with its
//     stack and counted through internal/crash, and Run returns it as an
//     error: one bug costs the owner, not the process.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/internal/crash"
)

// DefaultStopTimeout is how long Close waits for Run to return when
// Config.StopTimeout is zero. Every owner's shutdown is bounded well below
// it (a lease revoke waits 2s, a dnstap flush its Timeout); reaching it
// means a bug, and systemd's stop timeout (90s) must not be what ends it.
const DefaultStopTimeout = 15 * time.Second

// Errors of Run and Close, checked with errors.Is.
var (
	// ErrAlreadyRun is Run's error when the Lifecycle has run, or runs.
	ErrAlreadyRun = errors.New("already running")
	// ErrStopTimeout is Close's error when Run did not return in time.
	ErrStopTimeout = errors.New("did not stop in time")
)

// Config names the owner and says where its panics go. Zero fields take the
// defaults named on each.
type Config struct {
	// Name is the owner in the operator's words ("store watcher"); errors
	// read "run <Name>: …" and the panic log line "<Name> panicked".
	Name string
	// Logger receives the panic and stop-timeout lines; default discard.
	Logger *slog.Logger
	// Panics counts recovered panics; default crash.Counter(nil, Name), a
	// counter exported nowhere.
	Panics prometheus.Counter
	// StopTimeout bounds Close's wait; default DefaultStopTimeout.
	StopTimeout time.Duration
}

// state is where a Lifecycle is in its one life.
type state int

const (
	idle    state = iota // before Run and Close
	running              // Run has started its body
	ended                // Run's body has returned
)

// Lifecycle runs one owner's body once and stops it on Close. The zero
// value is not usable; make one with New.
type Lifecycle struct {
	cfg Config

	mu     sync.Mutex
	st     state
	closed bool
	cancel context.CancelFunc
	done   chan struct{} // closed when the body has returned
}

// New returns a Lifecycle for the owner cfg names.
func New(cfg Config) *Lifecycle {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Panics == nil {
		cfg.Panics = crash.Counter(nil, cfg.Name)
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	return &Lifecycle{cfg: cfg, done: make(chan struct{})}
}

// Run calls body on the calling goroutine with a context that ends when
// ctx does or when Close is called, and returns body's error. body must
// return once its context is done. A panic in body is recovered, logged,
// counted and returned as an error. Run returns nil at once after Close,
// and ErrAlreadyRun (wrapped) when called a second time.
func (l *Lifecycle) Run(ctx context.Context, body func(ctx context.Context) error) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return nil
	case l.st != idle:
		l.mu.Unlock()
		return fmt.Errorf("run %s: %w", l.cfg.Name, ErrAlreadyRun)
	}
	l.st, l.cancel = running, cancel
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.st = ended
		l.mu.Unlock()
		close(l.done)
	}()
	defer func() {
		if p := recover(); p != nil {
			crash.Record(l.cfg.Logger, l.cfg.Panics, l.cfg.Name+" panicked", p)
			err = fmt.Errorf("run %s: panic: %v", l.cfg.Name, p)
		}
	}()
	return body(ctx)
}

// Close stops Run and waits for it to return, at most StopTimeout. Before
// Run it only marks the Lifecycle closed, so that a later Run returns at
// once: an owner that must finish something whether or not it ran (a
// writer flushing its queue) does so after Close, guarded by a sync.Once
// that its body also uses. Close is idempotent; a Lifecycle cannot run
// again after it.
func (l *Lifecycle) Close() error {
	l.mu.Lock()
	l.closed = true
	st, cancel := l.st, l.cancel
	l.mu.Unlock()
	if st == idle {
		return nil
	}
	cancel()
	t := time.NewTimer(l.cfg.StopTimeout)
	defer t.Stop()
	select {
	case <-l.done:
		return nil
	case <-t.C:
		l.cfg.Logger.Error(l.cfg.Name+" did not stop; giving up waiting", "timeout_seconds", l.cfg.StopTimeout.Seconds())
		return fmt.Errorf("close %s: %w after %s", l.cfg.Name, ErrStopTimeout, l.cfg.StopTimeout)
	}
}

// Every calls f every d until ctx is done (never after), from the calling
// goroutine, and stops its ticker on the way out: the body of most polling
// owners. A slow f delays the next call rather than bunching calls
// (time.Ticker drops the ticks it misses).
func Every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// select picks at random between ready cases: a tick that
			// came with the cancel must not call f once more.
			if ctx.Err() != nil {
				return
			}
			f()
		}
	}
}
