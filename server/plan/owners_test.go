package plan

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/internal/testdev"
)

// TestLookupIsMatchThenNode: the fast path's one-map LookupWire finds the
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
				// As asked, and in mixed case (resolvers that randomise
				// the case of names, RFC draft "0x20").
				for _, asked := range []string{name, mixCase(name)} {
					z, n, ok := s.LookupWire(wireName(t, asked))
					if !ok || z != wantZone || n != wantNode {
						t.Errorf("LookupWire(%q) = zone %v, node %p, %v; want zone %v, node %p", asked, zoneName(z), n, ok, zoneName(wantZone), wantNode)
					}
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

// TestLookupWireDeclinesOddNames: a name with a byte no owner name has
// (one that presentation form escapes) is left to the general path, even
// where it would be in a zone.
func TestLookupWireDeclinesOddNames(t *testing.T) {
	cfg, warns := BuildConfig(testdev.State(t, nil))
	if len(warns) > 0 {
		t.Fatal(warns)
	}
	s := &Snapshot{Config: cfg}
	for _, name := range []string{`a\.b.` + testdev.Zone, `w\000w.` + testdev.Zone, `*.` + testdev.Zone, `sp\032ace.` + testdev.Zone, `caf\233.` + testdev.Zone} {
		if z, n, ok := s.LookupWire(wireName(t, name)); ok {
			t.Errorf("LookupWire(%q) = zone %v, node %p, true; want false", name, zoneName(z), n)
		}
	}
	if _, _, ok := s.LookupWire(wireName(t, "nope."+testdev.Zone)); !ok {
		t.Error("LookupWire declined a plain name")
	}
}

// wireName packs name into wire form with the DNS library.
func wireName(t *testing.T, name string) []byte {
	t.Helper()
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("pack %q: %v", name, err)
	}
	return buf[:n]
}

// mixCase upper-cases every other letter of name.
func mixCase(name string) string {
	b := []byte(name)
	for i, c := range b {
		if i%2 == 0 && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// TestLookupWireUnindexed: with an owner name that could not be indexed
// in wire form, a name not found is never denied on the fast path (it
// might be that owner): LookupWire leaves it to the general path, and
// still finds the names that are indexed.
func TestLookupWireUnindexed(t *testing.T) {
	cfg, warns := BuildConfig(testdev.State(t, nil))
	if len(warns) > 0 {
		t.Fatal(warns)
	}
	cfg.unindexed = true
	s := &Snapshot{Config: cfg}
	for _, name := range []string{"nope." + testdev.Zone, "NoPe." + testdev.Zone} {
		if z, _, ok := s.LookupWire(wireName(t, name)); ok {
			t.Errorf("LookupWire(%q) = zone %v, true; want false", name, zoneName(z))
		}
	}
	for _, name := range []string{"www." + testdev.Zone, "WWW." + testdev.Zone} {
		if _, n, ok := s.LookupWire(wireName(t, name)); !ok || n == nil {
			t.Errorf("LookupWire(%q) = node %p, %v; want the node", name, n, ok)
		}
	}
}

// TestWireOf: the wire form of plain lower-case names, and none for names
// LookupWire could not match as asked.
func TestWireOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"www.gslb.example.test.", true},
		{"a-b_c.0.test.", true},
		{"Www.test.", false},  // upper case: owner names are lower case
		{`a\.b.test.`, false}, // an escape
		{"sp ace.test.", false},
		{"a..test.", false},
		{"www.test", false}, // no trailing dot
		{".", false},
		{strings.Repeat("a", 64) + ".test.", false},
	} {
		w, ok := wireOf(tc.name)
		if ok != tc.ok {
			t.Errorf("wireOf(%q) ok = %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if ok && string(w) != string(wireName(t, tc.name)) {
			t.Errorf("wireOf(%q) = %q, want %q", tc.name, w, wireName(t, tc.name))
		}
	}
}
