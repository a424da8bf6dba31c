package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// owner is a Lifecycle with a body that records what happened to it.
type owner struct {
	l       *Lifecycle
	logs    *bytes.Buffer // written by Run before it returns, or by Close: read after both
	panics  prometheus.Counter
	calls   atomic.Int32  // times the body was entered
	started chan struct{} // closed when the body is entered
	stopped atomic.Bool   // set by the body just before it returns
	release chan struct{} // a stuck body waits for it
	cancel  context.CancelFunc
	runErr  chan error
}

// Bodies the cases run.
type body int

const (
	untilDone body = iota // returns when ctx is done, after some shutdown work
	panics                // panics at once
	stuck                 // ignores ctx until released
)

func newOwner(stopTimeout time.Duration) *owner {
	o := &owner{
		logs:    &bytes.Buffer{},
		panics:  prometheus.NewCounter(prometheus.CounterOpts{Name: "panics_total", Help: "test"}),
		started: make(chan struct{}),
		release: make(chan struct{}),
		runErr:  make(chan error, 2),
	}
	o.l = New(Config{Name: "test owner", Logger: slog.New(slog.NewTextHandler(o.logs, nil)), Panics: o.panics, StopTimeout: stopTimeout})
	return o
}

// run starts Run with body b in its own goroutine; its error goes to runErr.
func (o *owner) run(b body) {
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	go func() {
		o.runErr <- o.l.Run(ctx, func(ctx context.Context) error {
			if o.calls.Add(1) == 1 {
				close(o.started)
			}
			switch b {
			case panics:
				panic("boom")
			case stuck:
				<-o.release
			default:
				<-ctx.Done()
				// Shutdown work that Close must wait for.
				time.Sleep(20 * time.Millisecond)
			}
			o.stopped.Store(true)
			return nil
		})
	}()
}

func (o *owner) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-o.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the body never started")
	}
}

func (o *owner) wantRun(t *testing.T, want string) {
	t.Helper()
	select {
	case err := <-o.runErr:
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("Run = %v, want %q", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name string
		// script drives o and checks what only it can know; the table's
		// other fields are checked after it.
		script      func(t *testing.T, o *owner)
		calls       int32         // times the body ran
		panics      float64       // glb_panics_total increments
		logHas      string        // a line the log must contain
		stopTimeout time.Duration // Config.StopTimeout; default 5s
	}{{
		name: "close before run",
		script: func(t *testing.T, o *owner) {
			if err := o.l.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			o.run(untilDone)
			o.wantRun(t, "") // at once: it never blocks on a ctx nobody cancels
		},
	}, {
		name: "close twice",
		script: func(t *testing.T, o *owner) {
			o.run(untilDone)
			o.waitStarted(t)
			for i := range 2 {
				if err := o.l.Close(); err != nil {
					t.Errorf("Close #%d = %v", i+1, err)
				}
			}
			o.wantRun(t, "")
		},
		calls: 1,
	}, {
		name: "ctx cancel ends run",
		script: func(t *testing.T, o *owner) {
			o.run(untilDone)
			o.waitStarted(t)
			o.cancel()
			o.wantRun(t, "")
			if !o.stopped.Load() {
				t.Error("Run returned before its body")
			}
		},
		calls: 1,
	}, {
		name: "close waits for the goroutine",
		script: func(t *testing.T, o *owner) {
			o.run(untilDone)
			o.waitStarted(t)
			if err := o.l.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			// The body sleeps after its ctx ends; Close must have waited.
			if !o.stopped.Load() {
				t.Error("Close returned while the body was still stopping")
			}
			o.wantRun(t, "")
		},
		calls: 1,
	}, {
		name: "second run refused, while and after the first",
		script: func(t *testing.T, o *owner) {
			o.run(untilDone)
			o.waitStarted(t)
			err := o.l.Run(context.Background(), func(context.Context) error { return nil })
			if !errors.Is(err, ErrAlreadyRun) || !strings.Contains(err.Error(), "run test owner: already running") {
				t.Errorf("Run while running = %v, want ErrAlreadyRun", err)
			}
			o.cancel()
			o.wantRun(t, "")
			if err := o.l.Run(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, ErrAlreadyRun) {
				t.Errorf("Run after Run = %v, want ErrAlreadyRun", err)
			}
		},
		calls: 1,
	}, {
		name: "panic recovered and counted",
		script: func(t *testing.T, o *owner) {
			o.run(panics)
			o.wantRun(t, "run test owner: panic: boom")
		},
		calls:  1,
		panics: 1,
		logHas: `level=ERROR msg="test owner panicked" panic=boom stack="goroutine`,
	}, {
		name: "close gives up on a stuck body",
		script: func(t *testing.T, o *owner) {
			o.run(stuck)
			o.waitStarted(t)
			if err := o.l.Close(); !errors.Is(err, ErrStopTimeout) {
				t.Errorf("Close = %v, want ErrStopTimeout", err)
			}
			close(o.release)
			o.wantRun(t, "")
		},
		calls:       1,
		stopTimeout: 50 * time.Millisecond,
		logHas:      `level=ERROR msg="test owner did not stop; giving up waiting" timeout_seconds=0.05`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.stopTimeout == 0 {
				tc.stopTimeout = 5 * time.Second
			}
			o := newOwner(tc.stopTimeout)
			defer func() {
				if o.cancel != nil {
					o.cancel()
				}
			}()
			tc.script(t, o)
			if got := o.calls.Load(); got != tc.calls {
				t.Errorf("body ran %d times, want %d", got, tc.calls)
			}
			if got := testutil.ToFloat64(o.panics); got != tc.panics {
				t.Errorf("panics counted %v, want %v", got, tc.panics)
			}
			if tc.logHas != "" && !strings.Contains(o.logs.String(), tc.logHas) {
				t.Errorf("log lacks %q:\n%s", tc.logHas, o.logs.String())
			}
			// Whatever happened, a Close after Run returned is prompt and nil.
			if err := o.l.Close(); err != nil {
				t.Errorf("final Close = %v", err)
			}
		})
	}
}

// TestEvery: f runs on each tick until ctx ends, and then Every returns.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var calls int
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, time.Millisecond, func() {
			if calls++; calls == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return after its ctx ended")
	}
	if calls != 3 {
		t.Errorf("f called %d times, want 3: none after ctx ended", calls)
	}
}
