package geo

import (
	"fmt"
	"math"
	"net/netip"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Partition is the database seen as a partition of the address space: every
// network of the tree, with or without data, in address order (IPv4 first,
// as IPv4 prefixes, then IPv6). The server folds it into runs of networks
// that get the same answer, to give resolvers the widest ECS scope that is
// still true. Aliases of the IPv4 space inside IPv6 (6to4, Teredo) are not
// listed; callers treat addresses outside every cell as unknown territory.
type Partition struct {
	Cells []Cell
	// Locs are the distinct locations of cells with coordinates; Cell.Loc
	// indexes it. Many networks share a location, so deciding once per
	// location instead of once per network is most of the speed-up.
	Locs []Location
}

// Cell is one network of the partition.
type Cell struct {
	Prefix netip.Prefix
	Loc    int32 // index into Partition.Locs; -1 when the network has no record
	Found  bool  // the record has coordinates (as Lookup's found)
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
		cell := Cell{Prefix: pfx, Loc: -1}
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
		p.Cells = append(p.Cells, cell)
	}
	return p, nil
}
