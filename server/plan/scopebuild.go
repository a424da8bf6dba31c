package plan

import (
	"runtime"
	"slices"

	"github.com/glb-dns/glb/geo"
)

// ScopeBuilder folds partitions into scope tables. It keeps its buffers
// between builds, so a rebuild after a configuration change allocates
// only the table it returns: the queries served meanwhile do not pay for
// the builder's garbage in collector assists.
type ScopeBuilder struct {
	locPlan []uint16             // plan index per partition location
	index   map[planIdent]uint16 // plan key -> index into the table's plans
	// Yield makes the builder step aside (runtime.Gosched) every
	// yieldEvery ranges: with two cores, a build that ran for hundreds of
	// milliseconds without yielding would leave UDP readers waiting for a
	// processor. Off for synchronous builds (Explain).
	Yield bool
}

// yieldEvery and yieldPlans are how many ranges the builder folds, and
// how many locations it plans for, between yields: about a millisecond of
// work each (ranking 20 regions for one location takes ~8 µs), well
// under the runtime's 10 ms preemption slice.
const (
	yieldEvery = 1 << 15
	yieldPlans = 128
)

// BuildScopeTable folds the partition for the plans of g on qtype under ht
// with a builder of its own (for one-off builds).
func BuildScopeTable(part *geo.Partition, g *Name, qtype uint16, ht *HealthTable) *ScopeTable {
	var b ScopeBuilder
	return b.Build(part, g, qtype, ht)
}

// Build folds the partition for the plans of g on qtype under ht. A table
// whose plans would not fit the 16-bit index (more than 65,534 distinct
// plans) is returned empty: every lookup in it misses and the GeoIP
// network is used, which is narrower but true.
func (b *ScopeBuilder) Build(part *geo.Partition, g *Name, qtype uint16, ht *HealthTable) *ScopeTable {
	t := &ScopeTable{Part: part}
	if b.index == nil {
		b.index = map[planIdent]uint16{}
	}
	clear(b.index)
	// A shed client goes down the rest of its ranking, so while a region
	// sheds, plans that differ there differ (see ShedBits for the rest).
	rest := g.Spread || ht.Shedding
	// Plans depend only on the location, so decide once per location.
	b.locPlan = slices.Grow(b.locPlan[:0], len(part.Locs))[:len(part.Locs)]
	for i, loc := range part.Locs {
		if b.Yield && i%yieldPlans == yieldPlans-1 {
			runtime.Gosched()
		}
		p := g.Plan(qtype, loc, part.Found[i], ht)
		idx, ok := b.intern(t, &p, rest)
		if !ok {
			return &ScopeTable{Part: part}
		}
		b.locPlan[i] = idx
	}
	unknown := g.Plan(qtype, geo.Location{}, false, ht)
	unknownIdx, ok := b.intern(t, &unknown, rest)
	if !ok {
		return &ScopeTable{Part: part}
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
	t.V4 = make([]uint32, 0, cap(t.v4Plan))
	b.fold(part.V4Loc, planOf, func(i int, pi uint16) {
		t.V4, t.v4Plan = append(t.V4, part.V4[i]), append(t.v4Plan, pi)
	})
	t.v6Plan = make([]uint16, 0, b.countRuns(part.V6Loc, planOf))
	t.V6 = make([]uint32, 0, cap(t.v6Plan))
	b.fold(part.V6Loc, planOf, func(i int, pi uint16) {
		t.V6, t.v6Plan = append(t.V6, uint32(i)), append(t.v6Plan, pi)
	})
	t.Plans = slices.Clip(t.Plans)
	t.indexV4()
	return t
}

// intern returns the index of p's plan in t, adding it when new; ok is
// false when the index space is full.
func (b *ScopeBuilder) intern(t *ScopeTable, p *Plan, spread bool) (uint16, bool) {
	k := p.foldKey(spread)
	if i, ok := b.index[k]; ok {
		return i, true
	}
	if len(t.Plans) >= noPlan {
		return 0, false
	}
	i := uint16(len(t.Plans))
	b.index[k] = i
	t.Plans = append(t.Plans, *p)
	return i, true
}

// countRuns counts the runs fold will emit for locs.
func (b *ScopeBuilder) countRuns(locs []int32, planOf func(int32) uint16) int {
	n := 0
	b.fold(locs, planOf, func(int, uint16) { n++ })
	return n
}

// fold calls emit with the index of the first range of each run of ranges
// with the same plan, and that plan.
func (b *ScopeBuilder) fold(locs []int32, planOf func(int32) uint16, emit func(i int, pi uint16)) {
	prev := -1
	for i, loc := range locs {
		if b.Yield && i%yieldEvery == yieldEvery-1 {
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

// SameRuns says whether two tables of one partition hold the same runs and
// plans, so one can stand for the other (an A and an AAAA table of a name
// whose regions all have both families fold alike).
func (t *ScopeTable) SameRuns(u *ScopeTable) bool {
	return t.Part == u.Part && slices.Equal(t.V4, u.V4) && slices.Equal(t.v4Plan, u.v4Plan) &&
		slices.Equal(t.V6, u.V6) && slices.Equal(t.v6Plan, u.v6Plan) && slices.Equal(t.Plans, u.Plans)
}
