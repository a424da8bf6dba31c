package plan

import (
	"net/netip"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/store/schema"
)

// asnSource is where a name's ASN pins are resolved: the collections' AS
// numbers and the ASN database (nil: none loaded).
type asnSource struct {
	asns  map[string]schema.NetASNs
	table *geo.ASNTable
}

// of returns the AS numbers location loc of collection coll lists.
func (s asnSource) of(coll, loc string) []uint32 { return s.asns[coll][loc] }

// byASN marks ranges as pinned through an ASN.
func byASN(rs []pinRange) []pinRange {
	for i := range rs {
		rs[i].byASN = true
	}
	return rs
}

// overlayPins lays top over under, both sorted and disjoint: an address in
// a range of top keeps top's pin, one only in under gets under's, and
// neighbours of the same pin and kind merge.
func overlayPins(top, under []pinRange) []pinRange {
	if len(under) == 0 {
		return top
	}
	// under less top: the parts of each under range that no top range
	// covers.
	var rest []pinRange
	j := 0
	for _, u := range under {
		for j < len(top) && top[j].last.Less(u.first) {
			j++
		}
		pos, open := u.first, true
		for k := j; k < len(top) && !u.last.Less(top[k].first); k++ {
			t := top[k]
			if pos.Less(t.first) {
				rest = append(rest, pinRange{pos, t.first.Prev(), u.pin, u.byASN})
			}
			if !t.last.Less(u.last) {
				open = false // t reaches past u: nothing of u is left
				break
			}
			pos = t.last.Next()
		}
		if open {
			rest = append(rest, pinRange{pos, u.last, u.pin, u.byASN})
		}
	}
	// Merge the two sorted, disjoint lists.
	out := make([]pinRange, 0, len(top)+len(rest))
	for a, b := 0, 0; a < len(top) || b < len(rest); {
		var r pinRange
		if b == len(rest) || a < len(top) && top[a].first.Less(rest[b].first) {
			r, a = top[a], a+1
		} else {
			r, b = rest[b], b+1
		}
		if n := len(out); n > 0 && out[n-1].pin == r.pin && out[n-1].byASN == r.byASN && out[n-1].last.Next() == r.first {
			out[n-1].last = r.last
			continue
		}
		out = append(out, r)
	}
	return out
}

// ByASN says whether client is pinned through an ASN (rather than one of
// the pin's CIDRs), for explain.
func (ps *Pins) ByASN(client netip.Addr) bool {
	if ps == nil || !client.IsValid() {
		return false
	}
	x, v4 := geo.AddrOf(client)
	rs := ps.v6
	if v4 {
		rs = ps.v4
	}
	for _, r := range rs {
		if !x.Less(r.first) && !r.last.Less(x) {
			return r.byASN
		}
	}
	return false
}
