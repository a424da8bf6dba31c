package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/glb-dns/glb/geo/geotest"
)

// putFunc writes one key under the prefix.
type putFunc func(ctx context.Context, key, value string) error

// drainOrder is the order in which regions are drained, two at a time.
// Neighbours in it are on different continents, so a continent always keeps
// a region, which the GeoIP checks rely on.
var drainOrder = []string{"us-east", "eu-west", "ap-northeast", "us-west", "eu-central", "ap-southeast", "sa-east"}

// flipper changes weights every tick and rotates which two regions are
// drained every rotateEvery ticks, so a region stays drained for two
// rotations. Never more than two of seven regions are drained.
type flipper struct {
	put         putFunc
	timeline    *drainTimeline
	tick        time.Duration
	rotateEvery int
	rng         *rand.Rand

	puts, putErrs atomic.Int64
	maxPut        atomic.Int64 // ns
}

func (f *flipper) Run(ctx context.Context) error {
	t := time.NewTicker(f.tick)
	defer t.Stop()
	var drained []string
	next := 0
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if n%f.rotateEvery != 0 {
			// A weight change of a region in service: the weighted name's
			// split moves, and glbd rebuilds its snapshot.
			r := drainOrder[f.rng.IntN(len(drainOrder))]
			if !slices.Contains(drained, r) {
				f.write(ctx, r, strconv.Itoa(1+f.rng.IntN(1000)))
			}
			continue
		}
		if len(drained) == 2 {
			r := drained[0]
			drained = drained[1:]
			f.timeline.readmitted(r, time.Now()) // before the put: glbd may see it at once
			f.write(ctx, r, strconv.Itoa(1+f.rng.IntN(1000)))
		}
		r := drainOrder[next%len(drainOrder)]
		next++
		if f.write(ctx, r, "0") {
			f.timeline.drained(r, time.Now()) // after the put: glbd cannot see it before
		}
		drained = append(drained, r)
	}
}

// write puts a region's weight and reports whether the put succeeded.
func (f *flipper) write(ctx context.Context, region, weight string) bool {
	start := time.Now()
	err := f.put(ctx, "regions/"+region+"/weight", weight)
	took := time.Since(start)
	if ctx.Err() != nil {
		return false // cut by the end of the soak, not a failure
	}
	f.puts.Add(1)
	if err != nil {
		f.putErrs.Add(1)
		return false
	}
	if int64(took) > f.maxPut.Load() {
		f.maxPut.Store(int64(took))
	}
	return true
}

// proberSpec is a glbprobe to run: id and location.
type proberSpec struct {
	id, location string
}

// proberChurn starts a prober every period and stops it a period later,
// each time with a new id and another location; and in between makes one
// region's backend fail for half a period, so health changes too. The
// failing regions are in the Americas, which the GeoIP checks do not watch.
type proberChurn struct {
	period   time.Duration
	start    func(proberSpec) (*process, error)
	backends map[string]*backend
	errs     []error // read after Run returns

	joins, leaves, healthFlips atomic.Int64
}

var churnLocations = []string{"35.68,139.69", "-23.55,-46.63", "39.04,-77.49", "51.51,-0.13", "1.29,103.85"}
var failingRegions = []string{"us-east", "sa-east", "us-west"}

func (c *proberChurn) Run(ctx context.Context) error {
	var p *process
	defer func() {
		if p != nil {
			if err := p.Stop(10 * time.Second); err != nil {
				c.errs = append(c.errs, err)
			}
		}
		for _, b := range c.backends {
			b.failing.Store(false)
		}
	}()
	t := time.NewTicker(c.period / 2)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if n%2 == 1 {
			// Half-way: a backend fails until the next half period.
			r := failingRegions[(n/2)%len(failingRegions)]
			c.backends[r].failing.Store(true)
			c.healthFlips.Add(1)
			continue
		}
		for _, b := range c.backends {
			if b.failing.Swap(false) {
				c.healthFlips.Add(1)
			}
		}
		if p != nil {
			if err := p.Stop(10 * time.Second); err != nil {
				c.errs = append(c.errs, err)
			}
			p = nil
			c.leaves.Add(1)
			continue
		}
		k := c.joins.Load()
		var err error
		p, err = c.start(proberSpec{id: fmt.Sprintf("soak-churn-%d", k), location: churnLocations[int(k)%len(churnLocations)]})
		if err != nil {
			c.errs = append(c.errs, err)
			return err
		}
		c.joins.Add(1)
	}
}

// geoVersion is one GeoIP database the soak installs, and a client whose
// answer shows that glbd reads it: the client's www answer must be in one
// of the wanted regions.
type geoVersion struct {
	what   string
	rows   []geotest.Row
	client netip.Prefix
	want   []string
}

// geoVersions are the two replacements: London moves to Tokyo, then back,
// while Milton (WA) moves to Frankfurt.
func geoVersions(rows []geotest.Row) []geoVersion {
	london, milton := netip.MustParsePrefix("81.2.69.0/24"), netip.MustParsePrefix("216.160.83.0/24")
	tokyo, frankfurt := netip.MustParsePrefix("133.242.0.0/16"), netip.MustParsePrefix("91.198.174.0/24")
	return []geoVersion{
		{"London moved to Tokyo", geotest.Move(rows, london, tokyo), london, []string{"ap-northeast", "ap-southeast"}},
		{"Milton moved to Frankfurt", geotest.Move(rows, milton, frankfurt), milton, []string{"eu-west", "eu-central"}},
	}
}
