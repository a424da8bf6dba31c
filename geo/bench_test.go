package geo

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"testing"
)

// benchDBEnv names an extra database for BenchmarkLookup, e.g. one made by
// `go run ./cmd/mkmmdb -random 1000000 -seed 1 -out /tmp/big.mmdb`, to
// measure a realistically deep tree without checking one in.
const benchDBEnv = "GLB_GEO_BENCH_DB"

func BenchmarkLookup(b *testing.B) {
	b.Run("fixture", func(b *testing.B) {
		d := openFixture(b)
		var v4, v6 []netip.Addr
		for _, tc := range lookupCases() {
			if !tc.found {
				continue
			}
			if tc.addr.Is4() {
				v4 = append(v4, tc.addr)
			} else if !tc.addr.Is4In6() {
				v6 = append(v6, tc.addr)
			}
		}
		b.Run("IPv4", func(b *testing.B) { benchLookup(b, d, v4) })
		b.Run("IPv6", func(b *testing.B) { benchLookup(b, d, v6) })
		b.Run("miss", func(b *testing.B) {
			benchLookup(b, d, []netip.Addr{netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("2a00::1")})
		})
	})
	path := os.Getenv(benchDBEnv)
	if path == "" {
		return
	}
	b.Run("env", func(b *testing.B) {
		d, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = d.Close() })
		// Sample addresses spread over the whole file, all of which hit a
		// network; uniformly random addresses would mostly miss a random
		// database and measure only the tree walk.
		var v4, v6 []netip.Addr
		i := 0
		for res := range d.reader.Load().r.Networks() {
			if i++; i%61 != 0 {
				continue
			}
			if a := res.Prefix().Addr(); a.Is4() && len(v4) < 4096 {
				v4 = append(v4, a)
			} else if a.Is6() && len(v6) < 4096 {
				v6 = append(v6, a)
			}
		}
		if len(v4) == 0 || len(v6) == 0 {
			b.Fatalf("%s: sampled %d IPv4 and %d IPv6 networks, want some of each", path, len(v4), len(v6))
		}
		rand.Shuffle(len(v4), func(i, j int) { v4[i], v4[j] = v4[j], v4[i] })
		rand.Shuffle(len(v6), func(i, j int) { v6[i], v6[j] = v6[j], v6[i] })
		b.Run("IPv4", func(b *testing.B) { benchLookup(b, d, v4) })
		b.Run("IPv6", func(b *testing.B) { benchLookup(b, d, v6) })
	})
}

func benchLookup(b *testing.B, d *DB, addrs []netip.Addr) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, _, _ = d.Lookup(addrs[i%len(addrs)])
		i++
	}
}

// BenchmarkOpenLarge times what glbd does with a database before and after
// it answers: Open (map, verify) and the partition walk the ECS scope
// tables are folded from. Only with GLB_GEO_BENCH_DB set.
func BenchmarkOpenLarge(b *testing.B) {
	path := os.Getenv(benchDBEnv)
	if path == "" {
		b.Skip(benchDBEnv + " not set")
	}
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			d, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			_ = d.Close()
		}
	})
	b.Run("partition", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			d, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			p, err := d.Partition()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(p.Ranges()), "ranges")
			b.StopTimer()
			_ = d.Close()
			b.StartTimer()
		}
	})
}
