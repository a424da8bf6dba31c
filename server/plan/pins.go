package plan

import (
	"cmp"
	"maps"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/store/schema"
)

// Pins are a name's pinned networks: the CIDRs of the locations its pins
// name, flattened into disjoint ranges by longest-prefix match, each with
// the pin it answers by. A client in a pinned range skips GeoIP and gets
// the pin's regions under the name's policy: every address of a range is
// answered alike, so its scope may cover the range; an unpinned client's
// scope must not reach into any range (its neighbours there are answered
// differently), so Find bounds it by the gap between ranges.
//
// A location's ASNs join its CIDRs here: each becomes the networks the
// ASN database gives it when the snapshot is built, so Find needs no ASN
// lookup and a pinned-by-ASN range bounds scopes exactly as a CIDR does
// (an answer's scope never spans a network of another AS). Where a CIDR
// and an ASN pin both cover an address, the CIDR wins (asnpins.go).
type Pins struct {
	v4, v6 []pinRange // sorted, disjoint
	Pin    []Pin      // by index, in key order
	// ASNUnresolved is set when a pin lists ASNs but the snapshot was
	// built without an ASN database: those ASNs pin nothing.
	ASNUnresolved bool
}

// Pin is one of a name's pins.
type Pin struct {
	Key       string   // "<collection>/<location>"
	Regions   uint64   // mask over the name's regions
	RegionIDs []string // the same as ids, for explain
	Nets      []string // the location's CIDRs, for explain
	ASNs      []string // the location's AS numbers ("AS64500"), for explain
}

type pinRange struct {
	first, last geo.Addr128
	pin         uint8
	byASN       bool // pinned through an ASN, not a CIDR
}

// attachPins compiles each name's pins from st's network collections and
// the ASN database asn (nil: none, and ASNs pin nothing). Pins of a
// collection or location that is gone (a name's last good value kept
// after its collection was deleted) pin nothing.
func attachPins(c *Config, st *schema.State, asn *geo.ASNTable) {
	for _, g := range c.Names {
		zs := st.Zones[g.Zone]
		if zs == nil || zs.Names[g.Label] == nil || len(zs.Names[g.Label].Pins) == 0 {
			continue
		}
		g.Pins = buildPins(g, zs.Names[g.Label].Pins, st.Nets, asnSource{st.NetASNs, asn})
	}
}

func buildPins(g *Name, pins map[string][]string, nets map[string]schema.Nets, asns asnSource) *Pins {
	type cidr struct {
		first, last geo.Addr128
		bits        int
		pin         uint8
	}
	var v4, v6 []cidr
	// The ASN networks go in their own lists: a CIDR pin must win over
	// them whatever their widths (overlayPins), which one sweep by
	// specificity would not do. An ASN's networks never nest with another
	// ASN's, so their sweep is a plain one.
	var asn4, asn6 []cidr
	add := func(dst4, dst6 *[]cidr, p netip.Prefix, idx uint8) {
		x, is4 := geo.AddrOf(p.Addr())
		if is4 {
			f, l := geo.Bounds(x, p.Bits(), 32)
			*dst4 = append(*dst4, cidr{f, l, p.Bits(), idx})
		} else {
			f, l := geo.Bounds(x, p.Bits(), 128)
			*dst6 = append(*dst6, cidr{f, l, p.Bits(), idx})
		}
	}
	ps := &Pins{}
	taken := map[uint32]bool{} // an ASN in two pins: the first key's
	for _, key := range slices.Sorted(maps.Keys(pins)) {
		coll, loc, _ := strings.Cut(key, "/")
		pin := Pin{Key: key}
		for _, id := range pins[key] {
			for i, r := range g.Regions {
				if r.ID == id {
					pin.Regions |= 1 << i
					pin.RegionIDs = append(pin.RegionIDs, id)
				}
			}
		}
		idx := uint8(len(ps.Pin))
		for _, p := range nets[coll][loc] {
			pin.Nets = append(pin.Nets, p.String())
			add(&v4, &v6, p, idx)
		}
		for _, asn := range asns.of(coll, loc) {
			pin.ASNs = append(pin.ASNs, "AS"+strconv.FormatUint(uint64(asn), 10))
			if asns.table == nil {
				ps.ASNUnresolved = true
				continue
			}
			if taken[asn] {
				continue
			}
			taken[asn] = true
			for _, p := range asns.table.Networks(asn) {
				add(&asn4, &asn6, p, idx)
			}
		}
		ps.Pin = append(ps.Pin, pin)
	}
	// CIDRs are nested or disjoint. Sorted by start, wider first, and for
	// the same CIDR in two pins the first pin last, a sweep with a stack
	// of the open CIDRs gives each address its most specific one.
	flatten := func(cs []cidr) []pinRange {
		slices.SortFunc(cs, func(a, b cidr) int {
			switch {
			case a.first != b.first:
				if a.first.Less(b.first) {
					return -1
				}
				return 1
			case a.bits != b.bits:
				return cmp.Compare(a.bits, b.bits)
			}
			return -cmp.Compare(a.pin, b.pin)
		})
		var out []pinRange
		var stack []cidr
		var pos geo.Addr128
		done := false // pos passed the end of the address space
		emit := func(last geo.Addr128, pin uint8) {
			if done || last.Less(pos) {
				return
			}
			if n := len(out); n > 0 && out[n-1].pin == pin && out[n-1].last.Next() == pos {
				out[n-1].last = last
			} else {
				out = append(out, pinRange{pos, last, pin, false})
			}
			if last == (geo.Addr128{Hi: math.MaxUint64, Lo: math.MaxUint64}) {
				done = true
			}
			pos = last.Next()
		}
		for _, c := range cs {
			for len(stack) > 0 && stack[len(stack)-1].last.Less(c.first) {
				top := stack[len(stack)-1]
				emit(top.last, top.pin)
				stack = stack[:len(stack)-1]
			}
			if len(stack) > 0 && pos.Less(c.first) {
				emit(c.first.Prev(), stack[len(stack)-1].pin)
			}
			if !done && pos.Less(c.first) {
				pos = c.first
			}
			stack = append(stack, c)
		}
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			emit(top.last, top.pin)
			stack = stack[:len(stack)-1]
		}
		return out
	}
	ps.v4 = overlayPins(flatten(v4), byASN(flatten(asn4)))
	ps.v6 = overlayPins(flatten(v6), byASN(flatten(asn6)))
	return ps
}

// Find says whether client is pinned: then pin is its pin, and bits the
// widest prefix around it inside its pinned range. Otherwise bits is the
// narrowest scope that keeps it clear of every pinned range (0 when no
// range is near). A nil Pins pins nothing.
func (ps *Pins) Find(client netip.Addr) (pin uint8, bits int, pinned bool) {
	if ps == nil || !client.IsValid() {
		return 0, 0, false
	}
	x, v4 := geo.AddrOf(client)
	rs, width := ps.v6, 128
	if v4 {
		rs, width = ps.v4, 32
	}
	if len(rs) == 0 {
		return 0, 0, false
	}
	// The last range that starts at or before x.
	i, j := 0, len(rs)
	for i < j {
		if m := int(uint(i+j) >> 1); !x.Less(rs[m].first) {
			i = m + 1
		} else {
			j = m
		}
	}
	lo, hi := geo.Addr128{}, geo.Addr128{Hi: math.MaxUint64, Lo: math.MaxUint64}
	if v4 {
		hi = geo.Addr128{Lo: math.MaxUint32}
	}
	if i > 0 {
		if r := rs[i-1]; !r.last.Less(x) {
			return r.pin, widestIn(x, width, r.first, r.last), true
		}
		lo = rs[i-1].last.Next()
	}
	if i < len(rs) {
		hi = rs[i].first.Prev()
	}
	return 0, widestIn(x, width, lo, hi), false
}

// widestIn returns the length of the widest prefix around x that lies
// inside [first, last] (x is inside; when it is not, width). A prefix of
// length L around x starts at or after first exactly when x and first-1
// differ in the first L bits, and ends at or before last exactly when x
// and last+1 do: so L is one more than the longer of the two common
// prefixes, read off the leading zeros of the XORs (nothing to avoid when
// first is the space's first address or last its last). It is on the fast
// path (every scope table and pin lookup); widestInSearch in the tests is
// the search it replaced, and the two are compared there.
func widestIn(x geo.Addr128, width int, first, last geo.Addr128) int {
	if x.Less(first) || last.Less(x) {
		return width
	}
	l := 0
	if first != (geo.Addr128{}) {
		l = max(l, commonPrefix(x, first.Prev(), width)+1)
	}
	if last != lastAddr(width) {
		l = max(l, commonPrefix(x, last.Next(), width)+1)
	}
	return l
}

// commonPrefix is the number of leading bits a and b share in an address
// space of the given width (32: the low bits of Lo).
func commonPrefix(a, b geo.Addr128, width int) int {
	n := 128
	if d := a.Hi ^ b.Hi; d != 0 {
		n = bits.LeadingZeros64(d)
	} else if d := a.Lo ^ b.Lo; d != 0 {
		n = 64 + bits.LeadingZeros64(d)
	}
	return min(n-(128-width), width)
}

// lastAddr is the last address of a space of the given width.
func lastAddr(width int) geo.Addr128 {
	if width == 32 {
		return geo.Addr128{Lo: math.MaxUint32}
	}
	return geo.Addr128{Hi: math.MaxUint64, Lo: math.MaxUint64}
}

// PinPlan is the plan for a client pinned by pin: the pin's regions under
// the name's policy, with no location (GeoIP is skipped).
func (g *Name) PinPlan(qtype uint16, pin uint8, ht *HealthTable, tr *Trace) Plan {
	return g.plan(qtype, geo.Location{}, false, ht, tr, g.Pins.Pin[pin].Regions)
}
