package server

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/glb-dns/glb/server/explain"
	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// whatIfNameWeights applies hypothetical per-name weights of the GSLB
// name to st, a copy of cur's state: the name's zone is copied with its
// weights, so the server's state is never touched.
func whatIfNameWeights(cur *plan.Snapshot, st *schema.State, name string, weights map[string]int) error {
	g := gslbName(cur, name)
	if g == nil {
		return fmt.Errorf("name_weight: %s is not a GSLB name", name)
	}
	zs := st.Zones[g.Zone]
	if zs == nil || zs.Names[g.Label] == nil {
		return fmt.Errorf("name_weight: %s is not in the configuration", name)
	}
	for id, n := range weights {
		if !slices.Contains(zs.Names[g.Label].Regions, id) {
			return fmt.Errorf("name_weight: region %q is not one of %s's regions", id, name)
		}
		if n < 0 || n > schema.MaxWeight {
			return fmt.Errorf("name_weight: %s:%d is outside 0..%d", id, n, schema.MaxWeight)
		}
	}
	copied := *zs
	copied.Weights = maps.Clone(zs.Weights)
	if copied.Weights == nil {
		copied.Weights = map[string]map[string]int{}
	}
	nw := maps.Clone(copied.Weights[g.Label])
	if nw == nil {
		nw = map[string]int{}
	}
	maps.Copy(nw, weights)
	copied.Weights[g.Label] = nw
	st.Zones = maps.Clone(st.Zones)
	st.Zones[g.Zone] = &copied
	return nil
}

// untilText is an admin state's end as explain writes it: RFC 3339, ""
// for none.
func untilText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// explainPin describes a pin for explain.
func explainPin(p plan.Pin) *explain.Pin {
	nets := p.Nets
	if nets == nil {
		nets = []string{} // a location of ASNs only: still a list in JSON
	}
	return &explain.Pin{Key: p.Key, Regions: p.RegionIDs, Nets: nets, ASNs: p.ASNs}
}
