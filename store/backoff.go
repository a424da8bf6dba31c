package store

import (
	"context"
	"math/rand/v2"
	"time"
)

// clock is the time the watcher sees. Tests replace it to make retries
// immediate and timestamps known.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// sleep waits d on c, or until ctx is done; it reports whether the full wait
// passed.
func sleep(ctx context.Context, c clock, d time.Duration) bool {
	select {
	case <-c.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff is a capped exponential backoff: min, 2*min, 4*min, ... up to
// max, each step jittered into [d/2, d]. The jitter matters when etcd comes
// back after an outage: without it, every glb instance would re-list at the
// same moment, and again at each step.
type backoff struct {
	min, max time.Duration
	rand     func() float64 // in [0, 1); nil means no jitter
	cur      time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, rand: rand.Float64}
}

// next returns the wait before the next attempt and advances the step.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	if b.rand == nil {
		return b.cur
	}
	half := b.cur / 2
	return half + time.Duration(b.rand()*float64(b.cur-half))
}

// reset goes back to the first step, after a success.
func (b *backoff) reset() { b.cur = 0 }

// waitedOut resets b after an attempt that failed only when its timeout
// ran out. etcd's client waits for a connection rather than fail at once,
// so during an outage every attempt lasts its whole timeout (5s): that
// wait is backoff enough, and doubling a sleep on top of it (up to 5s more)
// would only delay the first attempt after etcd returns, while an attempt
// in flight goes through as soon as the client reconnects. Attempts that
// fail quickly (a refusal, a permission) still back off in full.
func waitedOut(b *backoff, took, timeout time.Duration) {
	if took >= timeout {
		b.reset()
	}
}
