package schema

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Zone defaults, documented in README.md.
const (
	DefaultNameTTL     = 30    // TTL of GSLB answers when neither name nor zone sets one
	DefaultSOATTL      = 3600  // TTL of the SOA and NS records
	DefaultSOARefresh  = 3600  // SOA refresh
	DefaultSOARetry    = 600   // SOA retry
	DefaultSOAExpire   = 86400 // SOA expire; kept short since we serve no zone transfers
	DefaultNegativeTTL = 30    // SOA minimum: how long resolvers cache NXDOMAIN and NODATA
	MaxTTL             = 86400 // largest TTL accepted anywhere
)

// Zone is the document at <prefix>zones/<zone>: the zone's name servers and
// SOA. A zone is served only while this document exists and is valid.
type Zone struct {
	NS      []NameServer `json:"ns"`                // at least one; in-zone names need glue addrs
	Contact string       `json:"contact,omitempty"` // SOA RNAME, "hostmaster@example.com" or "hostmaster.example.com"; default hostmaster.<zone>
	TTL     uint32       `json:"ttl,omitempty"`     // default TTL of the zone's GSLB names; 0 means 30
	SOA     SOATimers    `json:"soa,omitzero"`      // optional timers
	DNSSEC  *DNSSEC      `json:"dnssec,omitempty"`  // present: the zone is signed (dnssec.go)
	// TTLFirst makes glbctl drain stage its schedules TTL-first (see
	// Schedule.TTLFirst) for regions that the zone's names use, unless
	// --ttl-first=false says otherwise.
	TTLFirst bool `json:"ttl_first,omitempty"`
}

// NameServer is one NS record of the zone, with glue addresses when the name
// server's name is inside the zone.
type NameServer struct {
	Name  string       `json:"name"`            // host name, with or without the trailing dot
	Addrs []netip.Addr `json:"addrs,omitempty"` // glue: required for names inside the zone, refused outside
}

// SOATimers are the SOA fields operators may want to change. Zero means the
// default named on each.
type SOATimers struct {
	Serial  uint32 `json:"serial,omitempty"`  // default: the highest etcd mod revision of the zone's keys
	TTL     uint32 `json:"ttl,omitempty"`     // TTL of SOA and NS records, default 3600
	Refresh uint32 `json:"refresh,omitempty"` // default 3600
	Retry   uint32 `json:"retry,omitempty"`   // default 600
	Expire  uint32 `json:"expire,omitempty"`  // default 86400
	Minimum uint32 `json:"minimum,omitempty"` // negative-caching TTL (RFC 2308), default 30
}

// WithDefaults returns the timers with zero fields set to their defaults.
func (t SOATimers) WithDefaults() SOATimers {
	def := func(v *uint32, d uint32) {
		if *v == 0 {
			*v = d
		}
	}
	def(&t.TTL, DefaultSOATTL)
	def(&t.Refresh, DefaultSOARefresh)
	def(&t.Retry, DefaultSOARetry)
	def(&t.Expire, DefaultSOAExpire)
	def(&t.Minimum, DefaultNegativeTTL)
	return t
}

// Validate checks the zone document. zone is the zone's own name, needed to
// tell in-zone name servers (which need glue) from others.
func (z *Zone) Validate(zone string) error {
	var errs []error
	if len(z.NS) == 0 {
		errs = append(errs, errors.New("ns is empty: a zone needs at least one name server"))
	}
	seen := map[string]bool{}
	for i, ns := range z.NS {
		name := strings.ToLower(strings.TrimSuffix(ns.Name, "."))
		if err := CheckDomain(name); err != nil {
			errs = append(errs, fmt.Errorf("ns[%d].name: %w", i, err))
			continue
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("ns[%d].name %q is listed twice", i, name))
		}
		seen[name] = true
		inZone := InZone(name, zone)
		switch {
		case inZone && len(ns.Addrs) == 0:
			errs = append(errs, fmt.Errorf("ns[%d]: %q is inside the zone and needs glue addrs", i, name))
		case !inZone && len(ns.Addrs) > 0:
			errs = append(errs, fmt.Errorf("ns[%d]: %q is outside the zone; glue addrs are not allowed", i, name))
		}
		for j, a := range ns.Addrs {
			if err := checkServiceAddr(a); err != nil {
				errs = append(errs, fmt.Errorf("ns[%d].addrs[%d]: %w", i, j, err))
			}
		}
	}
	if local, _, ok := strings.Cut(z.Contact, "@"); ok && strings.Contains(local, ".") {
		errs = append(errs, fmt.Errorf("contact %q: a dot before '@' is not supported", z.Contact))
	} else if z.Contact != "" {
		if err := CheckDomain(ContactName(z.Contact)); err != nil {
			errs = append(errs, fmt.Errorf("contact: %w", err))
		}
	}
	if z.TTL > MaxTTL {
		errs = append(errs, fmt.Errorf("ttl %d is above %d", z.TTL, MaxTTL))
	}
	t := z.SOA
	for _, f := range []struct {
		name string
		v    uint32
	}{{"soa.ttl", t.TTL}, {"soa.minimum", t.Minimum}} {
		if f.v > MaxTTL {
			errs = append(errs, fmt.Errorf("%s %d is above %d", f.name, f.v, MaxTTL))
		}
	}
	if z.DNSSEC != nil {
		if err := z.DNSSEC.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ContactName turns an e-mail style contact into the SOA RNAME form:
// "hostmaster@example.com" becomes "hostmaster.example.com". A dot in the
// local part would need escaping in RNAME, so Validate refuses it instead.
func ContactName(contact string) string {
	local, domain, ok := strings.Cut(strings.TrimSuffix(contact, "."), "@")
	if !ok {
		return local
	}
	return local + "." + domain
}

// InZone reports whether name (no trailing dot, lower case) is the zone or
// below it.
func InZone(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}
