// Package explain holds the JSON documents of glbd's /explain and
// /simulate endpoints. glbd writes them and glbctl reads them, both with
// these types, so the two cannot drift apart. It has no logic beyond
// describing a hypothesis.
package explain

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// WhatIf are hypothetical changes: regions forced down or up, and weights.
// They are applied to a copy of the snapshot, never to the server.
type WhatIf struct {
	Down    []string       `json:"down"`
	Up      []string       `json:"up"`
	Weights map[string]int `json:"weight"`
	// At evaluates the drain schedules at another instant, RFC 3339 or
	// "+<duration>" from glbd's clock: "what will step 2 do?".
	At string `json:"at,omitempty"`
}

// Empty reports whether w changes nothing.
func (w *WhatIf) Empty() bool {
	return w == nil || len(w.Down)+len(w.Up)+len(w.Weights) == 0 && w.At == ""
}

// String describes w in one line ("down a, b; weight c:0"), "" when empty.
func (w *WhatIf) String() string {
	if w == nil {
		return ""
	}
	var parts []string
	if len(w.Down) > 0 {
		parts = append(parts, "down "+strings.Join(w.Down, ", "))
	}
	if len(w.Up) > 0 {
		parts = append(parts, "up "+strings.Join(w.Up, ", "))
	}
	for _, r := range slices.Sorted(maps.Keys(w.Weights)) {
		parts = append(parts, fmt.Sprintf("weight %s:%d", r, w.Weights[r]))
	}
	if w.At != "" {
		parts = append(parts, "at "+w.At)
	}
	return strings.Join(parts, "; ")
}

// Explanation is why a client gets its answer: /explain's document.
type Explanation struct {
	Name      string   `json:"name"`
	Zone      string   `json:"zone"`
	Type      string   `json:"type"`
	Client    string   `json:"client"`
	ECSSource int      `json:"ecs_source"`
	Location  Location `json:"location"`
	Policy    string   `json:"policy,omitempty"`
	Fence     *Fence   `json:"fence,omitempty"` // nil: the name has no geofence
	Regions   []Region `json:"regions,omitempty"`
	Tier      []string `json:"tier"`
	Rule      string   `json:"rule"`
	Chosen    string   `json:"chosen,omitempty"`
	Rcode     string   `json:"rcode"`
	Answer    []string `json:"answer"`
	TTL       uint32   `json:"ttl"`
	Scope     int      `json:"scope"`
	WhatIf    *WhatIf  `json:"what_if,omitempty"`
}

// Location is the client's GeoIP record.
type Location struct {
	Found       bool    `json:"found"`
	Country     string  `json:"country,omitempty"`
	Continent   string  `json:"continent,omitempty"`
	Subdivision string  `json:"subdivision,omitempty"`
	Lat         float64 `json:"lat"`
	Lon         float64 `json:"lon"`
	Network     string  `json:"network"`
}

// Fence says which geofence rule applied.
type Fence struct {
	Rule    string   `json:"rule"` // "country DE", "continent EU", "default" or "" (no rule: all)
	Allowed []string `json:"allowed"`
}

// Region is one candidate region of the name.
type Region struct {
	ID         string     `json:"id"`
	Weight     int        `json:"weight"`
	Up         bool       `json:"up"`
	Checked    bool       `json:"checked"`
	FencedOut  bool       `json:"fenced_out"`
	HasFamily  bool       `json:"has_family"`
	DistanceKm *float64   `json:"distance_km"` // nil: the client's location is unknown
	RTTMs      *float64   `json:"rtt_ms"`      // nil: not ranked by latency
	Score      *float64   `json:"score"`       // nil: not scored
	InTier     bool       `json:"in_tier"`
	Endpoints  []Endpoint `json:"endpoints"`
}

// Endpoint is one address of a region and what probers said.
type Endpoint struct {
	Endpoint string            `json:"endpoint"`
	Up       bool              `json:"up"`
	UpVotes  int               `json:"up_votes"`
	Votes    int               `json:"votes"`
	Reports  map[string]Report `json:"reports"`
}

// Report is one prober's report on an endpoint.
type Report struct {
	Up         bool    `json:"up"`
	RTT        string  `json:"rtt"`
	AgeSeconds float64 `json:"age_seconds"`
	Error      string  `json:"error,omitempty"`
}

// Simulation is the expected share of clients per region ("" for clients
// that get no address: NODATA, SERVFAIL): /simulate's document. Shares sum
// to 1.
type Simulation struct {
	Name          string             `json:"name"`
	Type          string             `json:"type"`
	Basis         string             `json:"basis"` // "geoip networks" or "sample"
	Clients       int                `json:"clients"`
	Now           map[string]float64 `json:"now"`
	WhatIf        map[string]float64 `json:"what_if,omitempty"`
	WhatIfApplied bool               `json:"what_if_applied"`
}
