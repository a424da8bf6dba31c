package geo

import (
	"net/netip"
	"testing"
)

// TestPartition checks that the partition lists each family in ascending
// order from its first address, that IPv4 has no gaps, and that each range
// says what Lookup says for the first and the last address inside it.
func TestPartition(t *testing.T) {
	db, err := Open(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.Partition()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.V4) != len(p.V4Loc) || len(p.V6Hi) != len(p.V6Loc) || len(p.Locs) != len(p.Found) || len(p.Locs) != len(p.Networks) {
		t.Fatalf("lengths differ: %d/%d IPv4, %d/%d IPv6, %d/%d/%d locations",
			len(p.V4), len(p.V4Loc), len(p.V6Hi), len(p.V6Loc), len(p.Locs), len(p.Found), len(p.Networks))
	}
	if p.V4[0] != 0 || p.V6At(0) != (Addr128{}) {
		t.Fatalf("families start at %d and %v, want 0", p.V4[0], p.V6At(0))
	}
	// check compares a range's location with Lookup at a.
	check := func(a netip.Addr, loc int32) {
		t.Helper()
		got, _, found := db.Lookup(a)
		switch {
		case loc == LocGap:
		case loc == LocNone:
			if found || got != (Location{}) {
				t.Errorf("%v: range without record, Lookup gives %+v found=%v", a, got, found)
			}
		case p.Locs[loc] != got || p.Found[loc] != found:
			t.Errorf("%v: range location %+v found=%v, Lookup gives %+v found=%v", a, p.Locs[loc], p.Found[loc], got, found)
		}
	}
	v4 := func(x uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
	}
	for i, start := range p.V4 {
		if p.V4Loc[i] == LocGap {
			t.Errorf("IPv4 gap at %v: the IPv4 space is fully listed", v4(start))
		}
		last := uint32(1<<32 - 1)
		if i+1 < len(p.V4) {
			if p.V4[i+1] <= start {
				t.Fatalf("IPv4 range %d does not ascend", i)
			}
			last = p.V4[i+1] - 1
		}
		check(v4(start), p.V4Loc[i])
		check(v4(last), p.V4Loc[i])
	}
	v6 := func(x Addr128) netip.Addr {
		var b [16]byte
		for i := range 8 {
			b[i], b[8+i] = byte(x.Hi>>(56-8*i)), byte(x.Lo>>(56-8*i))
		}
		return netip.AddrFrom16(b)
	}
	gaps, lowStarts := 0, 0
	for i := range p.V6Hi {
		start := p.V6At(i)
		if start.Lo != 0 {
			lowStarts++
		}
		if i+1 < len(p.V6Hi) && !start.Less(p.V6At(i+1)) {
			t.Fatalf("IPv6 range %d does not ascend", i)
		}
		if i > 0 && p.V6Loc[i] == p.V6Loc[i-1] {
			t.Errorf("IPv6 ranges %d and %d have the same location: not merged", i-1, i)
		}
		if p.V6Loc[i] == LocGap {
			gaps++
		}
		check(v6(start), p.V6Loc[i])
	}
	// The IPv4 subtree (::/96) and the IPv4-mapped alias end inside the
	// lower 64 bits, so the aside path of V6At is exercised.
	if lowStarts == 0 {
		t.Error("no IPv6 range starts in the lower 64 bits")
	}
	if gaps == 0 {
		t.Error("no IPv6 gap: the IPv4 subtree and the aliases should be gaps")
	}
	if n := p.Ranges(); n >= 715 {
		t.Errorf("%d ranges: neighbouring empty networks were not merged", n)
	}
	again, _ := db.Partition()
	if again != p {
		t.Error("second call recomputed the partition")
	}
}
