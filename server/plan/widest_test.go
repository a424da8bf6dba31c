package plan

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/glb-dns/glb/geo"
)

// widestInSearch is the search widestIn replaced: the shortest length
// whose prefix around x lies inside [first, last].
func widestInSearch(x geo.Addr128, width int, first, last geo.Addr128) int {
	lo, hi := 0, width
	for lo < hi {
		mid := (lo + hi) / 2
		pf, pl := geo.Bounds(x, mid, width)
		if !pf.Less(first) && !last.Less(pl) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// TestWidestInIsTheSearch: the closed form gives the search's answer for
// ranges at the edges of both address spaces, single addresses, aligned
// and unaligned ranges, and a million random ranges per family, with x
// anywhere inside (and outside, where both say width).
func TestWidestInIsTheSearch(t *testing.T) {
	v4 := func(a uint32) geo.Addr128 { return geo.Addr128{Lo: uint64(a)} }
	max6 := geo.Addr128{Hi: math.MaxUint64, Lo: math.MaxUint64}
	type c struct {
		x, first, last geo.Addr128
		width          int
	}
	cases := []c{
		{v4(0), v4(0), v4(math.MaxUint32), 32},
		{v4(12345), v4(0), v4(math.MaxUint32), 32},
		{v4(0), v4(0), v4(0), 32},
		{v4(math.MaxUint32), v4(math.MaxUint32), v4(math.MaxUint32), 32},
		{v4(0x51024500), v4(0x51024500), v4(0x510245ff), 32},
		{v4(0x51024580), v4(0x51024501), v4(0x510245ff), 32},
		{v4(0x51024580), v4(0x51024500), v4(0x51024600), 32},
		{v4(7), v4(8), v4(9), 32}, // outside
		{geo.Addr128{}, geo.Addr128{}, max6, 128},
		{max6, max6, max6, 128},
		{geo.Addr128{Hi: 5, Lo: 7}, geo.Addr128{Hi: 5}, geo.Addr128{Hi: 5, Lo: math.MaxUint64}, 128},
		{geo.Addr128{Hi: 5, Lo: 7}, geo.Addr128{Hi: 4, Lo: math.MaxUint64}, geo.Addr128{Hi: 6}, 128},
		{geo.Addr128{Hi: 1 << 63}, geo.Addr128{Hi: 1 << 62}, max6, 128},
	}
	r := rand.New(rand.NewPCG(1, 2))
	order := func(a, b geo.Addr128) (geo.Addr128, geo.Addr128) {
		if b.Less(a) {
			return b, a
		}
		return a, b
	}
	for range 1_000_000 {
		// Bounds near each other too, so that long prefixes are exercised.
		a := uint32(r.Uint64())
		b := a + uint32(r.IntN(1<<uint(r.IntN(33))))
		f, l := order(v4(a), v4(b))
		x := v4(uint32(f.Lo) + uint32(r.Uint64N(l.Lo-f.Lo+1)))
		cases = append(cases, c{x, f, l, 32})
		hi := r.Uint64()
		f6, l6 := order(geo.Addr128{Hi: hi, Lo: r.Uint64()}, geo.Addr128{Hi: hi + uint64(r.IntN(3)), Lo: r.Uint64()})
		x6 := f6
		if r.IntN(2) == 0 {
			x6 = l6
		}
		cases = append(cases, c{x6, f6, l6, 128}, c{geo.Addr128{Hi: hi, Lo: r.Uint64()}, f6, l6, 128})
	}
	bad := 0
	for _, tc := range cases {
		if got, want := widestIn(tc.x, tc.width, tc.first, tc.last), widestInSearch(tc.x, tc.width, tc.first, tc.last); got != want {
			if bad++; bad <= 10 {
				t.Errorf("widestIn(%x, %d, %x, %x) = %d, the search says %d", tc.x, tc.width, tc.first, tc.last, got, want)
			}
		}
	}
	if bad > 10 {
		t.Errorf("%d cases differ in all", bad)
	}
}
