package main

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/geo/geotest"
)

// TestBuildContiguous checks the shape the start-up measurements rely on:
// the file opens as a City database; its networks lie side by side, so
// the partition has far fewer ranges per network than the isolated
// networks of -random alone; and the bytes depend on the seed only.
func TestBuildContiguous(t *testing.T) {
	const n = 4000
	gen := func(seed uint64) []byte {
		t.Helper()
		var b bytes.Buffer
		if err := buildContiguous(n, seed, &b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if a, b, c := gen(7), gen(7), gen(8); !bytes.Equal(a, b) {
		t.Error("same seed gave different bytes")
	} else if bytes.Equal(a, c) {
		t.Error("different seeds gave the same bytes")
	}

	ranges := map[string]float64{}
	for _, tc := range []struct {
		name  string
		build func(int, uint64, io.Writer) error
	}{
		{"contiguous", buildContiguous},
		{"random", buildRandom},
	} {
		path := filepath.Join(t.TempDir(), tc.name+".mmdb")
		if err := geotest.Install(path, func(w io.Writer) error { return tc.build(n, 1, w) }); err != nil {
			t.Fatal(err)
		}
		d, err := geo.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p, err := d.Partition()
		if err != nil {
			t.Fatal(err)
		}
		networks := 0
		for _, k := range p.Networks {
			networks += int(k)
		}
		// One in ten networks is left empty, and the writer joins
		// sibling networks that share a record into one.
		if networks < n/2 || networks > n {
			t.Errorf("%s: %d networks with records, want %d to %d", tc.name, networks, n/2, n)
		}
		ranges[tc.name] = float64(p.Ranges()) / float64(networks)
		_ = d.Close()
	}
	if ranges["contiguous"] >= ranges["random"]/2 {
		t.Errorf("ranges per network: contiguous %.2f, random %.2f; want the contiguous one well under half", ranges["contiguous"], ranges["random"])
	}
	t.Logf("ranges per network: %v", ranges)
}
