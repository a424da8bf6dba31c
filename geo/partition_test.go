package geo

import (
	"math/big"
	"net/netip"
	"testing"
)

// TestPartition checks that the partition covers the IPv4 space exactly, in
// order, and that each cell says what Lookup says for addresses inside it.
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
	total := new(big.Int)
	var prev Addr128
	for i, r := range p.Ranges {
		if !r.V4 {
			continue
		}
		if i > 0 && r.First != prev.Next() {
			t.Fatalf("IPv4 range %d does not follow the previous one", i)
		}
		prev = r.Last
		size := new(big.Int).SetUint64(r.Last.Lo - r.First.Lo)
		total.Add(total, size.Add(size, big.NewInt(1)))
		// The first address of every range looks up to the same answer.
		b := uint32(r.First.Lo)
		a := netip.AddrFrom4([4]byte{byte(b >> 24), byte(b >> 16), byte(b >> 8), byte(b)})
		loc, _, found := db.Lookup(a)
		if found != r.Found {
			t.Errorf("range at %v found=%v, Lookup gives found=%v", a, r.Found, found)
		}
		if r.Loc >= 0 && p.Locs[r.Loc] != loc {
			t.Errorf("range at %v location %+v, Lookup gives %+v", a, p.Locs[r.Loc], loc)
		}
	}
	if want := new(big.Int).Lsh(big.NewInt(1), 32); total.Cmp(want) != 0 {
		t.Errorf("IPv4 ranges cover %v addresses, want %v", total, want)
	}
	if len(p.Ranges) >= 715 {
		t.Errorf("%d ranges: neighbouring empty networks were not merged", len(p.Ranges))
	}
	again, _ := db.Partition()
	if again != p {
		t.Error("second call recomputed the partition")
	}
}
