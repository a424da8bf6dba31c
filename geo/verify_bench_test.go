package geo

import (
	"os"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

// BenchmarkVerifyLarge compares the full verification before a reload's
// swap (verifyFull) with maxminddb's Reader.Verify, which it replaced, on
// the database GLB_GEO_BENCH_DB names.
func BenchmarkVerifyLarge(b *testing.B) {
	data, r := largeDB(b)
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := verifyFull(r, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Reader.Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.Verify(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReloadLarge times DB.Reload of the database GLB_GEO_BENCH_DB
// names: map, open, verify in full, swap, give the pages back. What it
// takes beyond BenchmarkVerifyLarge's "ours" is everything but the
// verification.
func BenchmarkReloadLarge(b *testing.B) {
	path := os.Getenv(benchDBEnv)
	if path == "" {
		b.Skip(benchDBEnv + " not set")
	}
	d, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Reload(); err != nil {
			b.Fatal(err)
		}
	}
}

// largeDB reads and opens the database GLB_GEO_BENCH_DB names, and skips
// tb without one.
func largeDB(tb testing.TB) ([]byte, *maxminddb.Reader) {
	tb.Helper()
	path := os.Getenv(benchDBEnv)
	if path == "" {
		tb.Skip(benchDBEnv + " not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		tb.Fatal(err)
	}
	return data, r
}
