package store

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

// lockedBuffer is a log sink the watcher's goroutine writes while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// infoLines returns the INFO lines with msg so far.
func (b *lockedBuffer) infoLines(msg string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, "level=INFO") && strings.Contains(l, fmt.Sprintf("msg=%q", msg)) {
			out = append(out, l)
		}
	}
	return out
}

// settableClock is the real clock with a Now the test moves.
type settableClock struct {
	realClock
	mu  sync.Mutex
	now time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *settableClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestWatcherLogsConfigurationChangesOnly drives a watcher through health
// refreshes, a configuration change and a rejected key, and checks that only
// the last two, and one summary a minute of the refreshes, are logged at
// INFO: a prober refreshing its reports must not write a line each time.
func TestWatcherLogsConfigurationChangesOnly(t *testing.T) {
	s, c := seeded(t)
	var logs lockedBuffer
	clk := &settableClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	tw := newWatcher(t, c, func(w *Watcher) {
		w.log = slog.New(slog.NewTextHandler(&logs, nil)).With("component", "store")
		w.clock = clk
	})
	tw.rec.waitFor(t, 10*time.Second, "the seed", func(st *schema.State) bool { return len(st.Regions) == 3 })

	health := 0
	refresh := func() {
		health++
		want := tw.rec.count() + 1
		s.Put(t, testPrefix+"health/p1/eu-west/192.0.2.10", fmt.Sprintf(`{"up":true,"time":"2026-01-01T00:00:%02dZ"}`, health))
		tw.rec.waitFor(t, 10*time.Second, "the refresh", func(*schema.State) bool { return tw.rec.count() >= want })
	}
	steps := []struct {
		name        string
		do          func()
		wantConfig  int // INFO "configuration state" lines so far
		wantSummary int // INFO health summaries so far
		summaryText string
	}{
		{"first state", func() {}, 1, 0, ""},
		{"health refreshes within the minute", func() { refresh(); refresh(); refresh() }, 1, 0, ""},
		{"a refresh after the minute", func() { clk.advance(61 * time.Second); refresh() }, 1, 1, "count=4"},
		{"another refresh within the next minute", func() { clk.advance(30 * time.Second); refresh() }, 1, 1, ""},
		{"a weight change", func() {
			s.Put(t, testPrefix+"regions/eu-west/weight", "10")
			tw.rec.waitFor(t, 10*time.Second, "weight 10", func(st *schema.State) bool { return regionWeight(st, "eu-west") == 10 })
		}, 2, 1, ""},
		{"a rejected key", func() {
			s.Put(t, testPrefix+"regions/us-east/weight", "lots")
			tw.rec.waitFor(t, 10*time.Second, "a rejection", func(st *schema.State) bool { return len(st.Rejected) == 1 })
		}, 3, 1, ""},
		{"a refresh a minute after the summary", func() { clk.advance(31 * time.Second); refresh() }, 3, 2, "count=2"},
	}
	for _, step := range steps {
		step.do()
		config, summary := logs.infoLines("configuration state"), logs.infoLines("health states since the last summary")
		if len(config) != step.wantConfig || len(summary) != step.wantSummary {
			t.Fatalf("after %s: %d configuration lines and %d summaries at INFO, want %d and %d:\n%s\n%s",
				step.name, len(config), len(summary), step.wantConfig, step.wantSummary, strings.Join(config, "\n"), strings.Join(summary, "\n"))
		}
		if step.summaryText != "" && !strings.Contains(summary[len(summary)-1], step.summaryText) {
			t.Errorf("after %s: summary %q lacks %q", step.name, summary[len(summary)-1], step.summaryText)
		}
	}
}
