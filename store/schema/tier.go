package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Tier defaults: regions within DefaultTierPct % of the best one's distance
// (geo) or RTT (latency), or DefaultTierKm (its RTT equivalent
// DefaultTierKm*0.015 ms, 1.5 ms), whichever is larger, share the best
// tier and split its traffic by weight.
const (
	DefaultTierKm  = 100.0
	DefaultTierPct = 10.0
	maxTierKm      = 20040 // half the earth's circumference: every region
	maxTierPct     = 1000
	maxTierMs      = 1000
	// TierNearest is the tier's string form: the single nearest region.
	TierNearest = "nearest"
)

// Tier is a name's tolerance for the geo and latency policies: which
// regions count as "as near as the nearest" and share its traffic. In
// JSON it is either the string "nearest" (only the nearest region, ties
// broken by the listed order) or an object {"km": 100, "pct": 10, "ms":
// 1.5}: a region is in the tier when its distance is within max(pct % of
// the best distance, km) of the best (latency: max(pct % of the best RTT,
// ms)). Fields left out take the defaults; ms defaults to km's RTT
// equivalent at 0.015 ms per km.
type Tier struct {
	Nearest bool    `json:"-"`
	Km      float64 `json:"km"`
	Pct     float64 `json:"pct"`
	Ms      float64 `json:"ms"`
}

// DefaultTier is the tier of a name that sets none.
var DefaultTier = Tier{Km: DefaultTierKm, Pct: DefaultTierPct, Ms: DefaultTierKm * 0.015}

// UnmarshalJSON reads "nearest" or the object, strictly.
func (t *Tier) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != TierNearest {
			return fmt.Errorf("tier %q: want \"nearest\" or an object like {\"km\": 100, \"pct\": 10}", s)
		}
		*t = Tier{Nearest: true}
		return nil
	}
	var o struct {
		Km  *float64 `json:"km"`
		Pct *float64 `json:"pct"`
		Ms  *float64 `json:"ms"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return fmt.Errorf("tier: want \"nearest\" or an object with km, pct and ms: %w", err)
	}
	*t = DefaultTier
	if o.Km != nil {
		t.Km, t.Ms = *o.Km, *o.Km*0.015
	}
	if o.Pct != nil {
		t.Pct = *o.Pct
	}
	if o.Ms != nil {
		t.Ms = *o.Ms
	}
	return nil
}

// MarshalJSON writes the tier back in the form it was read in.
func (t Tier) MarshalJSON() ([]byte, error) {
	if t.Nearest {
		return json.Marshal(TierNearest)
	}
	type plain Tier
	return json.Marshal(plain(t))
}

// validate checks the tolerances.
func (t *Tier) validate() error {
	if t.Nearest {
		return nil
	}
	var errs []error
	if !(t.Km >= 0 && t.Km <= maxTierKm) {
		errs = append(errs, fmt.Errorf("tier.km %v is outside 0..%d", t.Km, maxTierKm))
	}
	if !(t.Pct >= 0 && t.Pct <= maxTierPct) {
		errs = append(errs, fmt.Errorf("tier.pct %v is outside 0..%d", t.Pct, maxTierPct))
	}
	if !(t.Ms >= 0 && t.Ms <= maxTierMs) {
		errs = append(errs, fmt.Errorf("tier.ms %v is outside 0..%d", t.Ms, maxTierMs))
	}
	return errors.Join(errs...)
}
