package main

import (
	"io"
	"math"
	"math/bits"
	"net/netip"
)

// cityLocations is how many distinct records a contiguous database draws
// from: a real City database has on the order of a hundred thousand.
const cityLocations = 100_000

// buildContiguous writes a City database of about n networks shaped like a
// real one rather than scattered: 70 % IPv4 networks of /16 to /28 laid
// side by side over 1.0.0.0 to 223.255.255.255, 30 % IPv6 networks of
// /29 to /48 side by side from 2400::, one in ten left empty, and
// neighbours keeping their predecessor's record three times in five (an
// ISP's blocks in one city). Real databases are dense like this, so their
// partitions have fewer ranges per network, and ECS scopes merge more,
// than the isolated networks of buildRandom. The output is a function of
// (n, seed) only.
func buildContiguous(n int, seed uint64, w io.Writer) error {
	rng, pool, tree, err := randomStart(n, seed, 0x636974, cityLocations, "contiguous") // "cit"
	if err != nil {
		return err
	}
	loc := 0
	insert := func(p netip.Prefix) error {
		if rng.IntN(5) >= 3 {
			loc = rng.IntN(len(pool))
		}
		if rng.IntN(10) == 0 {
			return nil // empty space
		}
		r := pool[loc]
		r.Network = p
		return tree.Insert(r)
	}

	// IPv4: the mean length spreads n4 networks over the space (a small
	// n covers only its start: lengths stay within /16../28).
	n4 := n * 7 / 10
	const first4, end4 = 1 << 24, 224 << 24
	mean4 := 32 - int(math.Round(math.Log2(float64(end4-first4)/float64(max(n4, 1)))))
	for i, cur := 0, uint64(first4); i < n4 && cur < end4; i++ {
		l := clampLen(mean4+rng.IntN(6)-2, 16, 28)
		for l < 32 && cur&(1<<(32-l)-1) != 0 { // cur is not aligned for /l
			l++
		}
		a := uint32(cur)
		if err := insert(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), l)); err != nil {
			return err
		}
		cur += 1 << (32 - l)
	}

	// IPv6: n6 networks from 2400:: on, each as wide as drawn (they need
	// not cover a fixed space). Only the upper 64 bits vary.
	n6 := n - n4
	cur := uint64(0x2400) << 48
	for range n6 {
		l := 29 + rng.IntN(20) // /29../48
		if tz := bits.TrailingZeros64(cur); cur != 0 && 64-tz > l {
			l = 64 - tz // cur is not aligned for /l: the widest that is
		}
		var b [16]byte
		for i := range 8 {
			b[i] = byte(cur >> (56 - 8*i))
		}
		if err := insert(netip.PrefixFrom(netip.AddrFrom16(b), l)); err != nil {
			return err
		}
		cur += 1 << (64 - l)
	}
	return tree.Write(w)
}

func clampLen(l, lo, hi int) int { return max(lo, min(hi, l)) }
