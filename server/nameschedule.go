package server

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// Per-name drain schedules (schema.NameSchedule) are applied as a region's
// are (schedule.go), with the same pure step function (Schedule.PhaseAt):
// while one is in force its step replaces the name's weight of the region,
// its TTL-first hold lowers that name's TTL only, and stop_on_unhealthy
// watches the name's other regions. When it expires or is deleted, the
// name's weight key (or, without one, the region's weight) is in force
// again.

// nameSchedID is a per-name schedule's id in scheduled.namePhases and in
// logs: "<zone>/<label>/<region>".
func nameSchedID(ns schema.NameSchedule) string { return ns.Zone + "/" + ns.Label + "/" + ns.Region }

// addNamePhases evaluates st's per-name schedules at now into s and
// returns the key parts of those in force, as applySchedules does for
// regions.
func (s *scheduled) addNamePhases(st *schema.State, now time.Time, down func(string) bool) []string {
	var keys []string
	for _, ns := range schema.NameSchedules(st) {
		sc := ns.Schedule
		p := sc.PhaseAt(now)
		if p.Active && p.Step >= 0 && sc.StopOnUnhealthy {
			p.Paused = slices.ContainsFunc(nameReceivers(st, ns), down)
		}
		if s.namePhases == nil {
			s.namePhases = map[string]schema.Phase{}
		}
		id := nameSchedID(ns)
		s.namePhases[id] = p
		if !p.Next.IsZero() && (s.next.IsZero() || p.Next.Before(s.next)) {
			s.next = p.Next
		}
		if p.Active {
			keys = append(keys, fmt.Sprintf("%s:%d:%d:%t:%t", id, p.Step, p.Weight, sc.TTLFirst, p.Paused))
		}
	}
	return keys
}

// nameReceivers are the regions that take a name's traffic from the
// region its schedule drains: the name's other regions.
func nameReceivers(st *schema.State, ns schema.NameSchedule) []string {
	var out []string
	if n := st.Zones[ns.Zone].Names[ns.Label]; n != nil {
		for _, r := range n.Regions {
			if r != ns.Region && st.Regions[r] != nil {
				out = append(out, r)
			}
		}
	}
	return out
}

// applyNamePhases returns zones with the per-name schedules in force of
// src applied: the step as the name's weight of the region, and for a
// TTL-first schedule the name's TTL lowered. Zones that change are
// copied, with their weights and names; the rest are shared.
func applyNamePhases(zones map[string]*schema.ZoneState, src *schema.State, phases map[string]schema.Phase) map[string]*schema.ZoneState {
	out := zones
	copied := map[string]bool{}
	for _, ns := range schema.NameSchedules(src) {
		p := phases[nameSchedID(ns)]
		if !p.Active {
			continue
		}
		if !copied[ns.Zone] {
			if len(copied) == 0 {
				out = maps.Clone(zones)
			}
			zc := *out[ns.Zone]
			zc.Weights, zc.Names = maps.Clone(zc.Weights), maps.Clone(zc.Names)
			out[ns.Zone], copied[ns.Zone] = &zc, true
		}
		z := out[ns.Zone]
		if p.Step >= 0 && !p.Paused {
			if z.Weights == nil {
				z.Weights = map[string]map[string]int{}
			}
			w := maps.Clone(z.Weights[ns.Label])
			if w == nil {
				w = map[string]int{}
			}
			w[ns.Region] = p.Weight
			z.Weights[ns.Label] = w
		}
		if n := z.Names[ns.Label]; n != nil && ns.Schedule.TTLFirst {
			if low, ok := loweredTTL(z, n); ok {
				z.Names[ns.Label] = low
			}
		}
	}
	return out
}

// hasNameSchedule says whether st has any per-name schedule.
func hasNameSchedule(st *schema.State) bool {
	for _, z := range st.Zones {
		if len(z.Schedules) > 0 {
			return true
		}
	}
	return false
}

// logNamePhases logs and counts the per-name phases that changed from
// prev to s, as logPhases does for regions. h.mu is held.
func (h *Handler) logNamePhases(prev, s *scheduled) {
	var old map[string]schema.Phase
	if prev != nil {
		old = prev.namePhases
	}
	byID := map[string]schema.NameSchedule{}
	for _, ns := range schema.NameSchedules(s.src) {
		byID[nameSchedID(ns)] = ns
	}
	for _, id := range slices.Sorted(maps.Keys(s.namePhases)) {
		p, ns := s.namePhases[id], byID[id]
		if was, seen := old[id]; seen && p.Active == was.Active && p.Step == was.Step && p.Paused == was.Paused {
			continue
		}
		owner := schema.Owner(ns.Zone, ns.Label)
		weight := nameWeightOf(s.src, ns)
		sc := ns.Schedule
		var what string
		switch {
		case !p.Active:
			if was, seen := old[id]; !seen || !was.Active {
				continue
			}
			what = "expired"
			h.log.Info("name drain schedule expired: the name's weight before is in force again", "name", owner, "region", ns.Region, "weight", weight)
		case p.Paused:
			what = "paused"
			h.log.Info("name drain schedule paused: another region of the name is down, the name's weight before is in force", "name", owner,
				"region", ns.Region, "step", p.Step+1, "steps", len(sc.Steps), "weight", weight)
		case p.Step < 0:
			what = "ttl_first"
			h.log.Info("name drain schedule holding: the name's TTL lowered, its weight moves at the first step", "name", owner,
				"region", ns.Region, "first_step_at", sc.StepAt(0), "steps", len(sc.Steps))
		default:
			what = "step"
			h.log.Info("name drain schedule step", "name", owner, "region", ns.Region, "step", p.Step+1, "steps", len(sc.Steps),
				"weight", p.Weight, "next", p.Next, "ttl_first", sc.TTLFirst)
		}
		h.metrics.nameScheduleSteps.WithLabelValues(strings.TrimSuffix(owner, "."), ns.Region, what).Inc()
	}
	for id, was := range old {
		if _, ok := s.namePhases[id]; !ok && was.Active {
			h.log.Info("name drain schedule cancelled: the name's weight before is in force again", "schedule", id)
			zone, rest, _ := strings.Cut(id, "/")
			label, region, _ := strings.Cut(rest, "/")
			h.metrics.nameScheduleSteps.WithLabelValues(strings.TrimSuffix(schema.Owner(zone, label), "."), region, "cancelled").Inc()
		}
	}
}

// nameWeightOf is the weight a name has for a region without its
// schedule: its weight key, else the region's weight.
func nameWeightOf(st *schema.State, ns schema.NameSchedule) int {
	if w, ok := st.Zones[ns.Zone].Weights[ns.Label][ns.Region]; ok {
		return w
	}
	if r := st.Regions[ns.Region]; r != nil {
		return r.Weight
	}
	return schema.DefaultWeight
}

// newNameScheduleSteps is glb_server_name_schedule_steps_total.
func newNameScheduleSteps(f promauto.Factory) *prometheus.CounterVec {
	return f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glb", Subsystem: "server", Name: "name_schedule_steps_total",
		Help: "Per-name drain-schedule phase changes applied, by name, region and what happened: step, ttl_first, paused, expired, cancelled.",
	}, []string{"name", "region", "what"})
}

// nameScheduleStatus is where the per-name schedules of a zone's label
// stand, by region; nil when it has none.
func nameScheduleStatus(snap *plan.Snapshot, zs *schema.ZoneState, label string, now time.Time) map[string]*ScheduleStatus {
	scs := zs.Schedules[label]
	if len(scs) == 0 {
		return nil
	}
	out := map[string]*ScheduleStatus{}
	for region, sc := range scs {
		s := scheduleStatus(snap, region, sc, now)
		if s.Active && s.Step > 0 && sc.StopOnUnhealthy {
			// The receivers are the name's other regions, not the region's.
			down := func(r string) bool {
				i, ok := snap.Config.RegionIdx[r]
				return ok && !snap.Health.Regions[i].Up
			}
			s.Paused = slices.ContainsFunc(nameReceivers(snap.State, schema.NameSchedule{Zone: zs.Name, Label: label, Region: region}), down)
		}
		out[region] = s
	}
	return out
}
