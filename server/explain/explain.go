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
	// Loads are regions' loads (utilization), in place of the ones in
	// force; the shed shares then follow the watermarks without the
	// hysteresis in time, as they will once the load holds.
	Loads map[string]float64 `json:"load,omitempty"`
	// NameWeights are per-name weights of the asked name, by region, as
	// if <name>/weights/<region> held them.
	NameWeights map[string]int `json:"name_weight,omitempty"`
	// At evaluates the drain schedules at another instant, RFC 3339 or
	// "+<duration>" from glbd's clock: "what will step 2 do?".
	At string `json:"at,omitempty"`
	// Admin are admin states by "<region>" or "<region>/<endpoint>", as if
	// the admin key held them: "up", "down" (either optionally followed by
	// " until <RFC 3339 time>"), or "none" as if the key were absent.
	Admin map[string]string `json:"admin,omitempty"`
	// Pins are pins of the asked name by "<collection>/<location>", as if
	// its pins field held them besides its own: the regions, or ["none"]
	// to drop the pin.
	Pins map[string][]string `json:"pin,omitempty"`
	// Nets are locations of network collections by
	// "<collection>/<location>", as if /glb/nets/<collection> listed them:
	// their CIDRs and ASNs ("AS64500"), or ["none"] to drop the location.
	Nets map[string][]string `json:"nets,omitempty"`
}

// Empty reports whether w changes nothing.
func (w *WhatIf) Empty() bool {
	return w == nil || len(w.Down)+len(w.Up)+len(w.Weights)+len(w.Loads)+len(w.NameWeights)+len(w.Admin)+len(w.Pins)+len(w.Nets) == 0 && w.At == ""
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
	for _, r := range slices.Sorted(maps.Keys(w.Loads)) {
		parts = append(parts, fmt.Sprintf("load %s:%g", r, w.Loads[r]))
	}
	for _, r := range slices.Sorted(maps.Keys(w.NameWeights)) {
		parts = append(parts, fmt.Sprintf("name weight %s:%d", r, w.NameWeights[r]))
	}
	if w.At != "" {
		parts = append(parts, "at "+w.At)
	}
	for _, k := range slices.Sorted(maps.Keys(w.Admin)) {
		parts = append(parts, "admin "+k+":"+w.Admin[k])
	}
	for _, k := range slices.Sorted(maps.Keys(w.Pins)) {
		parts = append(parts, "pin "+k+":"+strings.Join(w.Pins[k], ","))
	}
	for _, k := range slices.Sorted(maps.Keys(w.Nets)) {
		parts = append(parts, "nets "+k+":"+strings.Join(w.Nets[k], ","))
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
	// Shed names the tier regions that shed this client's subnet, when
	// any did (load-aware steering); then Chosen is where it went.
	Shed   []string `json:"shed,omitempty"`
	DNSSEC *DNSSEC  `json:"dnssec,omitempty"` // nil: the zone is not signed
	// TierRule is the name's tier tolerance: "nearest", "10% or 100 km"
	// (geo), "10% or 1.5 ms" (latency); "" for policies without one.
	TierRule string `json:"tier_rule,omitempty"`
	// Pin is the pinned network the client is in, which decided its
	// regions instead of GeoIP; nil when it is in none.
	Pin *Pin `json:"pin,omitempty"`
}

// DNSSEC says how the answer is signed for a query with DO set (explain
// asks without DO, so its answer lists no RRSIG).
type DNSSEC struct {
	Signed    bool   `json:"signed"`              // RRSIGs are added to DO answers
	KeyTag    uint16 `json:"key_tag,omitempty"`   // the key that signs the answer's RRsets
	Algorithm uint8  `json:"algorithm,omitempty"` // 13 (ECDSA P-256) or 15 (Ed25519)
	Reason    string `json:"reason,omitempty"`    // why not, when the zone says dnssec but is not signed
}

// Pin is a name's pin that matched the client.
type Pin struct {
	Key     string   `json:"key"`     // "<collection>/<location>"
	Regions []string `json:"regions"` // the regions it pins to
	Nets    []string `json:"nets"`    // the location's CIDRs
	// ASNs are the location's AS numbers ("AS64500"); By is what matched
	// the client: "cidr", or "asn" (one of ASNs, by the ASN database),
	// and then ASN says which, from the database.
	ASNs []string `json:"asns,omitempty"`
	By   string   `json:"by"`
	ASN  *ASN     `json:"asn,omitempty"`
}

// ASN is the ASN database's record of the client that an ASN pin matched.
type ASN struct {
	Number  string `json:"number"`  // "AS64500"
	Org     string `json:"org"`     // autonomous_system_organization
	Network string `json:"network"` // the database network holding the client
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
	NameWeight bool       `json:"name_weight,omitempty"` // weight is the name's own for the region`
	Up         bool       `json:"up"`
	Checked    bool       `json:"checked"`
	FencedOut  bool       `json:"fenced_out"`
	HasFamily  bool       `json:"has_family"`
	DistanceKm *float64   `json:"distance_km"` // nil: the client's location is unknown
	RTTMs      *float64   `json:"rtt_ms"`      // nil: not ranked by latency
	Score      *float64   `json:"score"`       // nil: not scored
	InTier     bool       `json:"in_tier"`
	Endpoints  []Endpoint `json:"endpoints"`
	// Load is the region's load in force (nil: none known) and
	// LoadSource where it came from ("key" or "probers"); Shed its
	// watermarks and the share it sheds now (nil: no watermarks), and
	// KeepsClient whether it would keep this client's subnet.
	Load        *float64 `json:"load,omitempty"`
	LoadSource  string   `json:"load_source,omitempty"`
	Shed        *Shed    `json:"shed,omitempty"`
	KeepsClient *bool    `json:"keeps_client,omitempty"`
	// Admin is the operator's admin state in force on the region ("up",
	// "down"), overriding the probers; AdminUntil (RFC 3339) when it ends.
	Admin      string `json:"admin,omitempty"`
	AdminUntil string `json:"admin_until,omitempty"`
}

// Shed is a region's watermarks and the share of its clients it moves
// away now.
type Shed struct {
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
	Share float64 `json:"share"`
}

// Endpoint is one address of a region and what probers said.
type Endpoint struct {
	Endpoint string            `json:"endpoint"`
	Up       bool              `json:"up"`
	UpVotes  int               `json:"up_votes"`
	Votes    int               `json:"votes"`
	Reports  map[string]Report `json:"reports"`
	// Admin and AdminUntil: the endpoint's own admin state, as Region's.
	Admin      string `json:"admin,omitempty"`
	AdminUntil string `json:"admin_until,omitempty"`
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
	// PinsNotCounted is set when the name has pins but the clients are the
	// GeoIP database's networks, counted by location: a location has no
	// address a pin could match, so pinned clients are counted by GeoIP.
	PinsNotCounted bool `json:"pins_not_counted,omitempty"`
}
