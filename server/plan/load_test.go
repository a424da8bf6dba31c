package plan

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store/schema"
)

// Three regions on a line of longitude 0: a at 0°, b at 10°, c at 20°
// north; each sheds between 0.8 and 0.95. The name ranks them by
// distance, one per tier.
var loadMarks = &schema.Shed{Low: 0.8, High: 0.95}

func loadState(t testing.TB, policy string) (*Config, *Name) {
	return loadStateBalance(t, policy, "")
}

func loadStateBalance(t testing.TB, policy, balance string) (*Config, *Name) {
	t.Helper()
	regions := map[string]*schema.RegionState{}
	for i, id := range []string{"a", "b", "c"} {
		addr := netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})
		regions[id] = &schema.RegionState{ID: id, Weight: 100, Region: &schema.Region{
			Lat: float64(10 * i), Lon: 0, Addrs: []netip.Addr{addr}, Shed: loadMarks,
		}}
	}
	zone := &schema.Zone{NS: []schema.NameServer{{Name: "ns1.example.test"}}}
	st := &schema.State{Regions: regions, Zones: map[string]*schema.ZoneState{"example.test": {
		Name: "example.test", Zone: zone,
		Names: map[string]*schema.Name{"www": {Regions: []string{"a", "b", "c"}, Policy: policy, Balance: balance}},
	}}}
	cfg, warns := BuildConfig(st)
	if len(warns) > 0 {
		t.Fatal(warns)
	}
	return cfg, cfg.Zones["example.test."].Nodes["www.example.test."].GSLB
}

func loadsOf(m map[string]float64) map[string]health.RegionLoad {
	out := map[string]health.RegionLoad{}
	for id, v := range m {
		out[id] = health.RegionLoad{Load: v, Source: "key"}
	}
	return out
}

// subnet returns the client address of simulated IPv4 subnet i (/24).
func subnet(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(1 + i>>16), byte(i >> 8), byte(i), 1})
}

// TestShedShare holds the linear share at, below, between and above the
// watermarks, as the health table applies it without hysteresis.
func TestShedShare(t *testing.T) {
	cfg, _ := loadState(t, schema.PolicyGeo)
	for _, tc := range []struct {
		load, shed float64
	}{
		{0, 0}, {0.5, 0}, {0.8, 0}, {0.875, 0.5}, {0.9125, 0.75}, {0.95, 1}, {1.2, 1}, {10, 1},
	} {
		ht := BuildHealth(cfg, nil)
		ht.ApplyLoads(cfg, loadsOf(map[string]float64{"a": tc.load}), nil, time.Time{})
		got := ht.Regions[cfg.RegionIdx["a"]].Shed
		if math.Abs(got-tc.shed) > 1e-9 {
			t.Errorf("load %v: shed %v, want %v", tc.load, got, tc.shed)
		}
		if ht.Shedding != (tc.shed > 0) {
			t.Errorf("load %v: shedding %v", tc.load, ht.Shedding)
		}
	}
}

// nearA is a client location nearest region a.
var nearA = geo.Location{Lat: 1, Lon: 0}

// TestShedSubnets counts, over 100,000 client subnets nearest a, the share
// a keeps: half at the midpoint of its watermarks, none at high, all
// below low; and the shed ones go to b, the next in their ranking.
func TestShedSubnets(t *testing.T) {
	cfg, g := loadState(t, schema.PolicyGeo)
	const n = 100_000
	for _, tc := range []struct {
		load     float64
		min, max float64 // kept share
	}{
		{0.5, 1, 1}, {0.875, 0.48, 0.52}, {0.95, 0, 0},
	} {
		ht := BuildHealth(cfg, nil)
		ht.ApplyLoads(cfg, loadsOf(map[string]float64{"a": tc.load}), nil, time.Time{})
		p := g.Plan(dns.TypeA, nearA, true, ht)
		kept := 0
		for i := range n {
			r, shed := g.Choose(&p, subnet(i), ht, rand.IntN)
			switch id := g.Regions[r].ID; {
			case id == "a" && !shed:
				kept++
			case id != "b" || !shed:
				t.Fatalf("load %v: subnet %d went to %s (shed %v), want a or b", tc.load, i, id, shed)
			}
		}
		share := float64(kept) / n
		if share < tc.min || share > tc.max {
			t.Errorf("load %v: a keeps %.4f of its subnets, want %v..%v", tc.load, share, tc.min, tc.max)
		}
	}
}

// TestShedAllAboveHigh: when every candidate is at or above its high, the
// least loaded answers.
func TestShedAllAboveHigh(t *testing.T) {
	cfg, g := loadState(t, schema.PolicyGeo)
	ht := BuildHealth(cfg, nil)
	ht.ApplyLoads(cfg, loadsOf(map[string]float64{"a": 1.5, "b": 1.2, "c": 1.3}), nil, time.Time{})
	p := g.Plan(dns.TypeA, nearA, true, ht)
	for i := range 1000 {
		if r, _ := g.Choose(&p, subnet(i), ht, rand.IntN); g.Regions[r].ID != "b" {
			t.Fatalf("subnet %d got %s, want the least loaded b", i, g.Regions[r].ID)
		}
	}
}

// TestShedReceivers fails region a while b and c have the capacity for
// everyone, and runs the load model to its steady state: a region's load is
// the subnets it answers over its capacity. No receiver ends above its
// high, and every subnet is answered.
func TestShedReceivers(t *testing.T) {
	cfg, g := loadState(t, schema.PolicyGeo)
	// 10,000 subnets near each region, capacity 16,500 each: with a
	// failed, b alone would be at 1.2 and c at 0.6, but spread over both
	// they are at 0.91, below high: the capacity suffices.
	const per, capacity = 10_000, 16_500.0
	locs := []geo.Location{{Lat: 1}, {Lat: 9}, {Lat: 21}}
	down := BuildHealth(cfg, nil)
	down.Regions[cfg.RegionIdx["a"]].Up = false
	load := map[string]float64{"b": 0, "c": 0}
	for round := range 400 {
		ht := BuildHealth(cfg, nil)
		copy(ht.Regions, down.Regions)
		ht.ApplyLoads(cfg, loadsOf(load), nil, time.Time{})
		count := map[string]float64{}
		for k, loc := range locs {
			p := g.Plan(dns.TypeA, loc, true, ht)
			for i := range per {
				r, _ := g.Choose(&p, subnet(k*per+i), ht, rand.IntN)
				count[g.Regions[r].ID]++
			}
		}
		if count["a"] > 0 {
			t.Fatalf("round %d: failed region a answered %v subnets", round, count["a"])
		}
		for id := range load {
			// Damped, as real load follows answers over TTLs.
			load[id] = 0.95*load[id] + 0.05*count[id]/capacity
		}
	}
	for id, l := range load {
		if l > loadMarks.High {
			t.Errorf("receiver %s at load %.3f, above its high %v (loads %v)", id, l, loadMarks.High, load)
		}
	}
	t.Logf("steady loads with a failed: %v", load)
}

// TestShedNoise runs ±5 % noise around each watermark (and the midpoint)
// for ten simulated minutes, a health tick a second, through the Shedder:
// no subnet changes region more than ten times. A real step then settles
// at the next tick.
func TestShedNoise(t *testing.T) {
	cfg, g := loadState(t, schema.PolicyGeo)
	for _, centre := range []float64{loadMarks.Low, (loadMarks.Low + loadMarks.High) / 2, loadMarks.High} {
		sh := NewShedder()
		rnd := rand.New(rand.NewPCG(1, 2))
		const n = 5_000
		last := make([]uint8, n)
		flips := make([]int, n)
		start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		var ht *HealthTable
		for tick := range 600 {
			ht = BuildHealth(cfg, nil)
			ht.ApplyLoads(cfg, loadsOf(map[string]float64{"a": centre + (rnd.Float64()*2-1)*0.05}), sh, start.Add(time.Duration(tick)*time.Second))
			p := g.Plan(dns.TypeA, nearA, true, ht)
			for i := range n {
				r, _ := g.Choose(&p, subnet(i), ht, rand.IntN)
				if tick > 0 && r != last[i] {
					flips[i]++
				}
				last[i] = r
			}
		}
		most := 0
		for _, f := range flips {
			most = max(most, f)
		}
		if most > 10 {
			t.Errorf("load %v ± 0.05: a subnet changed region %d times in ten minutes, want at most 10", centre, most)
		}
		t.Logf("load %v ± 0.05 for ten minutes: most changes of one subnet %d", centre, most)

		// A step from the noise to idle, then to above high, settles at
		// the first tick.
		now := start.Add(600 * time.Second)
		for _, load := range []float64{0.5, 1.0} {
			ht = BuildHealth(cfg, nil)
			ht.ApplyLoads(cfg, loadsOf(map[string]float64{"a": load}), sh, now)
			if want := 1 - loadMarks.Keep(load); ht.Regions[cfg.RegionIdx["a"]].Shed != want {
				t.Errorf("step to %v: shed %v at the first tick, want %v", load, ht.Regions[cfg.RegionIdx["a"]].Shed, want)
			}
			now = now.Add(time.Second)
		}
	}
}

// TestShedScopeTruth: while a sheds, every address inside the scope an
// answer holds for (the shedding subnet) gets the same region.
func TestShedScopeTruth(t *testing.T) {
	cfg, g := loadState(t, schema.PolicyGeo)
	ht := BuildHealth(cfg, nil)
	ht.ApplyLoads(cfg, loadsOf(map[string]float64{"a": 0.875}), nil, time.Time{})
	p := g.Plan(dns.TypeA, nearA, true, ht)
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, client := range []netip.Addr{subnet(7), subnet(99), netip.MustParseAddr("2001:db8:77::1"), netip.MustParseAddr("2001:db8:1234:5600::9")} {
		bits := ht.ShedBits(client)
		if want := map[bool]int{true: ShedV4, false: ShedV6}[client.Is4()]; bits != want {
			t.Fatalf("%s: scope %d while shedding, want %d", client, bits, want)
		}
		want, _ := g.Choose(&p, client, ht, rand.IntN)
		pfx := netip.PrefixFrom(client, bits).Masked()
		for range 200 {
			b := pfx.Addr().As16()
			for j := bits / 8; j < 16; j++ {
				b[j] = byte(rnd.IntN(256))
			}
			if bits%8 != 0 {
				panic("test assumes byte-aligned scopes")
			}
			a := netip.AddrFrom16(b)
			if client.Is4() {
				a = a.Unmap()
				a4 := pfx.Addr().As4()
				a4[3] = byte(rnd.IntN(256))
				a = netip.AddrFrom4(a4)
			}
			if got, _ := g.Choose(&p, a, ht, rand.IntN); got != want {
				t.Fatalf("%s in scope %s got %s, %s got %s", a, pfx, g.Regions[got].ID, client, g.Regions[want].ID)
			}
		}
	}
	ht.ApplyLoads(cfg, nil, nil, time.Time{})
	if bits := ht.ShedBits(subnet(7)); bits != 0 {
		t.Errorf("scope limit %d with no load, want none", bits)
	}
}

// TestBalanceHeadroom: balance "headroom" splits a tier by weight × spare
// capacity.
func TestBalanceHeadroom(t *testing.T) {
	cfg, g := loadStateBalance(t, schema.PolicyWeighted, schema.BalanceHeadroom)
	ht := BuildHealth(cfg, nil)
	ht.ApplyLoads(cfg, loadsOf(map[string]float64{"a": 0.25, "b": 0.75, "c": 1.5}), nil, time.Time{})
	// No shedding here: only the split is under test.
	ht.Shedding = false
	p := g.Plan(dns.TypeA, geo.Location{}, false, ht)
	count := map[string]int{}
	rnd := rand.New(rand.NewPCG(5, 6))
	const n = 40_000
	for i := range n {
		r, _ := g.Choose(&p, subnet(i), ht, rnd.IntN)
		count[g.Regions[r].ID]++
	}
	// Spare 0.75 : 0.25 : 0.
	if a := float64(count["a"]) / n; a < 0.73 || a > 0.77 || count["c"] != 0 {
		t.Errorf("split %v, want a 75 %%, b 25 %%, c none", count)
	}
}
