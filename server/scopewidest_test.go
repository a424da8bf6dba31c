package server

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/geo"
)

// rangeStarts lists the first address of every partition range of one
// family that overlaps [first, last], clipped to first: one address per
// location the prefix holds. gap says the prefix overlaps a gap (an alias
// of the IPv4 space, 6to4 or Teredo), whose addresses decide by the IPv4
// address they carry: no one address stands for it.
func rangeStarts(part *geo.Partition, first, last geo.Addr128, v4 bool) (out []netip.Addr, gap bool) {
	if v4 {
		i := max(sort.Search(len(part.V4), func(i int) bool { return uint64(part.V4[i]) > first.Lo })-1, 0)
		for ; i < len(part.V4) && uint64(part.V4[i]) <= last.Lo; i++ {
			gap = gap || part.V4Loc[i] == geo.LocGap
			s := max(uint64(part.V4[i]), first.Lo)
			out = append(out, netip.AddrFrom4([4]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}))
		}
		return out, gap
	}
	i := max(sort.Search(len(part.V6Hi), func(i int) bool { return first.Less(part.V6At(i)) })-1, 0)
	for ; i < len(part.V6Hi) && !last.Less(part.V6At(i)); i++ {
		gap = gap || part.V6Loc[i] == geo.LocGap
		s := part.V6At(i)
		if s.Less(first) {
			s = first
		}
		var b [16]byte
		for k := range 8 {
			b[k], b[8+k] = byte(s.Hi>>(56-8*k)), byte(s.Lo>>(56-8*k))
		}
		out = append(out, netip.AddrFrom16(b))
	}
	return out, gap
}

// widestHandler is healthHandler on the test database or, when
// GLB_SCOPE_DB names one, on that City database (e.g. a real GeoLite2
// City, which is never checked in: the test then takes about 3 minutes).
func widestHandler(t *testing.T, edits map[string]any) *Handler {
	t.Helper()
	path := os.Getenv("GLB_SCOPE_DB")
	if path == "" {
		h, _ := healthHandler(t, edits)
		return h
	}
	db, err := geo.Open(path)
	if err != nil {
		t.Fatalf("GLB_SCOPE_DB: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	h := NewHandler(Options{Geo: db, Metrics: NewMetrics(prometheus.NewRegistry()), Rand: func(int) int { return 0 },
		Now: func() time.Time { return reportTime.Add(time.Second) }})
	applyNow(h, devState(t, edits))
	return h
}

// TestScopeIsWidest is the other half of the ECS scope property, the one
// `make scope-compare` measures against gdnsd: the scope is the widest
// prefix around the client over which the decision is one. For every
// client whose scope is not its source prefix (a cap) or 0, the prefix one
// bit wider holds a range of the database that decides differently, so a
// binary-trie merge of the same decisions per network (gdnsd's nets tree)
// could not return a wider scope either. A wider prefix that overlaps an
// alias of the IPv4 space (6to4, Teredo) counts as deciding differently:
// glb never merges across those.
func TestScopeIsWidest(t *testing.T) {
	regions := []string{"us-east", "us-west", "eu-west", "eu-central"}
	scenarios := map[string]map[string]any{
		"geo, tier nearest": name(map[string]any{"regions": regions, "tier": "nearest"}),
		"geo, default tier": name(map[string]any{"regions": regions}),
		"geo, wide tier":    name(map[string]any{"regions": regions, "tier": map[string]any{"km": 2000}}),
		"fenced":            name(map[string]any{"regions": regions, "geofence": euFence, "tier": "nearest"}),
		"eu-west down":      merge(name(map[string]any{"regions": regions, "tier": "nearest"}), euWestDown),
	}
	r := rand.New(rand.NewPCG(3, 4))
	for scenario, edits := range scenarios {
		t.Run(scenario, func(t *testing.T) {
			h := widestHandler(t, edits)
			part, err := h.geo.(Partitioner).Partition()
			if err != nil {
				t.Fatal(err)
			}
			g := h.snap.Load().Config.Zones[testZone].Nodes["p."+testZone].GSLB
			checked, widest := 0, 0
			for range 1500 {
				a := randomAddr(r)
				qtype, source, width := dns.TypeA, 24, 32
				if a.Is6() {
					qtype, source, width = dns.TypeAAAA, 56, 128
				}
				subnet := netip.PrefixFrom(a, source).Masked()
				client := subnet.Addr()
				scope := replyScope(ask(t, h, "127.0.0.1", mkQuery("p."+testZone, qtype, subnet.String())))
				if scope <= 0 || scope >= source {
					continue
				}
				checked++
				want := planKey(h, g, qtype, client)
				x, v4 := geo.AddrOf(client)
				first, last := geo.Bounds(x, scope-1, width)
				starts, differs := rangeStarts(part, first, last, v4)
				for _, b := range starts {
					if planKey(h, g, qtype, b) != want {
						differs = true
						break
					}
				}
				if !differs {
					t.Fatalf("client %s got scope /%d, but every range of %s decides as it does: /%d is true too",
						subnet, scope, netip.PrefixFrom(client, scope-1).Masked(), scope-1)
				}
				widest++
			}
			t.Logf("%d scopes between 0 and the source prefix, each the widest true one", widest)
			if checked < 100 {
				t.Errorf("only %d of 1500 scopes were between 0 and the source prefix: the test checks too little", checked)
			}
		})
	}
}
