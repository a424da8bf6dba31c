package main

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/store"
)

func TestPercentileNearestRank(t *testing.T) {
	var v []float64
	for i := 1; i <= 100; i++ {
		v = append(v, float64(i))
	}
	for p, want := range map[float64]float64{50: 50, 90: 90, 99: 99, 99.9: 100, 100: 100, 0: 1} {
		if got := percentile(v, p); got != want {
			t.Errorf("p%v of 1..100 = %v, want %v", p, got, want)
		}
	}
}

func TestSeedReadsBackAndValidates(t *testing.T) {
	kvs, err := buildSeed(seedSpec{zone: "gslb.example.test", names: 3, regions: 20, policy: "geo", answers: 2, ttl: 30})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 2*20 + 3; len(kvs) != want {
		t.Errorf("%d keys, want %d", len(kvs), want)
	}
	path := filepath.Join(t.TempDir(), "seed.yaml")
	if err := writeSeed(path, kvs); err != nil {
		t.Fatal(err)
	}
	back, err := store.LoadSeedFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range kvs {
		if back[k] != v {
			t.Errorf("%s: read back %q, want %q", k, back[k], v)
		}
	}
	if _, err := buildSeed(seedSpec{zone: "z.test", regions: 21}); err == nil {
		t.Error("21 regions accepted")
	}
}

func TestQueryCarriesECS(t *testing.T) {
	b, err := query(7, "www.gslb.example.test", dns.TypeAAAA, netip.MustParsePrefix("81.2.69.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	e, ok := m.IsEdns0().Option[0].(*dns.EDNS0_SUBNET)
	if m.Id != 7 || m.Question[0].Qtype != dns.TypeAAAA || !ok || e.SourceNetmask != 24 || e.Family != 1 ||
		!e.Address.Equal(netip.MustParseAddr("81.2.69.0").AsSlice()) {
		t.Errorf("query %v", m)
	}
}
