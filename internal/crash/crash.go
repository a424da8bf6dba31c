// Package crash is how glb's goroutines survive their own bugs: a panic at
// the root of a goroutine is recovered, logged once with its stack, and
// counted in one metric, glb_panics_total{component}, so one alert covers
// every part of every binary. What happens next (answer SERVFAIL, restart
// the loop, end the process cleanly) is the caller's decision; this package
// only makes the recording uniform.
package crash

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// counterOpts describes glb_panics_total.
var counterOpts = prometheus.CounterOpts{
	Namespace: "glb", Name: "panics_total",
	Help: "Panics recovered at the root of a goroutine, by component; each is logged with its stack.",
}

// Counter returns the glb_panics_total series of component, registering
// the family on reg the first time any package asks (packages share one
// registry in a binary, so the family is registered once and reused). A
// nil reg gives a counter that is not exported, for tests.
func Counter(reg prometheus.Registerer, component string) prometheus.Counter {
	vec := prometheus.NewCounterVec(counterOpts, []string{"component"})
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(fmt.Sprintf("register glb_panics_total: %v", err))
			}
			vec = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return vec.WithLabelValues(component)
}

// Also returns a counter that is c, and whose increments also go to
// also. Packages that had a panic counter of their own before
// glb_panics_total keep it (dashboards and alerts use it) and feed both.
func Also(c, also prometheus.Counter) prometheus.Counter { return tee{c, also} }

type tee struct {
	prometheus.Counter
	also prometheus.Counter
}

func (t tee) Inc()          { t.Counter.Inc(); t.also.Inc() }
func (t tee) Add(v float64) { t.Counter.Add(v); t.also.Add(v) }

// Record counts a recovered panic value v and logs it at Error with the
// stack of the goroutine that panicked (call it from the deferred function
// that recovered). attrs are added to the log line.
func Record(log *slog.Logger, c prometheus.Counter, msg string, v any, attrs ...any) {
	// Logged before counted, so whoever sees the count finds the line.
	log.Error(msg, append(attrs, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))...)
	c.Inc()
}
