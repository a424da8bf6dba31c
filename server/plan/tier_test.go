package plan

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/server/internal/testdev"
)

// TestTierSetting: over every location of the test GeoIP database and a
// grid of places every 2.5 degrees (the test database has few), a name
// whose tier is "nearest" plans exactly the nearest region (ties: the
// first listed), a tier of 0 km and 0 % only the regions at the best
// distance, and a wide tier at least every region the default tier holds.
func TestTierSetting(t *testing.T) {
	db := testdev.OpenDB(t)
	part, err := db.Partition()
	if err != nil {
		t.Fatal(err)
	}
	regions := []string{"us-east", "us-west", "eu-west", "eu-central", "ap-northeast", "ap-southeast", "sa-east"}
	doc := func(tier any) map[string]any {
		d := map[string]any{"regions": regions}
		if tier != nil {
			d["tier"] = tier
		}
		return d
	}
	st := testdev.State(t, map[string]any{
		"zones/gslb.example.test/names/near":  doc("nearest"),
		"zones/gslb.example.test/names/zero":  doc(map[string]any{"km": 0, "pct": 0}),
		"zones/gslb.example.test/names/dflt":  doc(nil),
		"zones/gslb.example.test/names/wide":  doc(map[string]any{"km": 3000}),
		"zones/gslb.example.test/names/lnear": map[string]any{"regions": regions, "policy": "latency", "tier": "nearest"},
	})
	cfg, warns := BuildConfig(st)
	if len(warns) > 0 {
		t.Fatal(warns)
	}
	ht := BuildHealth(cfg, nil)
	name := func(label string) *Name { return cfg.Zones[testdev.Zone].Nodes[label+"."+testdev.Zone].GSLB }
	near, zero, dflt, wide, lnear := name("near"), name("zero"), name("dflt"), name("wide"), name("lnear")
	for g, want := range map[*Name]string{near: "nearest", dflt: "10% or 100 km", wide: "10% or 3000 km", zero: "0% or 0 km"} {
		if got := g.TierText(); got != want {
			t.Errorf("%s: tier text %q, want %q", g.Label, got, want)
		}
	}
	if near.CfgKey == dflt.CfgKey || zero.CfgKey == dflt.CfgKey || wide.CfgKey == dflt.CfgKey {
		t.Fatal("names differing only in their tier share a configuration key (and so a scope table)")
	}
	var locs []geo.Location
	for i, loc := range part.Locs {
		if part.Found[i] {
			locs = append(locs, loc)
		}
	}
	for lat := -87.5; lat < 90; lat += 2.5 {
		for lon := -180.0; lon < 180; lon += 2.5 {
			locs = append(locs, geo.Location{Lat: lat, Lon: lon})
		}
	}
	checked, narrower := 0, 0
	for _, loc := range locs {
		checked++
		best, bestD := -1, 0.0
		for k, r := range near.Regions {
			if d := geo.Distance(loc.Lat, loc.Lon, r.Lat, r.Lon); best < 0 || d < bestD {
				best, bestD = k, d
			}
		}
		for _, g := range []*Name{near, lnear} {
			p := g.Plan(dns.TypeA, loc, true, ht)
			if p.NTier != 1 || int(p.Order[0]) != best {
				t.Fatalf("%s at %+v: tier %v, want only %s", g.Label, loc, p.Tier(), g.Regions[best].ID)
			}
		}
		pz := zero.Plan(dns.TypeA, loc, true, ht)
		for _, k := range pz.Tier() {
			if d := geo.Distance(loc.Lat, loc.Lon, zero.Regions[k].Lat, zero.Regions[k].Lon); d != bestD {
				t.Fatalf("zero tier at %+v holds %s at %.1f km, the best is %.1f km", loc, zero.Regions[k].ID, d, bestD)
			}
		}
		pd, pw := dflt.Plan(dns.TypeA, loc, true, ht), wide.Plan(dns.TypeA, loc, true, ht)
		if pw.NTier < pd.NTier {
			t.Fatalf("a 3000 km tier at %+v holds %d regions, fewer than the default's %d", loc, pw.NTier, pd.NTier)
		}
		if pd.NTier > 1 {
			narrower++
		}
	}
	if checked == 0 || narrower == 0 {
		t.Fatalf("checked %d locations, %d where the default tier holds more than one region: the test proves nothing", checked, narrower)
	}
}
