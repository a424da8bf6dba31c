package plan

import (
	"net/netip"
	"testing"

	"github.com/glb-dns/glb/server/internal/testdev"
)

// TestPinsFind: nested CIDRs resolve to the most specific, the ends of the
// address space are handled, and an unpinned address's bound keeps its
// scope out of every pinned range.
func TestPinsFind(t *testing.T) {
	st := testdev.State(t, map[string]any{
		"nets/n": map[string]any{"all": []string{"0.0.0.0/0"}, "ten": []string{"10.0.0.0/8"}, "top": []string{"255.255.255.0/24"},
			"six": []string{"2001:db8::/32"}, "sixin": []string{"2001:db8:8000::/33"}},
		"zones/gslb.example.test/names/p": map[string]any{"regions": []string{"us-east", "eu-west"},
			"pins": map[string]any{"n/all": []string{"us-east"}, "n/ten": []string{"eu-west"}, "n/top": []string{"eu-west"},
				"n/six": []string{"us-east"}, "n/sixin": []string{"eu-west"}}},
	})
	cfg, _ := BuildConfig(st)
	g := cfg.Zones[testdev.Zone].Nodes["p."+testdev.Zone].GSLB
	for _, tc := range []struct {
		addr string
		pin  string // "" unpinned
		bits int
	}{
		{"9.255.255.255", "n/all", 7},
		{"10.1.2.3", "n/ten", 8},
		{"11.0.0.0", "n/all", 8},
		{"0.0.0.0", "n/all", 5},
		{"255.255.255.7", "n/top", 24},
		{"255.255.254.255", "n/all", 24},
		{"2001:db8::1", "n/six", 33},
		{"2001:db8:8000::1", "n/sixin", 33},
		{"2001:db9::1", "", 32},
		{"2001:db7::1", "", 29},
		{"::1", "", 3},
	} {
		pin, bits, pinned := g.Pins.Find(netip.MustParseAddr(tc.addr))
		got := ""
		if pinned {
			got = g.Pins.Pin[pin].Key
		}
		if got != tc.pin || bits != tc.bits {
			t.Errorf("%s: pin %q /%d, want %q /%d", tc.addr, got, bits, tc.pin, tc.bits)
		}
	}
	var none *Pins
	if _, bits, pinned := none.Find(netip.MustParseAddr("10.0.0.1")); pinned || bits != 0 {
		t.Error("a name without pins pins")
	}
}
