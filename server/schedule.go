package server

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// Drain schedules (schema.Schedule) are applied here, off the query path:
// rebuild turns the state as etcd holds it into the state in force at the
// handler's clock, with each scheduled region's weight replaced by its
// step and, for a TTL-first schedule, the TTLs of the names that use the
// region lowered. The configuration part of the snapshot is rebuilt only
// when the phases change, that is at step boundaries, and Run wakes at
// the next boundary (and the health tick every second would catch it
// anyway), so every glbd moves within a moment of the step's instant.

// scheduled is the state in force: st with its schedules applied.
type scheduled struct {
	src    *schema.State // the state as etcd holds it
	eff    *schema.State // src with the schedules applied; src itself when none is active
	key    string        // the phases in force, "" when none: configurations differ when keys do
	phases map[string]schema.Phase
	next   time.Time // the earliest next phase change; zero: none
	// namePhases are the per-name schedules' phases by nameSchedID
	// (nameschedule.go).
	namePhases map[string]schema.Phase
}

// applySchedules evaluates every region's schedule at now. When prev was
// built from the same state and the phases are the same, it returns prev,
// so the snapshot's state stays the same pointer between steps.
//
// down says whether a region is down now; it is asked only about the
// receivers of a stop_on_unhealthy schedule in force.
func applySchedules(st *schema.State, now time.Time, prev *scheduled, down func(string) bool) *scheduled {
	if !hasSchedule(st) && !hasNameSchedule(st) && (prev == nil || len(prev.phases)+len(prev.namePhases) == 0) {
		return &scheduled{src: st, eff: st} // the usual case, every health tick: no sorting, no maps
	}
	s := &scheduled{src: st, eff: st, phases: map[string]schema.Phase{}}
	var keys []string
	for _, id := range slices.Sorted(maps.Keys(st.Regions)) {
		sc := st.Regions[id].Schedule
		if sc == nil {
			continue
		}
		p := sc.PhaseAt(now)
		if p.Active && p.Step >= 0 && sc.StopOnUnhealthy {
			p.Paused = slices.ContainsFunc(schema.Receivers(st, id), down)
		}
		s.phases[id] = p
		if !p.Next.IsZero() && (s.next.IsZero() || p.Next.Before(s.next)) {
			s.next = p.Next
		}
		if p.Active {
			keys = append(keys, fmt.Sprintf("%s:%d:%d:%t:%t", id, p.Step, p.Weight, sc.TTLFirst, p.Paused))
		}
	}
	keys = append(keys, s.addNamePhases(st, now, down)...)
	s.key = strings.Join(keys, ",")
	if prev != nil && prev.src == st && prev.key == s.key {
		prev.next, prev.phases, prev.namePhases = s.next, s.phases, s.namePhases
		return prev
	}
	if s.key == "" {
		return s
	}
	eff := *st
	eff.Regions = maps.Clone(st.Regions)
	var ttlFirst []string
	for id, p := range s.phases {
		if !p.Active {
			continue
		}
		rs := *st.Regions[id]
		if p.Step >= 0 && !p.Paused {
			rs.Weight = p.Weight
		}
		eff.Regions[id] = &rs
		if rs.Schedule.TTLFirst {
			ttlFirst = append(ttlFirst, id)
		}
	}
	if len(ttlFirst) > 0 {
		eff.Zones = lowerTTLs(st.Zones, ttlFirst)
	}
	eff.Zones = applyNamePhases(eff.Zones, st, s.namePhases)
	s.eff = &eff
	return s
}

func hasSchedule(st *schema.State) bool {
	for _, r := range st.Regions {
		if r.Schedule != nil {
			return true
		}
	}
	return false
}

// lowerTTLs returns zones with the names that use any of regions answering
// with a low TTL: their ttl_degraded, or schema.DefaultTTLFirst seconds,
// when that is lower than the TTL they have. Zones and names that change
// are copied; the rest are shared.
func lowerTTLs(zones map[string]*schema.ZoneState, regions []string) map[string]*schema.ZoneState {
	out := maps.Clone(zones)
	for zn, z := range zones {
		var names map[string]*schema.Name
		for label, n := range z.Names {
			if !slices.ContainsFunc(n.Regions, func(r string) bool { return slices.Contains(regions, r) }) {
				continue
			}
			c, ok := loweredTTL(z, n)
			if !ok {
				continue
			}
			if names == nil {
				names = maps.Clone(z.Names)
			}
			names[label] = c
		}
		if names != nil {
			zc := *z
			zc.Names = names
			out[zn] = &zc
		}
	}
	return out
}

// loweredTTL is n of zone z answering with a low TTL during a TTL-first
// hold: its ttl_degraded, or schema.DefaultTTLFirst seconds; ok is false
// when its TTL is that low already.
func loweredTTL(z *schema.ZoneState, n *schema.Name) (*schema.Name, bool) {
	low := n.TTLDegraded
	if low == 0 {
		low = schema.DefaultTTLFirst
	}
	if cmpOr(n.TTL, z.Zone.TTL, schema.DefaultNameTTL) <= low {
		return nil, false
	}
	c := *n
	c.TTL, c.TTLDegraded = low, min(cmpOr(n.TTLDegraded, low), low)
	return &c, true
}

// cmpOr returns the first of vs that is not zero.
func cmpOr(vs ...uint32) uint32 {
	for _, v := range vs {
		if v != 0 {
			return v
		}
	}
	return 0
}

// logPhases logs and counts the phases that changed from prev to s: one
// INFO line per region whose schedule moved to another step, began its
// TTL-first hold, or ended. h.mu is held.
func (h *Handler) logPhases(prev, s *scheduled) {
	var old map[string]schema.Phase
	if prev != nil {
		old = prev.phases
	}
	for _, id := range slices.Sorted(maps.Keys(s.phases)) {
		p := s.phases[id]
		if was, seen := old[id]; seen && p.Active == was.Active && p.Step == was.Step && p.Paused == was.Paused {
			continue
		}
		sc := s.src.Regions[id].Schedule
		switch {
		case !p.Active:
			if was, seen := old[id]; !seen || !was.Active {
				continue // expired before we saw it: nothing moved
			}
			h.log.Info("drain schedule expired: the weight key is in force again", "region", id,
				"weight", s.src.Regions[id].Weight)
			h.metrics.scheduleSteps.WithLabelValues(id, "expired").Inc()
		case p.Paused:
			h.log.Info("drain schedule paused: a receiving region is down, the weight key is in force", "region", id,
				"step", p.Step+1, "steps", len(sc.Steps), "weight", s.src.Regions[id].Weight)
			h.metrics.scheduleSteps.WithLabelValues(id, "paused").Inc()
		case p.Step < 0:
			h.log.Info("drain schedule holding: TTLs lowered, weights move at the first step", "region", id,
				"first_step_at", sc.StepAt(0), "steps", len(sc.Steps))
			h.metrics.scheduleSteps.WithLabelValues(id, "ttl_first").Inc()
		default:
			h.log.Info("drain schedule step", "region", id, "step", p.Step+1, "steps", len(sc.Steps),
				"weight", p.Weight, "next", p.Next, "ttl_first", sc.TTLFirst)
			h.metrics.scheduleSteps.WithLabelValues(id, "step").Inc()
		}
	}
	for id, was := range old {
		if _, ok := s.phases[id]; !ok && was.Active {
			h.log.Info("drain schedule cancelled: the weight key is in force again", "region", id)
			h.metrics.scheduleSteps.WithLabelValues(id, "cancelled").Inc()
		}
	}
}

// applySchedules makes h.sched the state st with its schedules applied at
// now, logs the phases that changed and tells Run when the next one is
// due. It returns the state to build from. h.mu is held.
func (h *Handler) applySchedules(st *schema.State, now time.Time) *schema.State {
	prev := h.sched
	s := applySchedules(st, now, prev, h.downAt(st, now))
	h.logPhases(prev, s)
	h.logNamePhases(prev, s)
	h.sched = s
	if !s.next.IsZero() {
		select {
		case <-h.schedWake: // drop a stale wake-up: this one is current
		default:
		}
		h.schedWake <- s.next
	}
	return s.eff
}

// ScheduleStatus is a region's drain schedule and where it stands, for the
// status page and glbctl.
type ScheduleStatus struct {
	Steps    []int           `json:"steps"`
	Every    schema.Duration `json:"every"`
	Start    time.Time       `json:"start"`
	Expires  time.Time       `json:"expires,omitzero"`
	Before   int             `json:"before"`
	TTLFirst bool            `json:"ttl_first,omitempty"`
	Step     int             `json:"step"` // 1-based step in force; 0 before the first (or after expiry)
	Active   bool            `json:"active"`
	Paused   bool            `json:"paused,omitempty"` // stop_on_unhealthy, and a receiving region is down
	Next     time.Time       `json:"next,omitzero"`    // the next change; zero: none
}

func scheduleStatus(snap *plan.Snapshot, id string, sc *schema.Schedule, now time.Time) *ScheduleStatus {
	if sc == nil {
		return nil
	}
	p := sc.PhaseAt(now)
	out := &ScheduleStatus{Steps: sc.Steps, Every: sc.Every, Start: sc.Start, Expires: sc.Expires,
		Before: sc.Before, TTLFirst: sc.TTLFirst, Step: p.Step + 1, Active: p.Active, Next: p.Next}
	if p.Active && p.Step >= 0 && sc.StopOnUnhealthy {
		down := func(r string) bool {
			i, ok := snap.Config.RegionIdx[r]
			return ok && !snap.Health.Regions[i].Up
		}
		out.Paused = slices.ContainsFunc(schema.Receivers(snap.State, id), down)
	}
	return out
}

// downAt returns whether a region of st is down at now, by the probers'
// reports; the health view is aggregated on the first question only.
func (h *Handler) downAt(st *schema.State, now time.Time) func(string) bool {
	var view *health.View
	return func(id string) bool {
		if view == nil {
			view = health.Aggregate(st, now, h.policy)
		}
		rh := view.Regions[id]
		return rh != nil && !rh.Up
	}
}

// Text describes the schedule in one line, e.g. "drain schedule: step 2/3
// (weight 10), next at 05:40:00Z, expires at 09:00:00Z".
func (s *ScheduleStatus) Text() string {
	var b strings.Builder
	switch {
	case !s.Active:
		b.WriteString("drain schedule expired")
	case s.Paused:
		fmt.Fprintf(&b, "drain schedule paused at step %d/%d: a receiving region is down, the weight key is in force", s.Step, len(s.Steps))
	case s.Step == 0:
		fmt.Fprintf(&b, "drain schedule: TTLs lowered, step 1/%d (weight %d) at %s", len(s.Steps), s.Steps[0], s.Next.UTC().Format(time.TimeOnly+"Z"))
	default:
		fmt.Fprintf(&b, "drain schedule: step %d/%d (weight %d)", s.Step, len(s.Steps), s.Steps[s.Step-1])
		if s.Step < len(s.Steps) {
			fmt.Fprintf(&b, ", next at %s", s.Next.UTC().Format(time.TimeOnly+"Z"))
		}
	}
	if s.Active && !s.Expires.IsZero() {
		fmt.Fprintf(&b, ", expires at %s (back to the weight key)", s.Expires.UTC().Format(time.TimeOnly+"Z"))
	}
	return b.String()
}

// stateAt is the state in force at the what-if instant at (RFC 3339, or
// "+<duration>" from now): the drain schedules evaluated then. "" is the
// snapshot's own state.
func (h *Handler) stateAt(cur *plan.Snapshot, at string) (*schema.State, error) {
	if at == "" {
		return cur.State, nil
	}
	now := h.now()
	t, err := time.Parse(time.RFC3339, at)
	if rel, ok := strings.CutPrefix(at, "+"); ok {
		var d time.Duration
		d, err = time.ParseDuration(rel)
		t = now.Add(d)
	}
	if err != nil {
		return nil, fmt.Errorf("at %q: want an RFC 3339 time or +<duration>", at)
	}
	h.mu.Lock()
	src := h.state
	h.mu.Unlock()
	if src == nil {
		return cur.State, nil
	}
	return applySchedules(src, t, nil, h.downAt(src, now)).eff, nil
}
