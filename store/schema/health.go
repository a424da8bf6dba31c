package schema

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ProberInfo is the document at <prefix>probers/<prober>, written by a
// prober under its lease: where it is, so that the latency policy can use
// the probers nearest a client.
type ProberInfo struct {
	Lat     float64   `json:"lat"`               // degrees
	Lon     float64   `json:"lon"`               // degrees
	Country string    `json:"country,omitempty"` // optional ISO code
	Version string    `json:"version,omitempty"` // software version, for the status page
	Started time.Time `json:"started,omitzero"`  // when the prober started
}

// Validate checks the coordinates and codes.
func (p *ProberInfo) Validate() error {
	var errs []error
	if !(p.Lat >= -90 && p.Lat <= 90) {
		errs = append(errs, fmt.Errorf("lat %v is outside -90..90", p.Lat))
	}
	if !(p.Lon >= -180 && p.Lon <= 180) {
		errs = append(errs, fmt.Errorf("lon %v is outside -180..180", p.Lon))
	}
	if p.Country != "" && !isUpperCode(p.Country) {
		errs = append(errs, fmt.Errorf("country %q must be a two-letter upper-case code", p.Country))
	}
	return errors.Join(errs...)
}

// HealthReport is the document at <prefix>health/<prober>/<region>/<endpoint>
// (or, from a prober not yet upgraded, the legacy
// <prefix>health/<region>/<endpoint>/<prober>): one prober's verdict on one
// endpoint (one of the region's addresses), after its rise/fall hysteresis.
type HealthReport struct {
	Up    bool      `json:"up"`
	RTT   Duration  `json:"rtt,omitempty"`   // round-trip time of the last successful check
	Time  time.Time `json:"time"`            // when the prober last checked
	Error string    `json:"error,omitempty"` // why the last check failed, if it did
	// Load is the endpoint's load as read from its health response (the
	// check's load spec), absent when the check has none or the figure
	// was missing or invalid.
	Load *float64 `json:"load,omitempty"`
}

// MaxReportAge bounds how old a report's time may be against the reader's
// clock before it no longer counts: a prober refreshes its reports more
// often than this even when nothing changes.
const MaxReportAge = 2 * time.Minute

// MaxErrorBytes is the longest error text a health report may carry.
const MaxErrorBytes = 1024

// Validate checks the report on its own.
func (h *HealthReport) Validate() error {
	var errs []error
	if h.Time.IsZero() {
		errs = append(errs, errors.New("time is missing"))
	}
	if h.RTT < 0 || time.Duration(h.RTT) > time.Minute {
		errs = append(errs, fmt.Errorf("rtt %s is outside 0..1m", time.Duration(h.RTT)))
	}
	if h.Load != nil {
		if err := CheckLoad(*h.Load); err != nil {
			errs = append(errs, err)
		}
	}
	if len(h.Error) > MaxErrorBytes {
		errs = append(errs, fmt.Errorf("error text of %d bytes is longer than %d", len(h.Error), MaxErrorBytes))
	}
	return errors.Join(errs...)
}

// ProberState is a registered prober.
type ProberState struct {
	ID   string
	Info *ProberInfo
}

// EndpointKey names one endpoint of a region in health keys: the address in
// its canonical text form.
func EndpointKey(a netip.Addr) string { return a.String() }

// HealthKey returns the etcd key of a prober's report on an endpoint:
// <prefix>health/<prober>/<region>/<endpoint>. Every key a prober writes
// lies under its own ProberHealthPrefix, so an etcd role can confine the
// prober to its own reports.
func HealthKey(prefix, region, endpoint, prober string) string {
	return ProberHealthPrefix(prefix, prober) + region + "/" + endpoint
}

// ProberHealthPrefix returns the prefix of all of a prober's health keys,
// <prefix>health/<prober>/. The trailing slash matters: without it a
// permission on prober "fra-1" would also cover "fra-10".
func ProberHealthPrefix(prefix, prober string) string { return prefix + "health/" + prober + "/" }

// LegacyHealthKey returns the key of a report in the layout probers wrote
// before the per-prober one, <prefix>health/<region>/<endpoint>/<prober>.
// glbd still reads it during an upgrade; nothing in glb writes it.
func LegacyHealthKey(prefix, region, endpoint, prober string) string {
	return prefix + "health/" + region + "/" + endpoint + "/" + prober
}

// ProberKey returns the etcd key of a prober's registration.
func ProberKey(prefix, prober string) string { return prefix + "probers/" + prober }
