package server

import (
	"runtime"
	"slices"

	"github.com/glb-dns/glb/geo"
)

// scopeBuilder folds partitions into scope tables. It keeps its buffers
// between builds, so a rebuild after a configuration change allocates
// only the table it returns: the queries served meanwhile do not pay for
// the builder's garbage in collector assists.
type scopeBuilder struct {
	locPlan []uint16             // plan index per partition location
	index   map[planIdent]uint16 // plan key -> index into the table's plans
	// yield makes the builder step aside (runtime.Gosched) every
	// yieldEvery ranges: with two cores, a build that ran for hundreds of
	// milliseconds without yielding would leave UDP readers waiting for a
	// processor. Off for synchronous builds (Explain).
	yield bool
}

// yieldEvery and yieldPlans are how many ranges the builder folds, and
// how many locations it plans for, between yields: about a millisecond of
// work each (ranking 20 regions for one location takes ~8 µs), well
// under the runtime's 10 ms preemption slice.
const (
	yieldEvery = 1 << 15
	yieldPlans = 128
)

// buildScopeTable folds the partition for the plans of g on qtype under ht
// with a builder of its own (for one-off builds).
func buildScopeTable(part *geo.Partition, g *gslbName, qtype uint16, ht *healthTable) *scopeTable {
	var b scopeBuilder
	return b.build(part, g, qtype, ht)
}

// build folds the partition for the plans of g on qtype under ht. A table
// whose plans would not fit the 16-bit index (more than 65,534 distinct
// plans) is returned empty: every lookup in it misses and the GeoIP
// network is used, which is narrower but true.
func (b *scopeBuilder) build(part *geo.Partition, g *gslbName, qtype uint16, ht *healthTable) *scopeTable {
	t := &scopeTable{part: part}
	if b.index == nil {
		b.index = map[planIdent]uint16{}
	}
	clear(b.index)
	// Plans depend only on the location, so decide once per location.
	b.locPlan = slices.Grow(b.locPlan[:0], len(part.Locs))[:len(part.Locs)]
	for i, loc := range part.Locs {
		if b.yield && i%yieldPlans == yieldPlans-1 {
			runtime.Gosched()
		}
		p := g.plan(qtype, loc, part.Found[i], ht)
		idx, ok := b.intern(t, &p, g.spread)
		if !ok {
			return &scopeTable{part: part}
		}
		b.locPlan[i] = idx
	}
	unknown := g.plan(qtype, geo.Location{}, false, ht)
	unknownIdx, ok := b.intern(t, &unknown, g.spread)
	if !ok {
		return &scopeTable{part: part}
	}
	planOf := func(loc int32) uint16 {
		switch {
		case loc >= 0:
			return b.locPlan[loc]
		case loc == geo.LocNone:
			return unknownIdx
		}
		return noPlan
	}
	// Two passes, counting the runs first, so the table is allocated once
	// at its exact size.
	t.v4Plan = make([]uint16, 0, b.countRuns(part.V4Loc, planOf))
	t.v4 = make([]uint32, 0, cap(t.v4Plan))
	b.fold(part.V4Loc, planOf, func(i int, pi uint16) {
		t.v4, t.v4Plan = append(t.v4, part.V4[i]), append(t.v4Plan, pi)
	})
	t.v6Plan = make([]uint16, 0, b.countRuns(part.V6Loc, planOf))
	t.v6 = make([]uint32, 0, cap(t.v6Plan))
	b.fold(part.V6Loc, planOf, func(i int, pi uint16) {
		t.v6, t.v6Plan = append(t.v6, uint32(i)), append(t.v6Plan, pi)
	})
	t.plans = slices.Clip(t.plans)
	return t
}

// intern returns the index of p's plan in t, adding it when new; ok is
// false when the index space is full.
func (b *scopeBuilder) intern(t *scopeTable, p *plan, spread bool) (uint16, bool) {
	k := p.foldKey(spread)
	if i, ok := b.index[k]; ok {
		return i, true
	}
	if len(t.plans) >= noPlan {
		return 0, false
	}
	i := uint16(len(t.plans))
	b.index[k] = i
	t.plans = append(t.plans, *p)
	return i, true
}

// countRuns counts the runs fold will emit for locs.
func (b *scopeBuilder) countRuns(locs []int32, planOf func(int32) uint16) int {
	n := 0
	b.fold(locs, planOf, func(int, uint16) { n++ })
	return n
}

// fold calls emit with the index of the first range of each run of ranges
// with the same plan, and that plan.
func (b *scopeBuilder) fold(locs []int32, planOf func(int32) uint16, emit func(i int, pi uint16)) {
	prev := -1
	for i, loc := range locs {
		if b.yield && i%yieldEvery == yieldEvery-1 {
			runtime.Gosched()
		}
		pi := planOf(loc)
		if int(pi) == prev {
			continue
		}
		emit(i, pi)
		prev = int(pi)
	}
}

// sameRuns says whether two tables of one partition hold the same runs and
// plans, so one can stand for the other (an A and an AAAA table of a name
// whose regions all have both families fold alike).
func (t *scopeTable) sameRuns(u *scopeTable) bool {
	return t.part == u.part && slices.Equal(t.v4, u.v4) && slices.Equal(t.v4Plan, u.v4Plan) &&
		slices.Equal(t.v6, u.v6) && slices.Equal(t.v6Plan, u.v6Plan) && slices.Equal(t.plans, u.plans)
}
