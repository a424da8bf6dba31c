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
	var prev netip.Prefix
	for _, c := range p.Cells {
		if !c.Prefix.Addr().Is4() {
			continue
		}
		if prev.IsValid() && c.Prefix.Addr().Compare(prev.Addr()) <= 0 {
			t.Fatalf("cells out of order: %v after %v", c.Prefix, prev)
		}
		prev = c.Prefix
		total.Add(total, new(big.Int).Lsh(big.NewInt(1), uint(32-c.Prefix.Bits())))
		// The first address of every cell looks up to the same answer.
		loc, network, found := db.Lookup(c.Prefix.Addr())
		if network != c.Prefix || found != c.Found {
			t.Errorf("cell %v found=%v, Lookup gives %v found=%v", c.Prefix, c.Found, network, found)
		}
		if c.Loc >= 0 && p.Locs[c.Loc] != loc {
			t.Errorf("cell %v location %+v, Lookup gives %+v", c.Prefix, p.Locs[c.Loc], loc)
		}
	}
	if want := new(big.Int).Lsh(big.NewInt(1), 32); total.Cmp(want) != 0 {
		t.Errorf("IPv4 cells cover %v addresses, want %v", total, want)
	}
	again, _ := db.Partition()
	if again != p {
		t.Error("second call recomputed the partition")
	}
}
