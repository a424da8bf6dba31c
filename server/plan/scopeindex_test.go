package plan

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestV4IndexLookup: a table's IPv4 index changes no lookup. Tables of
// random runs (dense, sparse, crowded into one /12, runs on /12
// boundaries) are looked up, with and without the index, at every run's
// first and last address, at /12 boundaries and at random addresses: the
// plan and scope must be the same.
func TestV4IndexLookup(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name  string
		runs  int
		start func() uint32
	}{
		{"dense", 200_000, func() uint32 { return uint32(r.Uint64()) }},
		{"sparse", 5_000, func() uint32 { return uint32(r.Uint64()) }},
		{"one /12", 20_000, func() uint32 { return 0x51000000 | uint32(r.IntN(1<<20)) }},
		{"on /12 boundaries", 4096, func() uint32 { return uint32(r.IntN(4096)) << 20 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			starts := []uint32{0}
			for range tc.runs {
				starts = append(starts, tc.start())
			}
			slices.Sort(starts)
			starts = slices.Compact(starts)
			plain := &ScopeTable{V4: starts, v4Plan: make([]uint16, len(starts)), Plans: make([]Plan, 7)}
			for i := range plain.v4Plan {
				plain.v4Plan[i] = uint16(r.IntN(len(plain.Plans)))
			}
			indexed := *plain // sharing the runs and plans: the same plans compare equal
			indexed.indexV4()
			if len(starts) >= v4IndexMin && indexed.v4Idx == nil {
				t.Fatal("no index built")
			}
			if indexed.v4Idx == nil { // a small table: index it all the same
				saved := v4IndexMin
				v4IndexMin = 0
				indexed.indexV4()
				v4IndexMin = saved
			}
			var addrs []uint32
			for _, s := range starts {
				addrs = append(addrs, s, s-1, s+1)
			}
			for k := range uint32(4096) {
				addrs = append(addrs, k<<20, k<<20-1)
			}
			for range 100_000 {
				addrs = append(addrs, uint32(r.Uint64()))
			}
			for _, a := range addrs {
				ip := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
				p1, b1, ok1 := plain.Lookup(ip)
				p2, b2, ok2 := indexed.Lookup(ip)
				if p1 != p2 || b1 != b2 || ok1 != ok2 {
					t.Fatalf("%s: without the index %p /%d %v, with it %p /%d %v", ip, p1, b1, ok1, p2, b2, ok2)
				}
			}
		})
	}
}

// BenchmarkScopeLookupV4 looks random IPv4 addresses up in a table of
// 300,000 runs (a GeoLite2-City-sized one), with and without the index:
// random addresses miss the caches as a query's client does at a paced rate.
func BenchmarkScopeLookupV4(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	starts := []uint32{0}
	for range 300_000 {
		starts = append(starts, uint32(r.Uint64()))
	}
	slices.Sort(starts)
	starts = slices.Compact(starts)
	plain := &ScopeTable{V4: starts, v4Plan: make([]uint16, len(starts)), Plans: make([]Plan, 1)}
	indexed := *plain
	indexed.indexV4()
	addrs := make([]netip.Addr, 1<<16)
	for i := range addrs {
		a := uint32(r.Uint64())
		addrs[i] = netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
	}
	for _, bc := range []struct {
		name string
		t    *ScopeTable
	}{{"search", plain}, {"index", &indexed}} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, _, ok := bc.t.Lookup(addrs[i&(len(addrs)-1)]); !ok {
					b.Fatal("miss")
				}
				i++
			}
		})
	}
}
