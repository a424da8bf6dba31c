package schema

import (
	"errors"
	"fmt"
)

// Name defaults and limits, documented in README.md.
const (
	DefaultAnswers = 2  // addresses per response
	MaxAnswers     = 16 // more would not fit a 512-byte response anyway
	MaxNameRegions = 64
)

// Policies a name may use. Only the ones implemented are accepted: a policy
// that a server does not know is rejected rather than quietly served as geo.
const (
	PolicyGeo     = "geo"     // nearest region by great-circle distance (default)
	PolicyLatency = "latency" // lowest RTT estimated from the probers nearest the client
)

var policies = map[string]bool{PolicyGeo: true, PolicyLatency: true}

// Name is the document at <prefix>zones/<zone>/names/<label>: a GSLB name
// answered for A and AAAA with the addresses of one of its regions.
type Name struct {
	Regions []string `json:"regions"`           // candidate regions, by id; each must exist
	Policy  string   `json:"policy,omitempty"`  // default "geo"
	TTL     uint32   `json:"ttl,omitempty"`     // answer TTL; 0 means the zone's ttl (default 30)
	Answers int      `json:"answers,omitempty"` // addresses per response, default 2, at most 16
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
	seen := map[string]bool{}
	for i, r := range n.Regions {
		if err := checkID("region", r); err != nil {
			errs = append(errs, fmt.Errorf("regions[%d]: %w", i, err))
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("regions[%d]: %q is listed twice", i, r))
		}
		seen[r] = true
	}
	if !policies[n.PolicyOrDefault()] {
		errs = append(errs, fmt.Errorf("policy %q is unknown (supported: %s, %s)", n.Policy, PolicyGeo, PolicyLatency))
	}
	if n.TTL > MaxTTL {
		errs = append(errs, fmt.Errorf("ttl %d is above %d", n.TTL, MaxTTL))
	}
	if n.Answers < 0 || n.Answers > MaxAnswers {
		errs = append(errs, fmt.Errorf("answers %d is outside 1..%d", n.Answers, MaxAnswers))
	}
	return errors.Join(errs...)
}
