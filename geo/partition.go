package geo

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Partition is the database seen as a partition of the address space:
// every network of the tree, with or without data, in address order, with
// neighbouring networks of the same location merged into one range. The
// server folds it into runs of ranges that get the same answer, to give
// resolvers the widest ECS scope that is still true. Aliases of the IPv4
// space inside IPv6 (6to4, Teredo) are not listed: they are gaps (LocGap),
// and callers treat addresses in a gap as unknown territory.
//
// The layout is compact because a million-network database becomes about
// two million ranges and the partition lives as long as the database: a
// range is only its first address and a location index (8 bytes for IPv4,
// 12 for IPv6), with no pointers for the garbage collector to scan. A
// range ends where the next begins; the last one of a family ends at the
// family's last address. IPv6 networks longer than /64 are rare (3 in a
// million in the generated database), so an IPv6 start is kept as its
// upper 64 bits, with the few non-zero lower halves aside (V6At).
type Partition struct {
	V4    []uint32 // first address of each IPv4 range, ascending; V4[0] is 0
	V4Loc []int32  // location of each IPv4 range: an index into Locs, LocNone or LocGap
	V6Hi  []uint64 // upper half of the first address of each IPv6 range (V6At)
	V6Loc []int32
	// v6LoAt lists, ascending, the IPv6 ranges whose first address has a
	// non-zero lower half, and v6Lo those halves.
	v6LoAt []uint32
	v6Lo   []uint64
	// Locs are the distinct locations of ranges with a record. Many
	// networks share a location, so deciding once per location instead of
	// once per network is most of the speed-up.
	Locs []Location
	// Found says, per location, whether the record has coordinates (as
	// Lookup's found).
	Found []bool
	// Networks counts, per location, the database networks that have it.
	Networks []uint32
}

// Location codes of ranges without an index into Partition.Locs.
const (
	LocNone = -1 // networks without a record
	LocGap  = -2 // addresses the partition does not list (aliases)
)

// Ranges is the number of ranges of both families, gaps included.
func (p *Partition) Ranges() int { return len(p.V4) + len(p.V6Hi) }

// V6At returns the first address of IPv6 range i; the starts ascend with
// i, and V6At(0) is ::.
func (p *Partition) V6At(i int) Addr128 {
	a := Addr128{Hi: p.V6Hi[i]}
	// A search over a handful of entries: no allocation, a few compares.
	lo, hi := 0, len(p.v6LoAt)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch at := int(p.v6LoAt[m]); {
		case at == i:
			a.Lo = p.v6Lo[m]
			return a
		case at < i:
			lo = m + 1
		default:
			hi = m
		}
	}
	return a
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

// Prev returns a-1.
func (a Addr128) Prev() Addr128 {
	if a.Lo == 0 {
		return Addr128{Hi: a.Hi - 1, Lo: math.MaxUint64}
	}
	return Addr128{Hi: a.Hi, Lo: a.Lo - 1}
}

// Less orders addresses.
func (a Addr128) Less(b Addr128) bool { return a.Hi < b.Hi || a.Hi == b.Hi && a.Lo < b.Lo }

// AddrOf returns a as a number: an IPv4 address (IPv4-mapped ones
// included) in the low 32 bits, with v4 true.
func AddrOf(a netip.Addr) (x Addr128, v4 bool) {
	if a.Is4() || a.Is4In6() {
		b := a.Unmap().As4()
		return Addr128{Lo: uint64(binary.BigEndian.Uint32(b[:]))}, true
	}
	b := a.As16()
	return Addr128{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}, false
}

// Bounds returns the first and last address of the prefix of length bits
// around x, in an address space of the given width (32 or 128).
func Bounds(x Addr128, bits, width int) (first, last Addr128) {
	host := width - bits // host bits, counted from the low end
	var mhi, mlo uint64  // host mask
	switch {
	case host >= 128:
		mhi, mlo = math.MaxUint64, math.MaxUint64
	case host > 64:
		mhi, mlo = 1<<(host-64)-1, math.MaxUint64
	case host == 64:
		mlo = math.MaxUint64
	case host > 0:
		mlo = 1<<host - 1
	}
	first = Addr128{Hi: x.Hi &^ mhi, Lo: x.Lo &^ mlo}
	return first, Addr128{Hi: first.Hi | mhi, Lo: first.Lo | mlo}
}

// prefixBounds returns the first and last address of p as numbers.
func prefixBounds(p netip.Prefix) (first, last Addr128, v4 bool) {
	x, v4 := AddrOf(p.Addr())
	width := 128
	if v4 {
		width = 32
	}
	first, last = Bounds(x, p.Bits(), width)
	return first, last, v4
}

// partitionCache holds the partition of one reader, computed on first use.
type partitionCache struct {
	reader *mappedReader
	once   sync.Once
	p      *Partition
	err    error
}

// Partition returns the partition of the database in use, computing it on
// the first call after each load (about a second per million networks).
// It is meant for background work, never the query path.
func (d *DB) Partition() (*Partition, error) {
	mr := d.reader.Load()
	if mr == nil {
		return nil, ErrClosed
	}
	c := d.partition.Load()
	if c == nil || c.reader != mr {
		fresh := &partitionCache{reader: mr}
		if d.partition.CompareAndSwap(c, fresh) {
			c = fresh
		} else {
			c = d.partition.Load()
		}
	}
	c.once.Do(func() {
		c.p, c.err = buildPartition(c.reader.r, c.reader.m.trim)
		c.reader.m.trim() // the walk read every page; queries read few of them
	})
	if c.err != nil {
		return nil, c.err
	}
	return c.p, nil
}

// locKey identifies a location for de-duplication.
type locKey struct {
	lat, lon                        float64
	country, continent, subdivision string
	found                           bool
}

// partitionBuilder appends networks in address order, merging neighbours
// of the same location and recording the gaps between non-adjacent ones.
type partitionBuilder struct {
	p Partition // Locs, Found, Networks, v6LoAt and v6Lo; the rest is in chunks
	// The ranges, in chunks: a growing slice would copy itself some
	// twenty times over a million ranges, and the copies were most of the
	// walk's garbage (see chunks).
	v4    chunks[uint32]
	v4Loc chunks[int32]
	v6Hi  chunks[uint64]
	v6Loc chunks[int32]
	seen  map[locKey]int32
	// byOffset maps a record's offset in the data section to its
	// location: networks share records (a million networks, tens of
	// thousands of records), so each record is decoded once, not once per
	// network. Decoding was most of the walk's time.
	byOffset     map[uintptr]int32
	next4, next6 Addr128 // the address after the last range of each family
}

// trimEvery is how many networks the walk lists between giving the pages
// it read back (trim): the walk reads the whole file, and without it the
// whole file would be resident at the end of the walk, on top of the heap
// at its peak. Pages read again (the top of the tree, shared records) are
// mapped again from the page cache, at a minor fault each.
const trimEvery = 1 << 18

// yieldEvery is how many networks the walk lists between stepping aside
// (runtime.Gosched), about a millisecond of work: on a two-core machine a
// walk that ran for its whole second without yielding would leave the
// UDP readers waiting for a processor whenever the collector took the
// other one.
const yieldEvery = 1 << 11

// buildPartition walks r; trim gives the pages read so far back.
func buildPartition(r *maxminddb.Reader, trim func()) (*Partition, error) {
	b := &partitionBuilder{seen: map[locKey]int32{}, byOffset: map[uintptr]int32{}}
	var rec record
	n := 0
	for res := range r.Networks(maxminddb.IncludeNetworksWithoutData()) {
		if n++; n%yieldEvery == 0 {
			runtime.Gosched()
			if n%trimEvery == 0 {
				trim()
			}
		}
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("walk geoip networks: %w", err)
		}
		pfx := res.Prefix()
		if a := pfx.Addr(); a.Is4In6() {
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		loc := int32(LocNone)
		if res.Found() {
			var ok bool
			if loc, ok = b.byOffset[res.Offset()]; !ok {
				rec.reset()
				if err := res.Decode(&rec); err != nil {
					return nil, fmt.Errorf("decode geoip record for %s: %w", pfx, err)
				}
				loc = b.location(&rec)
				b.byOffset[res.Offset()] = loc
			}
			b.p.Networks[loc]++
		}
		b.add(pfx, loc)
	}
	return b.finish(), nil
}

// location returns the index of rec's location (as Lookup reports it),
// adding it when new. Records that differ only in what glb does not read
// (city names) share a location.
func (b *partitionBuilder) location(rec *record) int32 {
	loc, found := rec.location()
	k := locKey{loc.Lat, loc.Lon, loc.Country, loc.Continent, loc.Subdivision, found}
	idx, ok := b.seen[k]
	if !ok {
		idx = int32(len(b.p.Locs))
		b.seen[k] = idx
		b.p.Locs = append(b.p.Locs, loc)
		b.p.Found = append(b.p.Found, found)
		b.p.Networks = append(b.p.Networks, 0)
	}
	return idx
}

// add appends the network pfx with location loc.
func (b *partitionBuilder) add(pfx netip.Prefix, loc int32) {
	first, last, v4 := prefixBounds(pfx)
	if v4 {
		if first != b.next4 { // next4 starts at 0: space before the first network is a gap too
			b.v4.add(uint32(b.next4.Lo))
			b.v4Loc.add(LocGap)
		}
		if prev, ok := b.v4Loc.last(); !ok || prev != loc {
			b.v4.add(uint32(first.Lo))
			b.v4Loc.add(loc)
		}
		b.next4 = last.Next()
		return
	}
	if first != b.next6 {
		b.add6(b.next6, LocGap)
	}
	if prev, ok := b.v6Loc.last(); !ok || prev != loc {
		b.add6(first, loc)
	}
	b.next6 = last.Next()
}

// add6 appends an IPv6 range starting at first.
func (b *partitionBuilder) add6(first Addr128, loc int32) {
	p := &b.p
	if first.Lo != 0 {
		p.v6LoAt, p.v6Lo = append(p.v6LoAt, uint32(b.v6Hi.n)), append(p.v6Lo, first.Lo)
	}
	b.v6Hi.add(first.Hi)
	b.v6Loc.add(loc)
}

// finish closes the families (space past the last network is a gap) and
// copies the slices to their exact size, so the growth garbage of the walk
// is freed and the partition holds only what it uses.
func (b *partitionBuilder) finish() *Partition {
	p := &b.p
	if b.v4.n == 0 || b.next4.Lo != 1<<32 { // no network at all, or space after the last
		b.v4.add(uint32(b.next4.Lo))
		b.v4Loc.add(LocGap)
	}
	if b.v6Hi.n == 0 {
		b.add6(Addr128{}, LocGap)
	} else if b.next6 != (Addr128{}) { // the last network did not end at the top (next wrapped to 0)
		b.add6(b.next6, LocGap)
	}
	return &Partition{
		V4: b.v4.flat(), V4Loc: b.v4Loc.flat(),
		V6Hi: b.v6Hi.flat(), V6Loc: b.v6Loc.flat(),
		v6LoAt: slices.Clone(p.v6LoAt), v6Lo: slices.Clone(p.v6Lo),
		Locs: slices.Clone(p.Locs), Found: slices.Clone(p.Found), Networks: slices.Clone(p.Networks),
	}
}

// chunkLen is the length of one chunk: 64 Ki entries, 256-512 KiB.
const chunkLen = 1 << 16

// chunks is a column of the partition while it is walked: appended to in
// chunks of chunkLen, copied once into a slice of its exact length at the
// end. The garbage of a column is then its own size once, where a growing
// slice leaves several times its size (Go grows large slices by a
// quarter at a time), and the heap at its peak holds two copies.
type chunks[T any] struct {
	full [][]T
	n    int
}

func (c *chunks[T]) add(v T) {
	if k := len(c.full); k == 0 || len(c.full[k-1]) == chunkLen {
		c.full = append(c.full, make([]T, 0, chunkLen))
	}
	k := len(c.full) - 1
	c.full[k] = append(c.full[k], v)
	c.n++
}

// last returns the last value added, if any.
func (c *chunks[T]) last() (v T, ok bool) {
	if c.n == 0 {
		return v, false
	}
	ch := c.full[len(c.full)-1]
	return ch[len(ch)-1], true
}

// flat returns the values in one slice and empties c.
func (c *chunks[T]) flat() []T {
	out := make([]T, 0, c.n)
	for _, ch := range c.full {
		out = append(out, ch...)
	}
	*c = chunks[T]{}
	return out
}
