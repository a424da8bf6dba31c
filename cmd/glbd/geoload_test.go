package main

import (
	"runtime/debug"
	"testing"

	"github.com/glb-dns/glb/geo"
)

func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 100},        // nothing measured: Go's default
		{4 << 20, 100},  // the test database: a small heap keeps the default
		{6 << 20, 100},  // headroom equal to the heap
		{12 << 20, 50},  //
		{50 << 20, 12},  // GeoLite2-City: 6 MB over 50
		{100 << 20, 10}, // a reload's two databases: the floor
		{1 << 30, 10},   // never below it
	} {
		if got := gcPercentFor(tc.live); got != tc.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}

// TestServedGeoTrimPages: the server's TrimPages sets GOGC from the live
// heap (unless the environment set it) and lets the verification start.
func TestServedGeoTrimPages(t *testing.T) {
	d, err := geo.Open(testDB)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tune := range []bool{true, false} {
		debug.SetGCPercent(77)
		g := newServedGeo(d, tune)
		g.TrimPages()
		select {
		case <-g.tablesIn:
		default:
			t.Errorf("tune %v: tablesIn not closed by TrimPages", tune)
		}
		g.TrimPages() // a second load: no second close
		want := 77
		if tune {
			want = gcPercentFor(liveHeap())
		}
		if got := debug.SetGCPercent(77); got != want {
			t.Errorf("tune %v: GOGC %d after TrimPages, want %d", tune, got, want)
		}
	}
}
