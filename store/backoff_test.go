package store

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := &backoff{min: 100 * time.Millisecond, max: time.Second}
	var got []time.Duration
	for range 6 {
		got = append(got, b.next())
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("steps = %v, want %v ms: doubling from min, capped at max", got, want)
		}
	}
	b.reset()
	if d := b.next(); d != 100*time.Millisecond {
		t.Errorf("after reset: %v, want min again", d)
	}

	// Jitter keeps each wait within [d/2, d].
	for _, r := range []float64{0, 0.5, 0.999} {
		b := &backoff{min: 100 * time.Millisecond, max: time.Second, rand: func() float64 { return r }}
		b.next()
		if d := b.next(); d < 100*time.Millisecond || d > 200*time.Millisecond {
			t.Errorf("rand %v: second step %v, want within [100ms, 200ms]", r, d)
		}
	}
}
