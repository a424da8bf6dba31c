package schema

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Schedule limits, documented in README.md.
const (
	MaxScheduleSteps = 100
	MinScheduleEvery = time.Second
	MaxScheduleSpan  = 7 * 24 * time.Hour // steps and expiry end within a week of the start
	DefaultTTLFirst  = 5                  // the TTL of a TTL-first phase when the name sets no ttl_degraded
)

// Schedule is the document at <prefix>regions/<region>/schedule: a drain
// that runs itself. While it is in force it overrides the region's weight
// key (which it never writes): step i's weight holds from Start+Hold+i*Every,
// the last step until Expires. At Expires, or when the key is deleted, the
// weight key is in force again, which is Before unless someone changed it
// meanwhile. Every glbd evaluates it by its own clock, so nothing has to
// stay running and a restarted glbd picks it up where it stands.
//
// The document names its target by where it is stored, so the same shape
// can later sit under a name's per-region weight.
type Schedule struct {
	Steps   []int     `json:"steps"`            // weights, 0..MaxWeight, applied in order
	Every   Duration  `json:"every"`            // time between steps, at least 1s
	Start   time.Time `json:"start"`            // when the schedule was written (RFC 3339)
	Expires time.Time `json:"expires,omitzero"` // when the weight key takes over again; zero: never (until deleted)
	Before  int       `json:"before"`           // the weight in force when it was written, for the record
	// TTLFirst stages the shift: from Start, the answers of names that use
	// the region drop to their ttl_degraded (or DefaultTTLFirst seconds),
	// and the first step waits Hold, the longest TTL those answers had, so
	// resolvers' caches have emptied before any weight moves. The lowered
	// TTL lasts while the schedule is in force.
	TTLFirst bool     `json:"ttl_first,omitempty"`
	Hold     Duration `json:"hold,omitempty"` // delay of the first step; glbctl sets it for --ttl-first
	// StopOnUnhealthy pauses the schedule while a receiving region (one
	// that shares a name with the scheduled region, see Receivers) is
	// down: the weight key is in force meanwhile, and the step in force by
	// the clock returns when they are up again.
	StopOnUnhealthy bool `json:"stop_on_unhealthy,omitempty"`
}

// Validate checks the document on its own.
func (s *Schedule) Validate() error {
	var errs []error
	if len(s.Steps) == 0 || len(s.Steps) > MaxScheduleSteps {
		errs = append(errs, fmt.Errorf("steps: want 1..%d weights, got %d", MaxScheduleSteps, len(s.Steps)))
	}
	for i, w := range s.Steps {
		if w < 0 || w > MaxWeight {
			errs = append(errs, fmt.Errorf("steps[%d]: weight %d is outside 0..%d", i, w, MaxWeight))
		}
	}
	if time.Duration(s.Every) < MinScheduleEvery && len(s.Steps) > 1 {
		errs = append(errs, fmt.Errorf("every %s is shorter than %s", time.Duration(s.Every), MinScheduleEvery))
	}
	if s.Start.IsZero() {
		errs = append(errs, errors.New("start is missing"))
	}
	if s.Hold < 0 || time.Duration(s.Hold) > MaxTTL*time.Second {
		errs = append(errs, fmt.Errorf("hold %s is outside 0..%ds", time.Duration(s.Hold), MaxTTL))
	}
	if last := s.StepAt(len(s.Steps) - 1); last.Sub(s.Start) > MaxScheduleSpan {
		errs = append(errs, fmt.Errorf("the last step is %s after start, more than %s", last.Sub(s.Start), MaxScheduleSpan))
	}
	if !s.Expires.IsZero() {
		if !s.Expires.After(s.Start) {
			errs = append(errs, fmt.Errorf("expires %s is not after start %s", s.Expires.Format(time.RFC3339), s.Start.Format(time.RFC3339)))
		} else if s.Expires.Sub(s.Start) > MaxScheduleSpan {
			errs = append(errs, fmt.Errorf("expires is %s after start, more than %s", s.Expires.Sub(s.Start), MaxScheduleSpan))
		}
	}
	if s.Before < 0 || s.Before > MaxWeight {
		errs = append(errs, fmt.Errorf("before %d is outside 0..%d", s.Before, MaxWeight))
	}
	return errors.Join(errs...)
}

// StepAt returns when step i (0-based) takes effect.
func (s *Schedule) StepAt(i int) time.Time {
	return s.Start.Add(time.Duration(s.Hold) + time.Duration(i)*time.Duration(s.Every))
}

// Phase is where a schedule stands at one instant.
type Phase struct {
	Step   int       // index of the step in force; -1 before the first (TTL-first hold)
	Weight int       // the weight in force; valid when Active and Step >= 0
	Active bool      // false after Expires (or for a nil schedule): the weight key decides
	Next   time.Time // the next instant the phase changes; zero: never
	Paused bool      // StopOnUnhealthy and a receiving region is down: the weight key is in force (set by the server)
}

// PhaseAt evaluates the schedule at now. It is pure, so every glbd, and
// glbctl's what-if, reach the same answer for the same instant.
func (s *Schedule) PhaseAt(now time.Time) Phase {
	if s == nil || len(s.Steps) == 0 {
		return Phase{Step: -1}
	}
	if !s.Expires.IsZero() && !now.Before(s.Expires) {
		return Phase{Step: -1}
	}
	p := Phase{Step: -1, Active: true}
	for i := range s.Steps {
		if now.Before(s.StepAt(i)) {
			p.Next = s.StepAt(i)
			break
		}
		p.Step, p.Weight = i, s.Steps[i]
	}
	if p.Next.IsZero() || (!s.Expires.IsZero() && s.Expires.Before(p.Next)) {
		p.Next = s.Expires
	}
	return p
}

// WeightAt returns the weight in force at now for a region whose weight
// key holds keyWeight.
func (s *Schedule) WeightAt(now time.Time, keyWeight int) int {
	if p := s.PhaseAt(now); p.Active && p.Step >= 0 {
		return p.Weight
	}
	return keyWeight
}

// Receivers returns, sorted, the regions of st that share a name with
// region: where its traffic goes when it is drained.
func Receivers(st *State, region string) []string {
	set := map[string]bool{}
	for _, z := range st.Zones {
		for _, n := range z.Names {
			if slices.Contains(n.Regions, region) {
				for _, r := range n.Regions {
					if r != region && st.Regions[r] != nil {
						set[r] = true
					}
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// LongestTTL returns the longest TTL glb answers with for names of st that
// list region (their ttl, the zone's, or the default, and ttl_degraded when
// it is longer): how long a resolver may still hold an answer pointing at
// the region. It is the hold of a TTL-first schedule.
func LongestTTL(st *State, region string) uint32 {
	var longest uint32
	for _, z := range st.Zones {
		for _, n := range z.Names {
			if !slices.Contains(n.Regions, region) {
				continue
			}
			ttl := n.TTL
			if ttl == 0 {
				ttl = z.Zone.TTL
			}
			if ttl == 0 {
				ttl = DefaultNameTTL
			}
			longest = max(longest, ttl, n.TTLDegraded)
		}
	}
	return longest
}
