package main

import (
	"sync"
	"time"
)

// drainTimeline remembers, per region, when it was drained and when it was
// re-admitted, so that every answer can be judged against what the operator
// had asked for when the query was sent.
//
// The two ends are recorded asymmetrically, both in glbd's favour: a drain
// counts from the completion of its etcd put (glbd cannot know earlier),
// a re-admission from the moment before its put is issued (glbd may see it
// at once). An answer is a violation only when neither bound can excuse it.
type drainTimeline struct {
	mu     sync.Mutex
	events map[string][]drainEvent // by region, in time order
}

// drainEvent is one change of a region's drain state.
type drainEvent struct {
	at      time.Time
	drained bool
}

func newDrainTimeline() *drainTimeline {
	return &drainTimeline{events: map[string][]drainEvent{}}
}

// drained records that the put draining region completed at t.
func (d *drainTimeline) drained(region string, t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events[region] = append(d.events[region], drainEvent{at: t, drained: true})
}

// readmitted records that a put re-admitting region is about to be issued
// at t.
func (d *drainTimeline) readmitted(region string, t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events[region] = append(d.events[region], drainEvent{at: t, drained: false})
}

// violates reports whether an answer naming region, for a query sent at
// sent and answered at recv, breaks the promise that a region drained more
// than grace before the query no longer appears: the region's last drain
// completed at or before sent-grace, and no re-admission was issued after
// that drain and before recv.
func (d *drainTimeline) violates(region string, sent, recv time.Time, grace time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	ev := d.events[region]
	cutoff := sent.Add(-grace)
	// The last drain completed by the cutoff.
	last := -1
	for i := len(ev) - 1; i >= 0; i-- {
		if ev[i].drained && !ev[i].at.After(cutoff) {
			last = i
			break
		}
	}
	if last < 0 {
		return false
	}
	for _, e := range ev[last+1:] {
		if !e.drained && !e.at.After(recv) {
			return false // re-admitted before the answer arrived
		}
	}
	return true
}
