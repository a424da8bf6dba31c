package schema

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A region's load is its utilization: 0 idle, 1 at capacity. It comes from
// the plain-text key <prefix>regions/<region>/load (written by an
// autoscaler, an exporter or an operator, best under a lease) or from the
// probers, which read it from the health response as the check's load spec
// says. The key wins where both exist.

// MaxLoad is the largest load accepted: a region far past its capacity is
// still a figure worth steering by, a larger one is a unit mistake.
const MaxLoad = 10

// LoadKey returns the etcd key of a region's load.
func LoadKey(prefix, region string) string { return prefix + "regions/" + region + "/load" }

// CheckLoad accepts a load in 0..MaxLoad.
func CheckLoad(v float64) error {
	if math.IsNaN(v) || v < 0 || v > MaxLoad {
		return fmt.Errorf("load %v is outside 0..%d", v, MaxLoad)
	}
	return nil
}

// ParseLoad parses a load written as plain text ("0.85"), surrounding
// white space ignored.
func ParseLoad(v []byte) (float64, error) {
	s := strings.TrimSpace(string(v))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("load %q is not a number", s)
	}
	return f, CheckLoad(f)
}

// Shed is a region's load watermarks: below Low it keeps all the clients
// nearest it, between the watermarks a share falling linearly to none at
// High, above which it keeps none (unless every candidate is that loaded).
type Shed struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Validate checks 0 <= low < high <= MaxLoad.
func (s *Shed) Validate() error {
	if !(s.Low >= 0 && s.Low < s.High && s.High <= MaxLoad) {
		return fmt.Errorf("watermarks low %v and high %v must satisfy 0 <= low < high <= %d", s.Low, s.High, MaxLoad)
	}
	return nil
}

// Keep is the share of its clients a region at load keeps: 1 below Low, 0
// at or above High, linear between.
func (s *Shed) Keep(load float64) float64 {
	switch {
	case load <= s.Low:
		return 1
	case load >= s.High:
		return 0
	}
	return (s.High - load) / (s.High - s.Low)
}

// LoadSource says where a prober reads the load in a health response:
// exactly one of a response header, a top-level JSON field of the body, or
// a gauge in a Prometheus text body.
type LoadSource struct {
	Header string `json:"header,omitempty"` // e.g. "X-Load"
	JSON   string `json:"json,omitempty"`   // e.g. "load"
	Metric string `json:"metric,omitempty"` // e.g. "app_utilization"
}

// Validate checks that exactly one source is set, on an http(s) check.
func (l *LoadSource) Validate(checkType string) error {
	n := 0
	for _, s := range []string{l.Header, l.JSON, l.Metric} {
		if s != "" {
			n++
		}
	}
	var errs []error
	if n != 1 {
		errs = append(errs, errors.New("set exactly one of header, json, metric"))
	}
	if checkType == "tcp" {
		errs = append(errs, errors.New("a tcp check has no response to read a load from"))
	}
	return errors.Join(errs...)
}

// The name options of "balance".
const (
	BalanceWeight   = "weight"   // split a tier by weight (default)
	BalanceHeadroom = "headroom" // split a tier by weight × spare capacity
)
