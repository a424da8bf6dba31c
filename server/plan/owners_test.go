package plan

import (
	"maps"
	"slices"
	"testing"

	"github.com/glb-dns/glb/server/internal/testdev"
)

// TestLookupIsMatchThenNode: the fast path's one-map Lookup finds the
// same zone and node as matching the zone and then the node, for every
// owner name of every zone, names under no node, names outside every zone,
// and, with a zone nested in the dev zone, the parent's names at and below
// the child's apex (the child serves those).
func TestLookupIsMatchThenNode(t *testing.T) {
	child := "sub." + testdev.Zone
	for _, tc := range []struct {
		name  string
		edits map[string]any
	}{
		{"dev zone", nil},
		{"nested zone", map[string]any{
			"zones/sub.gslb.example.test": map[string]any{
				"ns":      []any{map[string]any{"name": "ns1.sub.gslb.example.test", "addrs": []string{"192.0.2.54"}}},
				"contact": "hostmaster@example.test",
			},
			"zones/sub.gslb.example.test/names/www": map[string]any{"regions": []string{"us-east", "eu-west"}},
			// The parent's records at and below the child's apex.
			"zones/gslb.example.test/records/sub/TXT":     map[string]any{"values": []string{"parent"}},
			"zones/gslb.example.test/records/x.sub/A":     map[string]any{"values": []string{"192.0.2.99"}},
			"zones/gslb.example.test/records/www.sub/TXT": map[string]any{"values": []string{"parent"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, warns := BuildConfig(testdev.State(t, tc.edits))
			if len(warns) > 0 {
				t.Fatal(warns)
			}
			s := &Snapshot{Config: cfg}
			if tc.edits != nil && cfg.Zones[child] == nil {
				t.Fatalf("no zone %s: %v", child, slices.Collect(maps.Keys(cfg.Zones)))
			}
			names := []string{"nope." + testdev.Zone, "a.b.www." + testdev.Zone, "example.test.", "other.test.", ".", "x.sub." + testdev.Zone, "y.sub." + testdev.Zone}
			for _, z := range cfg.Zones {
				for name := range z.Nodes {
					names = append(names, name, "deeper."+name)
				}
			}
			for _, name := range names {
				wantZone := s.Match(name)
				var wantNode *Node
				if wantZone != nil {
					wantNode = wantZone.Nodes[name]
				}
				z, n := s.Lookup([]byte(name))
				if z != wantZone || n != wantNode {
					t.Errorf("Lookup(%q) = zone %v, node %p; want zone %v, node %p", name, zoneName(z), n, zoneName(wantZone), wantNode)
				}
			}
		})
	}
}

func zoneName(z *Zone) string {
	if z == nil {
		return "none"
	}
	return z.Name
}
