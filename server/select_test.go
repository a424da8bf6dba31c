package server

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
)

func region(id string, lat, lon float64, weight int, v4, v6 bool) *regionAnswer {
	r := &regionAnswer{id: id, lat: lat, lon: lon, weight: weight}
	if v4 {
		r.a, r.aPos = []dns.RR{&dns.A{}}, []uint8{0}
	}
	if v6 {
		r.aaaa, r.aaaaPos = []dns.RR{&dns.AAAA{}}, []uint8{1}
	}
	return r
}

// allHealthy numbers the regions and returns a health table where every
// region and address is up.
func allHealthy(rs []*regionAnswer) *healthTable {
	ht := &healthTable{}
	for i, r := range rs {
		r.idx = i
		ht.regions = append(ht.regions, regionHealth{up: true, mask: allUp(2)})
		ht.rtt = append(ht.rtt, nil)
	}
	return ht
}

// TestSelectRegion checks the geo policy: client location, regions and
// weights in; the chosen region and whether the choice depends on the client
// out.
func TestSelectRegion(t *testing.T) {
	london := geo.Location{Lat: 51.51, Lon: -0.13}
	sydney := geo.Location{Lat: -33.87, Lon: 151.21}
	lon := func(w int) *regionAnswer { return region("london", 51.5, -0.1, w, true, true) }
	sloughA := func(w int) *regionAnswer { return region("slough", 51.51, -0.59, w, true, true) } // 32 km from London
	fra := func(w int) *regionAnswer { return region("frankfurt", 50.11, 8.68, w, true, true) }
	syd := func(w int) *regionAnswer { return region("sydney", -33.87, 151.21, w, true, true) }
	fra4 := region("frankfurt", 50.11, 8.68, 100, true, false)

	cases := []struct {
		name     string
		regions  []*regionAnswer
		qtype    uint16
		loc      geo.Location
		found    bool
		draw     int // what the injected rand returns (mod n)
		want     string
		byClient bool
		drained  bool
	}{
		{name: "nearest wins", regions: []*regionAnswer{fra(100), lon(100), syd(100)}, loc: london, found: true, want: "london", byClient: true},
		{name: "nearest wins from the other side", regions: []*regionAnswer{fra(100), lon(100), syd(100)}, loc: sydney, found: true, want: "sydney", byClient: true},
		{name: "drained nearest moves to next", regions: []*regionAnswer{fra(100), lon(0), syd(100)}, loc: london, found: true, want: "frankfurt", byClient: true},
		{name: "region without the family is skipped", regions: []*regionAnswer{fra4, region("sydney", -33.87, 151.21, 100, true, true)},
			qtype: dns.TypeAAAA, loc: london, found: true, want: "sydney"},
		{name: "tier within 100 km shares by weight: first draw", regions: []*regionAnswer{lon(100), sloughA(300), fra(100)}, loc: london, found: true, draw: 99, want: "london", byClient: true},
		{name: "tier within 100 km shares by weight: second draw", regions: []*regionAnswer{lon(100), sloughA(300), fra(100)}, loc: london, found: true, draw: 100, want: "slough", byClient: true},
		{name: "region outside the tier never drawn", regions: []*regionAnswer{lon(1), fra(1000)}, loc: london, found: true, draw: 0, want: "london", byClient: true},
		{name: "unknown location: weighted among all", regions: []*regionAnswer{lon(100), syd(100)}, found: false, draw: 150, want: "sydney", byClient: true},
		{name: "single candidate does not depend on the client", regions: []*regionAnswer{lon(0), syd(100)}, loc: london, found: true, want: "sydney"},
		{name: "all drained", regions: []*regionAnswer{lon(0), syd(0)}, loc: london, found: true, want: "", drained: true},
		{name: "no region has the family", regions: []*regionAnswer{fra4}, qtype: dns.TypeAAAA, loc: london, found: true, want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &gslbName{regions: tc.regions, answers: 2}
			qtype := tc.qtype
			if qtype == 0 {
				qtype = dns.TypeA
			}
			out := g.selectRegion(qtype, tc.loc, tc.found, func(n int) int { return tc.draw % n }, allHealthy(tc.regions))
			got := ""
			if out.region != nil {
				got = out.region.id
			}
			if got != tc.want || out.byClient != tc.byClient || out.drained != tc.drained {
				t.Errorf("got %q byClient=%v drained=%v, want %q byClient=%v drained=%v",
					got, out.byClient, out.drained, tc.want, tc.byClient, tc.drained)
			}
		})
	}
}

// TestSelectSplitsByWeight draws many times with real randomness and checks
// the split within a tier follows the weights.
func TestSelectSplitsByWeight(t *testing.T) {
	g := &gslbName{regions: []*regionAnswer{
		region("a", 51.5, -0.1, 100, true, false),
		region("b", 51.6, -0.2, 300, true, false),
	}}
	h := NewHandler(Options{})
	ht := allHealthy(g.regions)
	counts := map[string]int{}
	const n = 20000
	for range n {
		counts[g.selectRegion(dns.TypeA, geo.Location{Lat: 51.5, Lon: -0.1}, true, h.intn, ht).region.id]++
	}
	share := float64(counts["b"]) / n
	if share < 0.72 || share > 0.78 {
		t.Errorf("region b got %.3f of answers, want 0.75 ± 0.03 (counts %v)", share, counts)
	}
}
