package geo

import (
	"fmt"
	"math"
	"net/netip"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Partition is the database seen as a partition of the address space:
// every network of the tree, with or without data, in address order (IPv4
// first, then IPv6), with neighbouring networks of the same location merged
// into one range. The server folds it into runs of ranges that get the same
// answer, to give resolvers the widest ECS scope that is still true.
// Aliases of the IPv4 space inside IPv6 (6to4, Teredo) are not listed;
// callers treat addresses outside every range as unknown territory.
//
// Merging matters for memory: the empty space between a database's
// networks is listed as many aligned prefixes, and neighbouring networks
// often share a city; a million-network database becomes about two million
// ranges of 48 bytes instead of several million networks.
type Partition struct {
	Ranges []Range
	// Locs are the distinct locations of ranges with a record; Range.Loc
	// indexes it. Many networks share a location, so deciding once per
	// location instead of once per network is most of the speed-up.
	Locs []Location
}

// Range is a run of consecutive networks with the same location.
type Range struct {
	First, Last Addr128 // inclusive; IPv4 as the low 32 bits
	Loc         int32   // index into Partition.Locs; -1 when the networks have no record
	Networks    uint32  // how many database networks the range merges
	V4          bool
	Found       bool // the record has coordinates (as Lookup's found)
}

// Addr128 is an address as a 128-bit number.
type Addr128 struct{ Hi, Lo uint64 }

// Next returns a+1.
func (a Addr128) Next() Addr128 {
	if a.Lo == math.MaxUint64 {
		return Addr128{Hi: a.Hi + 1}
	}
	return Addr128{Hi: a.Hi, Lo: a.Lo + 1}
}

// prefixBounds returns the first and last address of p as numbers.
func prefixBounds(p netip.Prefix) (first, last Addr128, v4 bool) {
	a := p.Masked().Addr()
	if a.Is4() {
		b := a.As4()
		x := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		host := uint64(1)<<(32-p.Bits()) - 1
		return Addr128{Lo: x}, Addr128{Lo: x | host}, true
	}
	b := a.As16()
	hi, lo := beUint64(b[:8]), beUint64(b[8:])
	first = Addr128{hi, lo}
	switch hostBits := 128 - p.Bits(); {
	case hostBits >= 128:
		last = Addr128{math.MaxUint64, math.MaxUint64}
	case hostBits >= 64:
		last = Addr128{hi | (uint64(1)<<(hostBits-64) - 1), math.MaxUint64}
	default:
		last = Addr128{hi, lo | (uint64(1)<<hostBits - 1)}
	}
	return first, last, false
}

func beUint64(b []byte) uint64 {
	var x uint64
	for _, c := range b {
		x = x<<8 | uint64(c)
	}
	return x
}

// partitionCache holds the partition of one reader, computed on first use.
type partitionCache struct {
	reader *maxminddb.Reader
	once   sync.Once
	p      *Partition
	err    error
}

// Partition returns the partition of the database in use, computing it on
// the first call after each load (about a second per million networks).
// It is meant for background work, never the query path.
func (d *DB) Partition() (*Partition, error) {
	r := d.reader.Load()
	if r == nil {
		return nil, ErrClosed
	}
	c := d.partition.Load()
	if c == nil || c.reader != r {
		fresh := &partitionCache{reader: r}
		if d.partition.CompareAndSwap(c, fresh) {
			c = fresh
		} else {
			c = d.partition.Load()
		}
	}
	c.once.Do(func() { c.p, c.err = buildPartition(r) })
	if c.err != nil {
		return nil, c.err
	}
	return c.p, nil
}

// locKey identifies a location for de-duplication.
type locKey struct {
	lat, lon                        float64
	country, continent, subdivision string
}

func buildPartition(r *maxminddb.Reader) (*Partition, error) {
	p := &Partition{}
	seen := map[locKey]int32{}
	var rec record
	for res := range r.Networks(maxminddb.IncludeNetworksWithoutData()) {
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("walk geoip networks: %w", err)
		}
		pfx := res.Prefix()
		if a := pfx.Addr(); a.Is4In6() {
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		first, last, v4 := prefixBounds(pfx)
		cell := Range{First: first, Last: last, Loc: -1, Networks: 1, V4: v4}
		if res.Found() {
			rec = record{}
			rec.Location.Latitude, rec.Location.Longitude = math.NaN(), math.NaN()
			if err := res.Decode(&rec); err != nil {
				return nil, fmt.Errorf("decode geoip record for %s: %w", pfx, err)
			}
			// The same fields as Lookup, so a cell's location is exactly
			// what a query from inside it sees.
			loc := Location{Country: rec.Country.ISOCode, Continent: rec.Continent.Code}
			if len(rec.Subdivisions) > 0 {
				loc.Subdivision = rec.Subdivisions[0].ISOCode
			}
			cell.Found = !math.IsNaN(rec.Location.Latitude) && !math.IsNaN(rec.Location.Longitude)
			if cell.Found {
				loc.Lat, loc.Lon = rec.Location.Latitude, rec.Location.Longitude
			}
			k := locKey{loc.Lat, loc.Lon, loc.Country, loc.Continent, loc.Subdivision}
			idx, ok := seen[k]
			if !ok {
				idx = int32(len(p.Locs))
				seen[k] = idx
				p.Locs = append(p.Locs, loc)
			}
			cell.Loc = idx
		}
		if n := len(p.Ranges); n > 0 {
			prev := &p.Ranges[n-1]
			if prev.V4 == cell.V4 && prev.Loc == cell.Loc && prev.Found == cell.Found && prev.Last.Next() == cell.First {
				prev.Last = cell.Last
				prev.Networks++
				continue
			}
		}
		p.Ranges = append(p.Ranges, cell)
	}
	return p, nil
}
