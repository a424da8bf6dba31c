package plan

import (
	"encoding/binary"
	"hash"
	"hash/fnv"
	"math"
	"net/netip"
	"slices"

	"github.com/glb-dns/glb/geo"
)

// The widest truthful ECS scope. A resolver caches an answer for the scope
// we return, so the scope must cover only clients that would get the same
// answer (up to the per-query draw). The GeoIP record's own network is
// truthful but often narrow; neighbouring networks frequently lead to the
// same plan (same tier, same outcome), and the scope can cover them all.
//
// A scope table folds the GeoIP partition into runs of consecutive networks
// with equal plans, for one name's configuration, one family and one health
// state. The scope for a client is then the widest prefix around its
// address that stays inside its run. Tables are built in the background,
// keyed by everything the plan reads, and shared by names configured alike;
// until a table is ready the GeoIP network is used, which is narrower but
// never wrong.

// ScopeTable is the folded partition of one (configuration, family,
// health). Its runs are stored as the partition's ranges are, each by
// where it starts with a plan index, a run ending where the next begins.
// An IPv4 run starts at an address (4 bytes); an IPv6 run at a range of
// the partition, by index (4 bytes instead of a 16-byte address, the
// partition holding the addresses once for every table). So a run costs 6
// bytes and no pointers: a table over two million ranges is about 12 MB
// that the garbage collector does not scan.
type ScopeTable struct {
	// An IPv4 lookup reads the first four.
	V4     []uint32 // first address of each IPv4 run
	v4Plan []uint16 // plan of each IPv4 run: index into plans, or noPlan
	Plans  []Plan
	// v4Idx narrows the search for an IPv4 address to the runs of its /12
	// (v4IndexBits): runs v4Idx[k] to v4Idx[k+1] start inside the k-th
	// /12. Without it a lookup in a GeoLite2-City table is a binary
	// search over a few hundred thousand runs, a cache miss per step where
	// a query finds the caches cold (at a paced rate, Lookup was 1% of
	// glbd's CPU, kernel included); with it, one miss for the index and a
	// few in a window of tens of runs. Nil for small tables (under
	// v4IndexMin runs), where the search is short anyway.
	v4Idx  []uint32
	Part   *geo.Partition // the database it was built from
	V6     []uint32       // first range (index for part.V6At) of each IPv6 run
	v6Plan []uint16
}

// v4IndexBits is the prefix length v4Idx buckets by: 4,097 entries, 16 KB
// per table.
const v4IndexBits = 12

// v4IndexMin is the size from which a table gets a v4Idx.
var v4IndexMin = 4096

// indexV4 builds t.v4Idx.
func (t *ScopeTable) indexV4() {
	if len(t.V4) < v4IndexMin {
		return
	}
	idx := make([]uint32, 1<<v4IndexBits+1)
	i := 0
	for k := range 1 << v4IndexBits {
		start := uint32(k) << (32 - v4IndexBits)
		for i < len(t.V4) && t.V4[i] < start {
			i++
		}
		idx[k] = uint32(i)
	}
	idx[1<<v4IndexBits] = uint32(len(t.V4))
	t.v4Idx = idx
}

// noPlan marks a run of addresses the partition does not list (aliases):
// no table answer there, the GeoIP network stands in.
const noPlan = math.MaxUint16

// Widest returns the prefix length of the widest prefix around a that lies
// inside a's run; ok is false when a is in no run (an alias range the
// partition does not list).
func (t *ScopeTable) Widest(a netip.Addr) (int, bool) {
	_, bits, ok := t.Lookup(a)
	return bits, ok
}

// Lookup returns the plan of a's run and the widest prefix around a inside
// the run; ok is false when a is in no run.
func (t *ScopeTable) Lookup(a netip.Addr) (*Plan, int, bool) {
	x, v4 := geo.AddrOf(a)
	var first, last geo.Addr128
	var pi uint16
	width := 128
	if v4 {
		width = 32
		v := uint32(x.Lo)
		// The run is the last one that starts at or before v: every run
		// before the window of v's /12 starts before v, every run after it
		// after v.
		i, j := 0, len(t.V4)
		if t.v4Idx != nil {
			k := v >> (32 - v4IndexBits)
			i, j = int(t.v4Idx[k]), int(t.v4Idx[k+1])
		}
		for i < j {
			if m := int(uint(i+j) >> 1); t.V4[m] <= v {
				i = m + 1
			} else {
				j = m
			}
		}
		if i == 0 {
			return nil, 0, false // an empty table
		}
		i--
		pi, first, last = t.v4Plan[i], geo.Addr128{Lo: uint64(t.V4[i])}, geo.Addr128{Lo: math.MaxUint32}
		if i+1 < len(t.V4) {
			last = geo.Addr128{Lo: uint64(t.V4[i+1]) - 1}
		}
	} else {
		// First the partition's range, then the run that holds it.
		xa, part := x, t.Part
		i, j := 0, len(part.V6Hi)
		for i < j {
			// The upper half decides but where it ties.
			m := int(uint(i+j) >> 1)
			if h := part.V6Hi[m]; h < xa.Hi || h == xa.Hi && !xa.Less(part.V6At(m)) {
				i = m + 1
			} else {
				j = m
			}
		}
		r := uint32(i - 1) // ranges[0] is ::, so i >= 1
		i, j = 0, len(t.V6)
		for i < j {
			if m := int(uint(i+j) >> 1); t.V6[m] <= r {
				i = m + 1
			} else {
				j = m
			}
		}
		if i == 0 {
			return nil, 0, false // an empty table
		}
		i--
		s := part.V6At(int(t.V6[i]))
		pi, first, last = t.v6Plan[i], s, geo.Addr128{Hi: math.MaxUint64, Lo: math.MaxUint64}
		if i+1 < len(t.V6) {
			n := part.V6At(int(t.V6[i+1]))
			last = n.Prev()
		}
	}
	if pi == noPlan {
		return nil, 0, false
	}
	return &t.Plans[pi], widestIn(x, width, first, last), true
}

// Key is a plan's identity for folding: outcome, health handling, TTL
// choice and the tier, plus the whole ranking when spread fills from it.
// The tier is kept in rank order rather than as a set: a run's plan is
// then exactly the plan of every network in it, so the fast path can use
// it in place of computing one (the draw walks the tier in order).
func (p *Plan) Key(spread bool) string {
	k := p.foldKey(spread)
	return string(k.b[:k.n])
}

// planIdent is a plan's key as a comparable value, to intern plans in a map
// without allocating a string per location.
type planIdent struct {
	n uint8
	b [4 + maxCandidates]byte // outcome, allAddrs, degraded, tier..., [0xff, rest...]
}

func (p *Plan) foldKey(spread bool) planIdent {
	var k planIdent
	b := &k.b
	b[0], b[1], b[2] = byte(p.Outcome), boolByte(p.AllAddrs), boolByte(p.Degraded)
	copy(b[3:], p.Order[:p.NTier])
	n := 3 + int(p.NTier)
	if spread {
		b[n] = 0xff
		n += copy(b[n+1:], p.Order[p.NTier:p.N]) + 1
	}
	k.n = uint8(n)
	return k
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// ScopeKey identifies what a scope table depends on: the name's
// configuration, the family and the part of the health table its plans
// read.
func ScopeKey(g *Name, qtype uint16, ht *HealthTable) uint64 {
	w := newHashWriter(fnv.New64a())
	w.num(g.CfgKey)
	w.num(uint64(qtype))
	w.flag(ht.Shedding) // the plans' rest of the ranking counts while shedding (ScopeBuilder.Build)
	for _, r := range g.Regions {
		rh := ht.Regions[r.Idx]
		w.num(uint64(r.Weight))
		w.flag(rh.Up)
		w.flag(rh.Checked)
		w.num(rh.Mask)
		if g.Policy == "latency" {
			for _, v := range ht.RTT[r.Idx] {
				w.num(math.Float64bits(v))
			}
		}
	}
	if g.Policy == "latency" {
		for _, p := range ht.Probers {
			w.num(math.Float64bits(p.lat))
			w.num(math.Float64bits(p.lon))
		}
	}
	return w.h.Sum64()
}

// hashWriter feeds fixed-width values into a hash.
type hashWriter struct {
	h   hash.Hash64
	buf [8]byte
}

func newHashWriter(h hash.Hash64) *hashWriter { return &hashWriter{h: h} }

func (w *hashWriter) num(v uint64) {
	binary.LittleEndian.PutUint64(w.buf[:], v)
	w.h.Write(w.buf[:])
}

func (w *hashWriter) flag(v bool) { w.num(uint64(boolByte(v))) }

func (w *hashWriter) str(s string) {
	w.num(uint64(len(s)))
	w.h.Write([]byte(s))
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
