package schema

import (
	"errors"
	"fmt"
	"slices"
)

// Name defaults and limits, documented in README.md.
const (
	DefaultAnswers   = 2  // addresses per response
	MaxAnswers       = 16 // more would not fit a 512-byte response anyway
	MaxNameRegions   = 64
	DefaultStickyV4  = 24 // client subnet a sticky choice is made for, IPv4
	DefaultStickyV6  = 56 // and IPv6
	maxFenceEntries  = 300
	maxFenceKeyBytes = 2
)

// Policies a name may use. A policy that a server does not know is
// rejected rather than quietly served as geo.
const (
	PolicyGeo        = "geo"        // nearest region by great-circle distance (default)
	PolicyLatency    = "latency"    // lowest RTT estimated from the probers nearest the client
	PolicyWeighted   = "weighted"   // split by weight, no ranking (blue/green, canaries)
	PolicyFailover   = "failover"   // the first up region in the listed order
	PolicyRoundRobin = "roundrobin" // every up region's addresses, rotated
)

var policies = []string{PolicyGeo, PolicyLatency, PolicyWeighted, PolicyFailover, PolicyRoundRobin}

// Outcomes when no candidate region is up (on_all_down), or when no prober
// has fresh data on any of them (on_no_data).
const (
	OutcomeFailOpen = "fail_open" // answer as if every non-drained region were up
	OutcomeFallback = "fallback"  // answer from the name's fallback regions, health and weight ignored
	OutcomeNoData   = "nodata"    // NOERROR with no answer
	OutcomeServFail = "servfail"  // SERVFAIL, so resolvers try elsewhere
	OutcomeUp       = "up"        // on_no_data only: treat the regions as up (default)
)

// Name is the document at <prefix>zones/<zone>/names/<label>: a GSLB name
// answered for A and AAAA with the addresses of one or more of its regions.
type Name struct {
	Regions     []string  `json:"regions"`                // candidate regions, by id; each must exist
	Policy      string    `json:"policy,omitempty"`       // default "geo"
	TTL         uint32    `json:"ttl,omitempty"`          // answer TTL; 0 means the zone's ttl (default 30)
	TTLDegraded uint32    `json:"ttl_degraded,omitempty"` // TTL while a region is down or drained or an outcome applies; 0: same as ttl
	Answers     int       `json:"answers,omitempty"`      // addresses per response, default 2, at most 16
	Spread      bool      `json:"spread,omitempty"`       // fill up to answers from the next regions of the ranking
	Sticky      *Sticky   `json:"sticky,omitempty"`       // stable choice per client subnet inside a tier
	Geofence    *Geofence `json:"geofence,omitempty"`     // regions allowed per client country/continent
	OnAllDown   string    `json:"on_all_down,omitempty"`  // fail_open (default), fallback, nodata, servfail
	OnNoData    string    `json:"on_no_data,omitempty"`   // up (default), fallback, nodata, servfail
	Fallback    []string  `json:"fallback,omitempty"`     // regions for the fallback outcome
	// PanicPercent: when more than this percentage of the name's live
	// regions are down, health is ignored for the name (as Envoy's panic
	// threshold): mass failure is more likely the probers' view than the
	// regions'. 0 turns it off.
	PanicPercent int `json:"panic_percent,omitempty"`
	// Balance: how a tier's traffic is split. "weight" (default) by the
	// regions' weights; "headroom" by weight × (1 − load), floor 0, so the
	// least loaded region gets the most (see load.go).
	Balance string `json:"balance,omitempty"`
	// Tier is the geo and latency tiers' tolerance; nil: DefaultTier.
	Tier *Tier `json:"tier,omitempty"`
	// Pins maps "<collection>/<location>" to the regions that clients in
	// that location's networks get, GeoIP skipped (nets.go).
	Pins map[string][]string `json:"pins,omitempty"`
	// Trickle, for a failover name: the share of client subnets (0..0.5)
	// sent to the standbys while the first region is up, so a standby is
	// proven to take traffic before it has to. The subnets are chosen by
	// hashing, per sticky subnet (default /24 and /56).
	Trickle float64 `json:"trickle,omitempty"`
}

// MaxTrickle is the largest trickle share: more is a split, not a trickle.
const MaxTrickle = 0.5

// Sticky keeps the choice inside a tier stable per client subnet, by
// rendezvous hashing: a client keeps its region while the set is unchanged,
// and only the clients of a region that leaves move.
type Sticky struct {
	V4 int `json:"v4,omitempty"` // IPv4 subnet length, default 24
	V6 int `json:"v6,omitempty"` // IPv6 subnet length, default 56
}

// Bits returns the subnet length for an address family.
func (s *Sticky) Bits(ipv4 bool) int {
	if ipv4 {
		if s.V4 == 0 {
			return DefaultStickyV4
		}
		return s.V4
	}
	if s.V6 == 0 {
		return DefaultStickyV6
	}
	return s.V6
}

// Geofence maps client countries and continents to the regions they may be
// answered with (data-residency rules). A country rule wins over a
// continent rule; clients matching neither get Default, or every region of
// the name when Default is empty.
type Geofence struct {
	Countries  map[string][]string `json:"countries,omitempty"`  // ISO 3166-1 alpha-2 -> regions
	Continents map[string][]string `json:"continents,omitempty"` // EU, NA, SA, AS, AF, OC, AN -> regions
	Default    []string            `json:"default,omitempty"`
}

// PolicyOrDefault returns the policy, "geo" when unset.
func (n *Name) PolicyOrDefault() string {
	if n.Policy == "" {
		return PolicyGeo
	}
	return n.Policy
}

// AnswersOrDefault returns the number of addresses per response.
func (n *Name) AnswersOrDefault() int {
	if n.Answers == 0 {
		return DefaultAnswers
	}
	return n.Answers
}

// OnAllDownOrDefault returns the all-down outcome, fail_open when unset.
func (n *Name) OnAllDownOrDefault() string {
	if n.OnAllDown == "" {
		return OutcomeFailOpen
	}
	return n.OnAllDown
}

// OnNoDataOrDefault returns the no-health-data outcome, up when unset.
func (n *Name) OnNoDataOrDefault() string {
	if n.OnNoData == "" {
		return OutcomeUp
	}
	return n.OnNoData
}

// Validate checks the document on its own. Whether the regions exist is
// checked when the whole state is assembled (see Builder).
func (n *Name) Validate() error {
	var errs []error
	if len(n.Regions) == 0 {
		errs = append(errs, errors.New("regions is empty"))
	}
	if len(n.Regions) > MaxNameRegions {
		errs = append(errs, fmt.Errorf("%d regions is more than %d", len(n.Regions), MaxNameRegions))
	}
	errs = append(errs, checkRegionList("regions", n.Regions, nil)...)
	if !slices.Contains(policies, n.PolicyOrDefault()) {
		errs = append(errs, fmt.Errorf("policy %q is unknown (supported: %v)", n.Policy, policies))
	}
	if n.TTL > MaxTTL || n.TTLDegraded > MaxTTL {
		errs = append(errs, fmt.Errorf("ttl %d / ttl_degraded %d: at most %d", n.TTL, n.TTLDegraded, MaxTTL))
	}
	if n.Answers < 0 || n.Answers > MaxAnswers {
		errs = append(errs, fmt.Errorf("answers %d is outside 1..%d", n.Answers, MaxAnswers))
	}
	if s := n.Sticky; s != nil {
		if s.V4 < 0 || s.V4 > 32 || s.V6 < 0 || s.V6 > 128 {
			errs = append(errs, fmt.Errorf("sticky v4 %d / v6 %d: want 1..32 and 1..128", s.V4, s.V6))
		}
	}
	switch n.OnAllDownOrDefault() {
	case OutcomeFailOpen, OutcomeFallback, OutcomeNoData, OutcomeServFail:
	default:
		errs = append(errs, fmt.Errorf("on_all_down %q: want fail_open, fallback, nodata or servfail", n.OnAllDown))
	}
	switch n.OnNoDataOrDefault() {
	case OutcomeUp, OutcomeFallback, OutcomeNoData, OutcomeServFail:
	default:
		errs = append(errs, fmt.Errorf("on_no_data %q: want up, fallback, nodata or servfail", n.OnNoData))
	}
	usesFallback := n.OnAllDownOrDefault() == OutcomeFallback || n.OnNoDataOrDefault() == OutcomeFallback
	if usesFallback && len(n.Fallback) == 0 {
		errs = append(errs, errors.New("fallback is empty but an outcome is \"fallback\""))
	}
	errs = append(errs, checkRegionList("fallback", n.Fallback, n.Regions)...)
	if n.Balance != "" && n.Balance != BalanceWeight && n.Balance != BalanceHeadroom {
		errs = append(errs, fmt.Errorf("balance %q: want %s or %s", n.Balance, BalanceWeight, BalanceHeadroom))
	}
	if n.PanicPercent < 0 || n.PanicPercent > 100 {
		errs = append(errs, fmt.Errorf("panic_percent %d is outside 0..100", n.PanicPercent))
	}
	if f := n.Geofence; f != nil {
		errs = append(errs, f.validate(n.Regions)...)
	}
	if n.Tier != nil {
		errs = append(errs, n.Tier.validate())
	}
	errs = append(errs, validatePins(n.Pins, n.Regions)...)
	if !(n.Trickle >= 0 && n.Trickle <= MaxTrickle) {
		errs = append(errs, fmt.Errorf("trickle %v is outside 0..%v", n.Trickle, MaxTrickle))
	} else if n.Trickle > 0 && n.PolicyOrDefault() != PolicyFailover {
		errs = append(errs, fmt.Errorf("trickle is for the failover policy, not %q", n.PolicyOrDefault()))
	}
	return errors.Join(errs...)
}

// checkRegionList checks ids and duplicates; with within set, every id must
// be one of within (fence and fallback regions are among the name's).
func checkRegionList(field string, ids, within []string) []error {
	var errs []error
	seen := map[string]bool{}
	for i, r := range ids {
		if err := checkID("region", r); err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %w", field, i, err))
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("%s[%d]: %q is listed twice", field, i, r))
		}
		seen[r] = true
		if within != nil && !slices.Contains(within, r) {
			errs = append(errs, fmt.Errorf("%s[%d]: %q is not one of the name's regions", field, i, r))
		}
	}
	return errs
}

func (f *Geofence) validate(regions []string) []error {
	var errs []error
	if len(f.Countries)+len(f.Continents) > maxFenceEntries {
		errs = append(errs, fmt.Errorf("geofence has more than %d entries", maxFenceEntries))
	}
	for _, m := range []struct {
		field string
		rules map[string][]string
	}{{"geofence.countries", f.Countries}, {"geofence.continents", f.Continents}} {
		for code, rs := range m.rules {
			if len(code) != maxFenceKeyBytes || !isUpperCode(code) {
				errs = append(errs, fmt.Errorf("%s: %q is not a two-letter upper-case code", m.field, code))
			}
			errs = append(errs, checkRegionList(m.field+"."+code, rs, regions)...)
		}
	}
	return append(errs, checkRegionList("geofence.default", f.Default, regions)...)
}
