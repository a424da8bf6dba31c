package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Weight limits. A region's weight is one plain-text integer key so that
// `etcdctl put /glb/regions/eu-west/weight 0` drains it.
const (
	DefaultWeight = 100  // weight of a region whose weight key is absent
	MaxWeight     = 1000 // largest accepted weight
)

// MaxRegionAddrs caps a region's addresses; the server tracks their health
// in a 64-bit mask.
const MaxRegionAddrs = 64

// MaxValueBytes caps the size of any value; a larger one is rejected rather
// than parsed, so a runaway script cannot make every instance chew on it.
const MaxValueBytes = 64 << 10

// Region is the document at <prefix>regions/<region>: where a region is, the
// addresses of its load balancers and how probers check them.
type Region struct {
	Lat       float64      `json:"lat"`                 // degrees north, -90..90
	Lon       float64      `json:"lon"`                 // degrees east, -180..180
	Addrs     []netip.Addr `json:"addrs"`               // load-balancer addresses, IPv4 and/or IPv6
	Check     *Check       `json:"check,omitempty"`     // optional health check; none means always up
	Country   string       `json:"country,omitempty"`   // optional ISO 3166-1 alpha-2 code, for geofencing
	Continent string       `json:"continent,omitempty"` // optional continent code (EU, NA, ...), for geofencing
	Shed      *Shed        `json:"shed,omitempty"`      // optional load watermarks (see load.go)
}

// Validate checks coordinates, addresses and the check spec.
func (r *Region) Validate() error {
	var errs []error
	if !(r.Lat >= -90 && r.Lat <= 90) {
		errs = append(errs, fmt.Errorf("lat %v is outside -90..90", r.Lat))
	}
	if !(r.Lon >= -180 && r.Lon <= 180) {
		errs = append(errs, fmt.Errorf("lon %v is outside -180..180", r.Lon))
	}
	if len(r.Addrs) == 0 {
		errs = append(errs, errors.New("addrs is empty: a region needs at least one address"))
	}
	if len(r.Addrs) > MaxRegionAddrs {
		errs = append(errs, fmt.Errorf("%d addrs is more than %d", len(r.Addrs), MaxRegionAddrs))
	}
	seen := make(map[netip.Addr]bool, len(r.Addrs))
	for i, a := range r.Addrs {
		if err := checkServiceAddr(a); err != nil {
			errs = append(errs, fmt.Errorf("addrs[%d]: %w", i, err))
		}
		if seen[a] {
			errs = append(errs, fmt.Errorf("addrs[%d]: %s is listed twice", i, a))
		}
		seen[a] = true
	}
	if r.Country != "" && !isUpperCode(r.Country) {
		errs = append(errs, fmt.Errorf("country %q must be a two-letter upper-case code", r.Country))
	}
	if r.Continent != "" && !isUpperCode(r.Continent) {
		errs = append(errs, fmt.Errorf("continent %q must be a two-letter upper-case code", r.Continent))
	}
	if r.Check != nil {
		if err := r.Check.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("check: %w", err))
		}
	}
	if r.Shed != nil {
		if err := r.Shed.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("shed: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkServiceAddr refuses addresses that cannot be a load balancer: the
// unspecified address, multicast, and IPv4-mapped IPv6 (write the IPv4 form).
func checkServiceAddr(a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errors.New("missing address")
	case a.Zone() != "":
		return fmt.Errorf("%s: zoned addresses are not allowed", a)
	case a.Is4In6():
		return fmt.Errorf("%s: write IPv4-mapped addresses in IPv4 form", a)
	case a.IsUnspecified(), a.IsMulticast():
		return fmt.Errorf("%s is not a unicast address", a)
	}
	return nil
}

func isUpperCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// ParseWeight parses the plain-text value of a weight key: an integer
// 0..MaxWeight, surrounding white space ignored. 0 drains the region.
func ParseWeight(v []byte) (int, error) {
	s := strings.TrimSpace(string(v))
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("weight %q is not an integer", s)
	}
	if n < 0 || n > MaxWeight {
		return 0, fmt.Errorf("weight %d is outside 0..%d", n, MaxWeight)
	}
	return n, nil
}

// Check is a region's health-check spec, used by probers. Zero fields take
// the defaults documented on each.
type Check struct {
	Type         string   `json:"type"`                           // http, https or tcp
	Port         int      `json:"port,omitempty"`                 // default 80 (http), 443 (https); required for tcp
	Path         string   `json:"path,omitempty"`                 // http(s) path, default "/"
	Host         string   `json:"host,omitempty"`                 // http(s) Host header and TLS server name
	ExpectStatus string   `json:"expect_status,omitempty"`        // "200" or a range "200-399" (default)
	ExpectBody   string   `json:"expect_body,omitempty"`          // optional substring of the body
	Insecure     bool     `json:"insecure_skip_verify,omitempty"` // https: do not verify the certificate
	Interval     Duration `json:"interval,omitempty"`             // default 5s, 1s..1m (reports older than MaxReportAge stop counting)
	Timeout      Duration `json:"timeout,omitempty"`              // default 2s, at most the interval
	Rise         int      `json:"rise,omitempty"`                 // successes to turn up, default 2, 1..100
	Fall         int      `json:"fall,omitempty"`                 // failures to turn down, default 3, 1..100
	// Connect, when set, is the host:port probers connect to instead of
	// <endpoint>:<port>, e.g. a health port on a management address, or the
	// loopback backends of dev mode. Reports still name the endpoint.
	Connect string `json:"connect,omitempty"`
	// Load, when set, says where in the health response the prober reads
	// the endpoint's load (see load.go); http and https checks only.
	Load *LoadSource `json:"load,omitempty"`
}

// Check defaults, documented in README.md.
const (
	DefaultCheckInterval = 5 * time.Second
	DefaultCheckTimeout  = 2 * time.Second
	DefaultCheckRise     = 2
	DefaultCheckFall     = 3
)

// WithDefaults returns a copy with zero fields set to their defaults.
func (c Check) WithDefaults() Check {
	if c.Port == 0 {
		switch c.Type {
		case "http":
			c.Port = 80
		case "https":
			c.Port = 443
		}
	}
	if c.Path == "" && c.Type != "tcp" {
		c.Path = "/"
	}
	if c.ExpectStatus == "" && c.Type != "tcp" {
		c.ExpectStatus = "200-399"
	}
	if c.Interval == 0 {
		c.Interval = Duration(DefaultCheckInterval)
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(min(DefaultCheckTimeout, time.Duration(c.Interval)))
	}
	if c.Rise == 0 {
		c.Rise = DefaultCheckRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultCheckFall
	}
	return c
}

// Validate checks the spec after defaults are applied.
func (c *Check) Validate() error {
	d := c.WithDefaults()
	var errs []error
	switch d.Type {
	case "http", "https", "tcp":
	default:
		errs = append(errs, fmt.Errorf("type %q is not one of http, https, tcp", d.Type))
	}
	if d.Port < 1 || d.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is outside 1..65535", d.Port))
	}
	if d.Type != "tcp" && !strings.HasPrefix(d.Path, "/") {
		errs = append(errs, fmt.Errorf("path %q must start with '/'", d.Path))
	}
	if d.Type != "tcp" {
		if _, _, err := ParseStatusRange(d.ExpectStatus); err != nil {
			errs = append(errs, err)
		}
	}
	iv, to := time.Duration(d.Interval), time.Duration(d.Timeout)
	// A report's time is its last check, and readers drop reports older
	// than MaxReportAge, so the interval must stay well below it.
	if iv < time.Second || iv > MaxReportAge/2 {
		errs = append(errs, fmt.Errorf("interval %s is outside 1s..%s", iv, MaxReportAge/2))
	}
	if to <= 0 || to > iv {
		errs = append(errs, fmt.Errorf("timeout %s must be positive and at most the interval %s", to, iv))
	}
	if d.Connect != "" {
		if _, port, err := net.SplitHostPort(d.Connect); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("connect %q is not host:port", d.Connect))
		}
	}
	if d.Load != nil {
		if err := d.Load.Validate(d.Type); err != nil {
			errs = append(errs, fmt.Errorf("load: %w", err))
		}
	}
	if d.Rise < 1 || d.Rise > 100 {
		errs = append(errs, fmt.Errorf("rise %d is outside 1..100", d.Rise))
	}
	if d.Fall < 1 || d.Fall > 100 {
		errs = append(errs, fmt.Errorf("fall %d is outside 1..100", d.Fall))
	}
	return errors.Join(errs...)
}

// ParseStatusRange parses "200" or "200-399" into an inclusive range.
func ParseStatusRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi = lo
	var err2 error
	if isRange {
		hi, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("expect_status %q is not a status code or range like 200-399", s)
	}
	return lo, hi, nil
}

// Duration is a time.Duration written in JSON as a Go duration string ("5s").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "500ms" or "5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"5s\", got %s", bytes.TrimSpace(b))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}
