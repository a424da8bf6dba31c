package plan

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/geo/geotest"
	"github.com/glb-dns/glb/server/internal/testdev"
)

// testASN writes and opens an ASN database of rows.
func testASN(t *testing.T, rows []geotest.ASNRow) *geo.ASNTable {
	t.Helper()
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	if err := (geotest.Options{IncludeReservedNetworks: true}).WriteASNFile(path, rows); err != nil {
		t.Fatal(err)
	}
	d, err := geo.OpenASN(path)
	if err != nil {
		t.Fatal(err)
	}
	return d.Table()
}

// TestPinsASN: ASN pins cover the networks the ASN database gives the AS,
// neighbours of one AS merge, a CIDR pin wins over an ASN pin whatever
// their widths, and every scope stays inside one pin's range (or clear
// of all of them); without a database the ASNs pin nothing.
func TestPinsASN(t *testing.T) {
	tb := testASN(t, []geotest.ASNRow{
		{Network: netip.MustParsePrefix("81.2.68.0/24"), ASN: 64500},
		{Network: netip.MustParsePrefix("81.2.69.0/24"), ASN: 64500},
		{Network: netip.MustParsePrefix("81.2.70.0/23"), ASN: 64501},
		{Network: netip.MustParsePrefix("89.1.0.0/16"), ASN: 64500},
		{Network: netip.MustParsePrefix("10.0.0.0/16"), ASN: 64502},
		{Network: netip.MustParsePrefix("2a02:ec80::/29"), ASN: 64500},
	})
	st := testdev.State(t, map[string]any{
		"nets/n": map[string]any{"a": []string{"AS64500"}, "b": []string{"AS64502", "AS64999"}, "c": []string{"10.0.5.0/24"},
			"d": []string{"89.0.0.0/8"}},
		"zones/gslb.example.test/names/p": map[string]any{"regions": []string{"us-east", "eu-west"},
			"pins": map[string]any{"n/a": []string{"us-east"}, "n/b": []string{"eu-west"}, "n/c": []string{"us-east"}, "n/d": []string{"eu-west"}}},
	})
	cfg, _ := BuildConfigASN(st, tb)
	g := cfg.Zones[testdev.Zone].Nodes["p."+testdev.Zone].GSLB
	if g.Pins.ASNUnresolved {
		t.Error("ASNUnresolved with a database")
	}
	for _, tc := range []struct {
		addr  string
		pin   string // "" unpinned
		bits  int
		byASN bool
	}{
		{"81.2.69.7", "n/a", 23, true},    // 81.2.68.0/24 and 81.2.69.0/24 are one range
		{"81.2.70.1", "", 23, false},      // AS64501: clear of AS64500 on both sides
		{"10.0.5.1", "n/c", 24, false},    // the CIDR inside the AS
		{"10.0.4.1", "n/b", 24, true},     // the AS, up to the CIDR
		{"10.0.0.1", "n/b", 22, true},     // 10.0.0.0-10.0.4.255
		{"10.0.6.1", "n/b", 23, true},     // 10.0.6.0-10.0.255.255
		{"89.1.2.3", "n/d", 8, false},     // a wider CIDR wins over the AS's /16
		{"2a02:ec80::1", "n/a", 29, true}, // IPv6
		{"2a02:ec88::1", "", 29, false},
	} {
		a := netip.MustParseAddr(tc.addr)
		pin, bits, pinned := g.Pins.Find(a)
		got := ""
		if pinned {
			got = g.Pins.Pin[pin].Key
		}
		if got != tc.pin || bits != tc.bits || g.Pins.ByASN(a) != tc.byASN {
			t.Errorf("%s: pin %q /%d byASN %v, want %q /%d %v", tc.addr, got, bits, g.Pins.ByASN(a), tc.pin, tc.bits, tc.byASN)
		}
		// Every address of the scope is pinned alike: the scope is true.
		scope := netip.PrefixFrom(a, bits).Masked()
		for _, edge := range []netip.Addr{scope.Addr(), lastOf(scope)} {
			if p2, _, pinned2 := g.Pins.Find(edge); pinned2 != pinned || (pinned && p2 != pin) {
				t.Errorf("%s: scope %s reaches %s, pinned otherwise", tc.addr, scope, edge)
			}
		}
	}
	if want := []string{"AS64502", "AS64999"}; len(g.Pins.Pin[1].ASNs) != 2 || g.Pins.Pin[1].ASNs[1] != want[1] {
		t.Errorf("pin n/b ASNs %v, want %v", g.Pins.Pin[1].ASNs, want)
	}

	cfg, _ = BuildConfig(st) // no ASN database
	g = cfg.Zones[testdev.Zone].Nodes["p."+testdev.Zone].GSLB
	if !g.Pins.ASNUnresolved {
		t.Error("ASNUnresolved not set without a database")
	}
	if _, _, pinned := g.Pins.Find(netip.MustParseAddr("81.2.69.7")); pinned {
		t.Error("an ASN pinned without a database")
	}
	if pin, _, pinned := g.Pins.Find(netip.MustParseAddr("10.0.5.1")); !pinned || g.Pins.Pin[pin].Key != "n/c" {
		t.Error("a CIDR pin lost without an ASN database")
	}
}

// lastOf is the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
