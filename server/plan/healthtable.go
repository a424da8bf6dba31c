package plan

import (
	"math"
	"slices"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store/schema"
)

// maxProbers bounds how many probers the latency policy considers, so the
// per-query ranking of probers by distance lives on the stack. Probers past
// it (by id order) are ignored by the latency estimate, not by health.
const maxProbers = 128

// HealthTable is the health part of a snapshot, aligned with config.regions
// so the query path indexes slices instead of looking up maps.
type HealthTable struct {
	// Shedding is set when some region sheds (load.go): the query path
	// then tests the drawn region's share; else it skips the test.
	// It and loaded share the query path's cache line with Regions.
	Shedding bool
	loaded   bool // some region has a load (balance "headroom" reads them)
	Regions  []regionHealth
	Probers  []geoPoint     // registered probers, at most maxProbers
	RTT      [][]float64    // rtt[region][prober] in ms; NaN where the prober has no measurement
	View     *health.View   // what the table was built from, for status and tests
	marks    []*schema.Shed // the regions' watermarks, by index (ApplyLoads)
}

// regionHealth is one region's verdict: whether it may be answered with,
// and which of its addresses (bit i = addrs[i]) are up.
type regionHealth struct {
	Up      bool
	Checked bool // fresh reports exist; false: no check, or no data yet
	Mask    uint64
	// Load is the region's load when HasLoad (from LoadSource: "key" or
	// "probers"), and Shed the share of its clients it moves away now,
	// 0..1 (load.go).
	Load       float64
	HasLoad    bool
	LoadSource string
	Shed       float64
}

type geoPoint struct{ lat, lon float64 }

// allUp is the mask of a region whose addresses are all up.
func allUp(n int) uint64 {
	if n >= 64 {
		return math.MaxUint64
	}
	return 1<<n - 1
}

// BuildHealth aligns a View with the configuration. A nil View, or a region
// the View does not know, counts as up with every address.
func BuildHealth(c *Config, v *health.View) *HealthTable {
	ht := &HealthTable{Regions: make([]regionHealth, len(c.Regions)), View: v}
	if v != nil {
		for _, p := range v.Probers[:min(len(v.Probers), maxProbers)] {
			ht.Probers = append(ht.Probers, geoPoint{p.Lat, p.Lon})
		}
	}
	ht.RTT = make([][]float64, len(c.Regions))
	for i, r := range c.Regions {
		ht.Regions[i] = regionHealth{Up: true, Mask: allUp(len(r.Addrs))}
		row := make([]float64, len(ht.Probers))
		for j := range row {
			row[j] = math.NaN()
		}
		ht.RTT[i] = row
		if v == nil {
			continue
		}
		rh := v.Regions[r.ID]
		if rh == nil {
			continue
		}
		var mask uint64
		for j, ep := range rh.Endpoints {
			if ep.Up && j < 64 {
				mask |= 1 << j
			}
		}
		ht.Regions[i] = regionHealth{Up: rh.Up, Checked: rh.Checked, Mask: mask}
		if !rh.Checked {
			ht.Regions[i].Mask = allUp(len(r.Addrs))
		}
		for j, p := range v.Probers[:len(ht.Probers)] {
			if d, ok := rh.RTT[p.ID]; ok {
				row[j] = float64(d.Microseconds()) / 1000
			}
		}
	}
	return ht
}

// Latency policy constants, documented in README.md.
const (
	// LatencyProbers is k: a region's RTT from a client is estimated from
	// the k probers nearest the client that measured the region.
	LatencyProbers = 3
	// MsPerKm converts great-circle distance to an RTT estimate for
	// regions without measurements: light in fibre covers about 100 km per
	// millisecond of round trip, and real paths are about 1.5 times longer
	// than the great circle.
	MsPerKm = 0.015
	// TierMinMs is the latency tier's floor, the RTT of TierMinKm.
	TierMinMs = TierMinKm * MsPerKm
)

// proberOrder writes into order the indices of the probers sorted by
// distance from loc and returns how many there are.
func (ht *HealthTable) proberOrder(loc geo.Location, order []int, dist []float64) int {
	n := len(ht.Probers)
	for i, p := range ht.Probers {
		order[i] = i
		dist[i] = geo.Distance(loc.Lat, loc.Lon, p.lat, p.lon)
	}
	// Insertion sort: few probers, no allocation.
	for i := 1; i < n; i++ {
		for j := i; j > 0 && dist[order[j]] < dist[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	return n
}

// estimateRTT estimates the RTT from the client to region idx from the k
// probers nearest the client (order and dist from proberOrder) that measured
// the region: the median over them of the prober's RTT plus the client's
// distance to that prober converted at MsPerKm. The distance term keeps a
// far-away prober's short RTT to a region near itself from standing in for
// the client's; for a prober next to the client it vanishes. ok is false
// when no prober measured the region.
func (ht *HealthTable) estimateRTT(idx int, order []int, dist []float64) (ms float64, ok bool) {
	var got [LatencyProbers]float64
	n := 0
	row := ht.RTT[idx]
	for _, p := range order {
		if v := row[p]; !math.IsNaN(v) {
			got[n] = v + dist[p]*MsPerKm
			n++
			if n == LatencyProbers {
				break
			}
		}
	}
	if n == 0 {
		return 0, false
	}
	vals := got[:n]
	slices.Sort(vals)
	if n%2 == 1 {
		return vals[n/2], true
	}
	return (vals[n/2-1] + vals[n/2]) / 2, true
}
