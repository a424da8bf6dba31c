package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"

	"github.com/glb-dns/glb/geo/geotest"
)

// locationPool caps how many distinct records a random database has. Real
// City databases have ~100k distinct records over millions of networks;
// sharing records keeps both the data section and the writer's memory
// realistic instead of one record per network.
const locationPool = 50_000

// buildRandom writes a City database of n random, non-overlapping networks:
// half IPv4 /24s and half IPv6 /32s inside 2000::/3. It exists for
// benchmarks against a realistically deep tree; the output is a function of
// (n, seed) only.
func buildRandom(n int, seed uint64, w io.Writer) error {
	// The IPv4 half must fit in the 2^24 distinct /24s.
	if n/2 > 1<<23 {
		return fmt.Errorf("random network count %d is too large (max %d)", n, 1<<24)
	}
	// "glb": a fixed second word, so -seed alone decides the output.
	// Overlap is avoided by drawing distinct /24s and /32s, which never nest.
	rng, pool, tree, err := randomStart(n, seed, 0x676c62, locationPool, "random")
	if err != nil {
		return err
	}
	seen := make(map[netip.Prefix]bool, n)
	for i := 0; i < n; {
		var p netip.Prefix
		v4 := i%2 == 0
		key := rng.Uint32()
		if v4 {
			key &^= 0xff // a /24
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(key >> 24), byte(key >> 16), byte(key >> 8), 0}), 24)
		} else {
			key = key>>3 | 0x2000_0000 // the top 32 bits of an address in 2000::/3
			hi := uint16(key >> 16)
			// 2001::/16 and 2002::/16 hold mmdbwriter's IPv4 aliases (Teredo
			// and 6to4); inserting into an alias is an error.
			if hi == 0x2001 || hi == 0x2002 {
				continue
			}
			var a [16]byte
			a[0], a[1], a[2], a[3] = byte(key>>24), byte(key>>16), byte(key>>8), byte(key)
			p = netip.PrefixFrom(netip.AddrFrom16(a), 32)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		r := pool[rng.IntN(len(pool))]
		r.Network = p
		if err := tree.Insert(r); err != nil {
			return err
		}
		i++
	}
	return tree.Write(w)
}

// randomRow draws a location between 60°S and 70°N (where the users are)
// with a country and continent from a small fixed set.
func randomRow(rng *rand.Rand) geotest.Row {
	cc := [...][2]string{
		{"AU", "OC"}, {"BR", "SA"}, {"CN", "AS"}, {"DE", "EU"}, {"GB", "EU"},
		{"JP", "AS"}, {"SG", "AS"}, {"US", "NA"}, {"ZA", "AF"}, {"SE", "EU"},
	}
	c := cc[rng.IntN(len(cc))]
	return geotest.Row{
		Country:   c[0],
		Continent: c[1],
		City:      fmt.Sprintf("City %d", rng.IntN(1_000_000)),
		HasCoords: true,
		Lat:       -60 + rng.Float64()*130,
		Lon:       -180 + rng.Float64()*360,
	}
}

// randomStart checks n and returns what a generated database starts
// from: the generator of (seed, word), a pool of min(n, locations) random
// records, and an empty tree described by kind, n and seed. The tree takes
// reserved networks, so that any random network can be inserted.
func randomStart(n int, seed, word uint64, locations int, kind string) (*rand.Rand, []geotest.Row, *geotest.Tree, error) {
	if n <= 0 {
		return nil, nil, nil, fmt.Errorf("random network count %d is not positive", n)
	}
	rng := rand.New(rand.NewPCG(seed, word))
	pool := make([]geotest.Row, min(n, locations))
	for i := range pool {
		pool[i] = randomRow(rng)
	}
	tree, err := geotest.Options{
		Description:             fmt.Sprintf("glb %s City database, %d networks, seed %d", kind, n, seed),
		IncludeReservedNetworks: true,
	}.NewTree()
	return rng, pool, tree, err
}
