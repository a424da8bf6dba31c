package schema

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestHealthKeyLayouts checks the key builders against the parser: what
// HealthKey writes parses as the per-prober layout, what LegacyHealthKey
// writes as the legacy one, with the same parts.
func TestHealthKeyLayouts(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		legacy   bool
		want     string // the key below the prefix
	}{
		{"per-prober IPv4", "192.0.2.10", false, "health/fra-1/eu-west/192.0.2.10"},
		{"per-prober IPv6", "2001:db8::10", false, "health/fra-1/eu-west/2001:db8::10"},
		{"legacy IPv4", "192.0.2.10", true, "health/eu-west/192.0.2.10/fra-1"},
		{"legacy IPv6", "2001:db8::10", true, "health/eu-west/2001:db8::10/fra-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := HealthKey(DefaultPrefix, "eu-west", tc.endpoint, "fra-1")
			if tc.legacy {
				key = LegacyHealthKey(DefaultPrefix, "eu-west", tc.endpoint, "fra-1")
			}
			if key != DefaultPrefix+tc.want {
				t.Fatalf("key = %q, want %q", key, DefaultPrefix+tc.want)
			}
			k, err := ParseKey(DefaultPrefix, key)
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", key, err)
			}
			want := Key{Kind: KindHealth, Region: "eu-west", Endpoint: tc.endpoint, Prober: "fra-1", Legacy: tc.legacy}
			if k != want {
				t.Fatalf("ParseKey(%q) = %+v, want %+v", key, k, want)
			}
			// Only the per-prober layout lies inside the prober's own prefix,
			// which its etcd role may write.
			own := ProberHealthPrefix(DefaultPrefix, "fra-1")
			if inside := strings.HasPrefix(key, own); inside == tc.legacy {
				t.Errorf("key %q inside %q: %v, want %v", key, own, inside, !tc.legacy)
			}
		})
	}
}

// TestBuilderHealthLayouts feeds reports in both layouts, and both mixed,
// to the Builder, and checks which probers count on which endpoint.
func TestBuilderHealthLayouts(t *testing.T) {
	const (
		up   = `{"up": true, "time": "2026-11-26T12:00:00Z"}`
		down = `{"up": false, "time": "2026-11-26T12:00:00Z"}`
		reg  = `{"lat": 50, "lon": 8}`
		ep   = "192.0.2.10"
		ep6  = "2001:db8::10"
	)
	newKey := func(prober, endpoint string) string { return HealthKey(DefaultPrefix, "eu-west", endpoint, prober) }
	oldKey := func(prober, endpoint string) string {
		return LegacyHealthKey(DefaultPrefix, "eu-west", endpoint, prober)
	}

	// votes is what a State says about eu-west: endpoint -> prober -> up.
	type votes map[string]map[string]bool
	tests := []struct {
		name     string
		ops      []kv
		want     votes
		rejected []string // keys wanted among the rejections
	}{
		{"legacy layout only",
			[]kv{put(oldKey("fra-1", ep), up, 1), put(oldKey("iad-1", ep), down, 2), put(oldKey("fra-1", ep6), down, 3)},
			votes{ep: {"fra-1": true, "iad-1": false}, ep6: {"fra-1": false}}, nil},
		{"per-prober layout only",
			[]kv{put(newKey("fra-1", ep), up, 1), put(newKey("iad-1", ep), down, 2), put(newKey("fra-1", ep6), down, 3)},
			votes{ep: {"fra-1": true, "iad-1": false}, ep6: {"fra-1": false}}, nil},
		{"mixed: one prober upgraded, one not, both count",
			[]kv{put(newKey("fra-1", ep), up, 1), put(oldKey("iad-1", ep), down, 2)},
			votes{ep: {"fra-1": true, "iad-1": false}}, nil},
		{"same prober in both layouts: per-prober wins, counted once",
			[]kv{put(oldKey("fra-1", ep), down, 1), put(newKey("fra-1", ep), up, 2)},
			votes{ep: {"fra-1": true}}, nil},
		{"same prober in both layouts, legacy written last: per-prober still wins",
			[]kv{put(newKey("fra-1", ep), up, 1), put(oldKey("fra-1", ep), down, 2)},
			votes{ep: {"fra-1": true}}, nil},
		{"upgraded prober's legacy key on another endpoint is a leftover",
			[]kv{put(newKey("fra-1", ep), up, 1), put(oldKey("fra-1", ep6), down, 2)},
			votes{ep: {"fra-1": true}}, nil},
		{"upgraded prober's last per-prober key deleted: legacy counts again",
			[]kv{put(newKey("fra-1", ep), up, 1), put(oldKey("fra-1", ep6), down, 2), del(newKey("fra-1", ep))},
			votes{ep6: {"fra-1": false}}, nil},
		{"legacy key inside a registered prober's health prefix is refused",
			// Prober "eu-west" may write /glb/health/eu-west/: a legacy
			// key of region eu-west there could be its forgery of fra-1.
			[]kv{put(ProberKey(DefaultPrefix, "eu-west"), reg, 1), put(oldKey("fra-1", ep), up, 2), put(newKey("iad-1", ep), down, 3)},
			votes{ep: {"iad-1": false}}, []string{oldKey("fra-1", ep)}},
		{"legacy key inside an upgraded prober's health prefix is refused",
			[]kv{put(HealthKey(DefaultPrefix, "us-east", "198.51.100.1", "eu-west"), up, 1), put(oldKey("fra-1", ep), up, 2)},
			nil, []string{oldKey("fra-1", ep)}},
		{"ambiguous key refused, the rest counts",
			[]kv{put(DefaultPrefix+"health/eu-west/192.0.2.10/10.0.0.1", up, 1), put(newKey("fra-1", ep), down, 2)},
			votes{ep: {"fra-1": false}}, []string{DefaultPrefix + "health/eu-west/192.0.2.10/10.0.0.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(DefaultPrefix)
			apply(b, tc.ops)
			st, _ := b.State(10)
			got := votes{}
			for endpoint, probers := range st.Health["eu-west"] {
				got[endpoint] = map[string]bool{}
				for p, r := range probers {
					got[endpoint][p] = r.Up
				}
			}
			if !maps.EqualFunc(got, tc.want, maps.Equal) {
				t.Errorf("eu-west votes = %v, want %v", got, tc.want)
			}
			var keys []string
			for _, r := range st.Rejected {
				keys = append(keys, r.Key)
			}
			slices.Sort(keys)
			want := slices.Sorted(slices.Values(tc.rejected))
			if !slices.Equal(keys, want) {
				t.Errorf("rejected %v, want %v (%+v)", keys, want, st.Rejected)
			}
		})
	}
}
