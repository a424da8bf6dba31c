package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// summary is what the soak measured, and the checks that failed.
type summary struct {
	lines    []string
	failures []error
}

func (s *summary) printf(format string, args ...any) {
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
}
func (s *summary) fail(format string, args ...any) {
	s.failures = append(s.failures, fmt.Errorf(format, args...))
}

func (s *summary) print(w io.Writer) {
	for _, l := range s.lines {
		fmt.Fprintln(w, l)
	}
	for _, f := range s.failures {
		fmt.Fprintln(w, "FAIL:", f)
	}
}

// flatWindows returns the warm-up mark and the window length used for the
// flatness check. glbd's heap climbs for about the first minute under the
// soak (caches, metric series, the status page's rings filling) and is
// level after that, so the first window starts a quarter into the run
// (75 s of 5 minutes); both windows are long enough to hold several garbage
// collections.
func flatWindows(d time.Duration) (warm, window time.Duration) {
	return max(5*time.Second, d/4), max(4*time.Second, d/12)
}

func summarise(cfg config, j *judge, fl *flipper, churn *proberChurn, smp *sampler, geo *geoReplacer, stalls *stallWatch, took time.Duration) *summary {
	s := &summary{}
	sent, failed := j.sent.Load(), j.failed()
	s.printf("load: %s, %d queries sent (%.0f/s), %d answered in time, %d failed", took.Round(time.Millisecond), sent,
		float64(sent)/took.Seconds(), j.answered.Load(), failed)
	s.printf("  failed: %d timeouts (of which %d answered late, after %s), %d bad rcode, %d bad answers, %d drained-region violations, %d transport errors",
		j.timeouts.Load(), j.late.Load(), cfg.Timeout, j.badRcode.Load(), j.badAnswer.Load(), j.violations.Load(), j.transportErrs.Load())
	j.mu.Lock()
	lat := slices.Clone(j.latencies)
	byRegion := maps.Clone(j.byRegion)
	examples := slices.Clone(j.examples)
	timeoutSeconds := maps.Clone(j.timeoutSeconds)
	j.mu.Unlock()
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		q := func(p float64) float32 { return lat[min(n-1, int(p*float64(n)))] }
		s.printf("  latency ms: p50 %.3f, p99 %.3f, p99.9 %.3f, max %.3f", q(0.5), q(0.99), q(0.999), lat[n-1])
	}
	var regions []string
	for _, r := range slices.Sorted(maps.Keys(byRegion)) {
		regions = append(regions, fmt.Sprintf("%s %d", r, byRegion[r]))
	}
	s.printf("  answers by region: %v", regions)
	for _, e := range examples {
		s.printf("  e.g. %s", e)
	}
	if len(timeoutSeconds) > 0 {
		secs := slices.SortedFunc(maps.Keys(timeoutSeconds), func(a, b time.Time) int {
			return int(timeoutSeconds[b] - timeoutSeconds[a])
		})
		var worst []string
		for _, t := range secs[:min(5, len(secs))] {
			worst = append(worst, fmt.Sprintf("%s %d", t.Format("15:04:05"), timeoutSeconds[t]))
		}
		s.printf("  timeouts in %d distinct seconds; the worst: %v", len(secs), worst)
	}
	stalls.mu.Lock()
	s.printf("  the soak's own timers stalled %d times over %s (longest %s): %v", stalls.n, stallReport,
		stalls.longest.Round(time.Millisecond), stalls.stalls)
	stalls.mu.Unlock()
	if sent == 0 || failed > 0 {
		s.fail("%d of %d queries failed", failed, sent)
	}
	if minWant := int64(float64(cfg.Rate) * took.Seconds() * 0.9); sent < minWant {
		s.fail("%d queries sent, want at least %d (90%% of the rate): the load generator fell behind", sent, minWant)
	}

	s.printf("changes: %d weight puts (%d errors, slowest %s), %d drain rotations; %d prober joins, %d leaves, %d backend health flips",
		fl.puts.Load(), fl.putErrs.Load(), time.Duration(fl.maxPut.Load()).Round(time.Millisecond),
		int(took/cfg.RotateEvery), churn.joins.Load(), churn.leaves.Load(), churn.healthFlips.Load())
	if fl.putErrs.Load() > 0 {
		s.fail("%d etcd puts failed", fl.putErrs.Load())
	}
	if churn.joins.Load() == 0 || churn.leaves.Load() == 0 {
		s.fail("no prober joined and left (%d joins, %d leaves): the run is shorter than two -churn-every", churn.joins.Load(), churn.leaves.Load())
	}
	for _, l := range geo.results {
		s.printf("geoip: %s", l)
	}
	s.failures = append(s.failures, geo.failures...)

	smp.mu.Lock()
	samples := slices.Clone(smp.samples)
	scrapeErrs := smp.scrapeErrs
	smp.mu.Unlock()
	warm, window := flatWindows(took)
	var first, last []sample
	seenProbers := map[float64]bool{}
	for _, x := range samples {
		seenProbers[x.probers] = true
		switch {
		case x.at >= warm && x.at < warm+window:
			first = append(first, x)
		case x.at >= took-window:
			last = append(last, x)
		}
	}
	if !seenProbers[1] || !seenProbers[2] {
		s.fail("glb_health_probers never showed both 1 and 2 probers: %v", slices.Sorted(maps.Keys(seenProbers)))
	}
	s.printf("glbd: %d /metrics samples (%d scrape errors); probers seen %v", len(samples), scrapeErrs, slices.Sorted(maps.Keys(seenProbers)))
	if len(first) < 3 || len(last) < 3 {
		s.fail("too few samples for the flatness check: %d after warm-up, %d at the end", len(first), len(last))
		return s
	}
	// Goroutines: the median of each window, so a TCP connection being
	// served or a probe in flight at one scrape does not count. A leak per
	// event (hundreds of weight changes and drains, several prober joins)
	// would add far more than the slack.
	g0, g1 := median(first, func(x sample) float64 { return x.goroutines }), median(last, func(x sample) float64 { return x.goroutines })
	// Heap: the lowest in-use heap of each window, the closest a scrape
	// comes to the live heap just after a collection; a leak grows it run
	// after run, garbage between collections does not.
	h0, h1 := minOf(first, func(x sample) float64 { return x.heapInuse }), minOf(last, func(x sample) float64 { return x.heapInuse })
	s.printf("glbd goroutines: %.0f after warm-up (%s..%s), %.0f at the end (median of each window; slack %d)",
		g0, warm, warm+window, g1, cfg.GoroutineSlack)
	s.printf("glbd heap in use: %.1f MiB after warm-up, %.1f MiB at the end (lowest of each window; growth allowed %.0f%%)",
		h0/(1<<20), h1/(1<<20), cfg.HeapGrowth*100)
	s.printf("glbd trend, lowest heap MiB / highest goroutines per %s: %s", trendStep(took), trend(samples, trendStep(took)))
	if g1 > g0+float64(cfg.GoroutineSlack) {
		s.fail("goroutines grew from %.0f to %.0f", g0, g1)
	}
	if h1 > h0*(1+cfg.HeapGrowth) {
		s.fail("heap in use grew from %.1f MiB to %.1f MiB", h0/(1<<20), h1/(1<<20))
	}
	return s
}

func median(xs []sample, f func(sample) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func minOf(xs []sample, f func(sample) float64) float64 {
	m := f(xs[0])
	for _, x := range xs[1:] {
		m = min(m, f(x))
	}
	return m
}

// trendStep splits a run into about ten steps for the trend line.
func trendStep(took time.Duration) time.Duration {
	return max(time.Second, (took / 10).Round(time.Second))
}

// trend is the lowest heap and highest goroutine count of each step: a leak
// shows as a climb through the whole run, warm-up as a climb at the start.
func trend(samples []sample, step time.Duration) string {
	var b []byte
	for i := 0; ; i++ {
		from, to := time.Duration(i)*step, time.Duration(i+1)*step
		var in []sample
		for _, x := range samples {
			if x.at >= from && x.at < to {
				in = append(in, x)
			}
		}
		if from > samples[len(samples)-1].at {
			return string(b)
		}
		if len(in) < max(1, int(step/time.Second)/2) { // one scrape a second
			continue // a step cut short by the end of the run says little
		}
		hi := in[0].goroutines
		for _, x := range in {
			hi = max(hi, x.goroutines)
		}
		b = fmt.Appendf(b, "%.1f/%.0f ", minOf(in, func(x sample) float64 { return x.heapInuse })/(1<<20), hi)
	}
}
