package plan

import (
	"math"
	"net/netip"
	"time"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store/schema"
)

// Load-aware steering. A region with watermarks moves a share of its
// clients away as its load passes them (schema.Shed.Keep). Which clients
// move is decided per client subnet of ShedV4/ShedV6 bits by a hash of the
// subnet and the region, so a subnet stays put while the share is steady
// and the ECS scope of an answer is never wider than that subnet. The
// share is computed once per snapshot; per query the test is one hash and
// one compare (Name.shed).

// The shedding granularity: client subnets that move together.
const (
	ShedV4 = 24
	ShedV6 = 56
)

// Hysteresis in time (Shedder): the applied share may keep moving the way
// it last moved at any time, but reverses only ShedHold after its last
// reversal, or at once when the load moved by more than ShedStep since the
// share last changed (a real step, not noise).
const (
	ShedHold = time.Minute
	ShedStep = 0.1
)

// Shedder applies the hysteresis to the regions' shares across snapshots.
// It is owned by the snapshot's builder (not safe for concurrent use).
type Shedder struct {
	regions map[string]*shedState
}

type shedState struct {
	shed   float64   // the share applied
	load   float64   // the load when it last changed
	dir    int       // +1 the share last rose, -1 fell, 0 never moved
	turned time.Time // when it last reversed
}

// NewShedder returns a Shedder with no history.
func NewShedder() *Shedder { return &Shedder{regions: map[string]*shedState{}} }

// share returns the share region id moves away at now, given its target
// share at load.
func (s *Shedder) share(id string, target, load float64, now time.Time) float64 {
	st := s.regions[id]
	if st == nil {
		s.regions[id] = &shedState{shed: target, load: load, turned: now}
		return target
	}
	if target == st.shed {
		return st.shed
	}
	dir := 1
	if target < st.shed {
		dir = -1
	}
	if dir != st.dir && st.dir != 0 && now.Sub(st.turned) < ShedHold && math.Abs(load-st.load) <= ShedStep+1e-9 {
		return st.shed // a reversal within the hold, by no more than noise
	}
	if dir != st.dir {
		st.dir, st.turned = dir, now
	}
	st.shed, st.load = target, load
	return target
}

// ApplyLoads sets each region's load (from loads, by region id) and its
// shed share. With sh nil the share is the linear one (a what-if); else
// sh's hysteresis applies at now.
func (ht *HealthTable) ApplyLoads(c *Config, loads map[string]health.RegionLoad, sh *Shedder, now time.Time) {
	ht.Shedding, ht.loaded = false, false
	ht.marks = make([]*schema.Shed, len(c.Regions))
	for i, r := range c.Regions {
		ht.marks[i] = r.Shed
		rh := &ht.Regions[i]
		l, ok := loads[r.ID]
		rh.Load, rh.HasLoad, rh.LoadSource, rh.Shed = l.Load, ok, l.Source, 0
		target := 0.0
		if ok && r.Shed != nil {
			target = 1 - r.Shed.Keep(l.Load)
		}
		if sh != nil {
			target = sh.share(r.ID, target, l.Load, now)
		}
		rh.Shed = target
		ht.Shedding = ht.Shedding || target > 0
		ht.loaded = ht.loaded || ok
	}
	if sh != nil && len(sh.regions) > len(c.Regions) {
		for id := range sh.regions {
			if _, ok := c.RegionIdx[id]; !ok {
				delete(sh.regions, id)
			}
		}
	}
}

// SameLoads says whether o sheds and loads exactly as ht does, so that a
// health tick that changed nothing keeps the snapshot in force.
func (ht *HealthTable) SameLoads(o *HealthTable) bool {
	if len(ht.Regions) != len(o.Regions) {
		return false
	}
	for i, r := range ht.Regions {
		x := o.Regions[i]
		if r.Load != x.Load || r.HasLoad != x.HasLoad || r.Shed != x.Shed || r.LoadSource != x.LoadSource {
			return false
		}
	}
	return true
}

// ShedBits is the subnet a shed decision holds for (0: nothing sheds), so
// that an answer's ECS scope is never wider.
func (ht *HealthTable) ShedBits(client netip.Addr) int {
	if !ht.Shedding || !client.IsValid() {
		return 0
	}
	if client.Is4() {
		return ShedV4
	}
	return ShedV6
}

// shedSubnet is the client's shedding subnet.
func shedSubnet(client netip.Addr) [16]byte {
	bits := ShedV6
	if client.Is4() {
		bits = ShedV4
	}
	return netip.PrefixFrom(client, bits).Masked().Addr().As16()
}

// shedUnit maps a subnet and a region to [0,1): the subnet moves away from
// the region when it is below the region's shed share. The salt keeps it
// independent of sticky's rendezvous hash of the same pair.
func shedUnit(subnet [16]byte, id string) float64 {
	subnet[15] ^= 0x5a // sticky hashes masked subnets, whose last byte is 0
	return float64(hrwHash(subnet, id)>>11) / (1 << 53)
}

// keeps says whether region i of g keeps the client of subnet.
func (g *Name) keeps(i uint8, subnet [16]byte, ht *HealthTable) bool {
	r := g.Regions[i]
	s := ht.Regions[r.Idx].Shed
	return s <= 0 || shedUnit(subnet, r.ID) >= s
}

// shed returns the region that answers the client when first was drawn:
// first when it keeps the client; else the member of the rest of the tier
// that keeps it with the best weighted rendezvous score; else the first
// region further down the ranking that keeps it; else the candidate with
// the most room below its high; else (every candidate at or above its
// high) the least loaded candidate.
func (g *Name) shed(p *Plan, first uint8, client netip.Addr, ht *HealthTable) (uint8, bool) {
	if !client.IsValid() {
		return first, false
	}
	subnet := shedSubnet(client)
	if g.keeps(first, subnet, ht) {
		return first, false
	}
	best, bestScore := -1, math.Inf(-1)
	for _, i := range p.Tier() {
		if i == first || !g.keeps(i, subnet, ht) {
			continue
		}
		u := (float64(hrwHash(subnet, g.Regions[i].ID)>>11) + 0.5) / (1 << 53)
		if s := -float64(DrawWeight(g.Regions[i])) / math.Log(u); s > bestScore {
			best, bestScore = int(i), s
		}
	}
	if best >= 0 {
		return uint8(best), true
	}
	for _, i := range p.Order[p.NTier:p.N] {
		if g.keeps(i, subnet, ht) {
			return i, true
		}
	}
	// Every candidate sheds this subnet. Those below their high still
	// have room: the one with the most room to its high answers; when
	// none has any, the least loaded.
	best, room := -1, 0.0
	least := first
	for _, i := range p.Order[:p.N] {
		h, marks := ht.Regions[g.Regions[i].Idx], ht.marks[g.Regions[i].Idx]
		if marks != nil && marks.High-h.Load > room {
			best, room = int(i), marks.High-h.Load
		}
		if h.Load < ht.Regions[g.Regions[least].Idx].Load {
			least = i
		}
	}
	if best >= 0 {
		return uint8(best), uint8(best) != first
	}
	return least, least != first
}

// spare is region i's share of spare capacity, 1 − load, floor 0; a region
// without a load counts as idle.
func (g *Name) spare(i uint8, ht *HealthTable) float64 {
	h := ht.Regions[g.Regions[i].Idx]
	if !h.HasLoad {
		return 1
	}
	return max(0, 1-h.Load)
}

// headroomScale is the fixed-point scale of headroom weights in a random
// draw.
const headroomScale = 1000

// drawHeadroom is Draw with each tier member's weight scaled by its spare
// capacity (balance "headroom"); when no member has any, Draw as usual.
func (g *Name) drawHeadroom(p *Plan, client netip.Addr, ht *HealthTable, intn func(int) int) uint8 {
	tier := p.Tier()
	if len(tier) == 1 {
		return tier[0]
	}
	if bits := g.StickyBits(client); bits > 0 {
		subnet := netip.PrefixFrom(client, bits).Masked().Addr().As16()
		best, bestScore := -1, math.Inf(-1)
		for _, i := range tier {
			w := float64(DrawWeight(g.Regions[i])) * g.spare(i, ht)
			if w <= 0 {
				continue
			}
			u := (float64(hrwHash(subnet, g.Regions[i].ID)>>11) + 0.5) / (1 << 53)
			if s := -w / math.Log(u); s > bestScore {
				best, bestScore = int(i), s
			}
		}
		if best >= 0 {
			return uint8(best)
		}
		return g.Draw(p, client, intn)
	}
	var w [maxCandidates]int
	total := 0
	for k, i := range tier {
		w[k] = int(float64(DrawWeight(g.Regions[i])*headroomScale) * g.spare(i, ht))
		total += w[k]
	}
	if total == 0 {
		return g.Draw(p, client, intn)
	}
	n := intn(total)
	for k, i := range tier {
		if n < w[k] {
			return i
		}
		n -= w[k]
	}
	return tier[len(tier)-1]
}

// Choose draws the region that answers client from p's tier (by weight, or
// by headroom for balance "headroom"), then applies shedding. shed says
// whether the region drawn first moved the client away.
func (g *Name) Choose(p *Plan, client netip.Addr, ht *HealthTable, intn func(int) int) (region uint8, shed bool) {
	if g.headroom && ht.hasLoad() {
		region = g.drawHeadroom(p, client, ht, intn)
	} else {
		region = g.Draw(p, client, intn)
	}
	if !ht.Shedding {
		return region, false
	}
	return g.shed(p, region, client, ht)
}

// hasLoad says whether any region has a load.
func (ht *HealthTable) hasLoad() bool { return ht.loaded }

// RegionLoad returns region idx's load (ok: it has one), its shed share
// and watermarks (nil: none), for explain and status.
func (ht *HealthTable) RegionLoad(c *Config, idx int) (load float64, ok bool, source string, shed float64, marks *schema.Shed) {
	h := ht.Regions[idx]
	return h.Load, h.HasLoad, h.LoadSource, h.Shed, c.Regions[idx].Shed
}

// AfterShed returns the region that answers client when drawn was drawn
// from p's tier, and whether shedding moved it: what the query path does
// after its draw, for explain and simulate.
func (g *Name) AfterShed(p *Plan, drawn uint8, client netip.Addr, ht *HealthTable) (uint8, bool) {
	if !ht.Shedding {
		return drawn, false
	}
	return g.shed(p, drawn, client, ht)
}

// Keeps says whether region i of g keeps client at its current shed share.
func (g *Name) Keeps(i uint8, client netip.Addr, ht *HealthTable) bool {
	return !client.IsValid() || g.keeps(i, shedSubnet(client), ht)
}

// TierWeight is region i's weight in the tier's draw: its draw weight,
// scaled by its spare capacity for balance "headroom" (as Choose draws).
func (g *Name) TierWeight(i uint8, ht *HealthTable) float64 {
	w := float64(DrawWeight(g.Regions[i]))
	if g.headroom && ht.hasLoad() {
		w *= g.spare(i, ht)
	}
	return w
}

// Headroom says whether the name balances by headroom.
func (g *Name) Headroom() bool { return g.headroom }
