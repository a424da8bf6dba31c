package schema

import (
	"maps"
	"slices"
)

// Per-name drain schedules: <prefix>zones/<zone>/names/<label>/schedules/<region>
// holds a Schedule (the same document as a region's schedule) that glbd
// applies to the name's weight of the region (its weights/<region> key)
// as a region's schedule is applied to the region's weight: the per-name
// weight in force before (Schedule.Before) returns when it expires or is
// deleted. It sits beside weights/<region> because it is the same thing
// in time: one name's share of one region.

// KindNameSchedule is a region's drain schedule for one name. Counted with
// the traffic kinds (traffic.go), clear of keys.go's.
const KindNameSchedule Kind = 111

// NameScheduleKey returns the etcd key of a region's drain schedule for one
// name.
func NameScheduleKey(prefix, zone, label, region string) string {
	return NameKey(prefix, zone, label) + "/schedules/" + region
}

// NameSchedule is one name's schedule of one region, as the state holds
// them (State.NameSchedules).
type NameSchedule struct {
	Zone, Label, Region string
	Schedule            *Schedule
}

// NameSchedules lists st's per-name schedules in key order.
func NameSchedules(st *State) []NameSchedule {
	var out []NameSchedule
	for _, zn := range slices.Sorted(maps.Keys(st.Zones)) {
		z := st.Zones[zn]
		for _, label := range slices.Sorted(maps.Keys(z.Schedules)) {
			for _, r := range slices.Sorted(maps.Keys(z.Schedules[label])) {
				out = append(out, NameSchedule{zn, label, r, z.Schedules[label][r]})
			}
		}
	}
	return out
}
