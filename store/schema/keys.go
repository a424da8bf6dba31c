// Package schema is glb's etcd contract: the key layout under the prefix
// (default "/glb/"), the JSON and scalar values stored there, and their
// validation. It is the one place that knows what a valid key looks like, so
// the server, the prober and any operator tool agree on it. Stdlib only.
package schema

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// DefaultPrefix is the etcd prefix glb uses unless configured otherwise.
const DefaultPrefix = "/glb/"

// Kind says which part of the contract a key belongs to.
type Kind int

// The kinds of key, one per row of the key table in DESIGN.md.
const (
	KindUnknown Kind = iota
	KindRegion       // <prefix>regions/<region>
	KindWeight       // <prefix>regions/<region>/weight
	KindZone         // <prefix>zones/<zone>
	KindName         // <prefix>zones/<zone>/names/<label>
	KindRecord       // <prefix>zones/<zone>/records/<label>/<TYPE>
	KindProber       // <prefix>probers/<prober>
	KindHealth       // <prefix>health/<prober>/<region>/<endpoint>, or the legacy <prefix>health/<region>/<endpoint>/<prober>
	KindLoad         // <prefix>regions/<region>/load
)

// KindSchedule is <prefix>regions/<region>/schedule, a drain that runs itself.
const KindSchedule = KindLoad + 1

var kindNames = [...]string{"unknown", "region", "weight", "zone", "name", "record", "prober", "health", "load", "schedule"}

// String returns the kind as used in metric labels and log lines.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return k.trafficName()
}

// Key is a parsed etcd key. Only the fields of its Kind are set.
type Key struct {
	Kind     Kind
	Region   string // region, weight, load, health
	Zone     string // zone, name, record
	Label    string // name, record: relative to the zone, "@" for the apex
	Type     string // record: upper-case RR type
	Endpoint string // health
	Prober   string // prober, health
	// Legacy marks a health key in the layout of glb before the per-prober
	// one, <prefix>health/<region>/<endpoint>/<prober>, which probers not yet
	// upgraded still write (see parseHealth).
	Legacy bool
}

// ErrBadKey is returned (wrapped) for keys that are not part of the contract.
var ErrBadKey = errors.New("key is not part of the glb schema")

// ParseKey splits an etcd key below prefix into its parts and checks that each
// part is well formed. Keys outside the prefix or the schema are errors.
func ParseKey(prefix, key string) (Key, error) {
	if !utf8.ValidString(key) {
		return Key{}, fmt.Errorf("%w: key is not valid UTF-8", ErrBadKey)
	}
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return Key{}, fmt.Errorf("%w: outside prefix %q", ErrBadKey, prefix)
	}
	k, err := parseParts(strings.Split(rest, "/"))
	if err != nil && !errors.Is(err, ErrBadKey) {
		err = fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	// The kind is kept with the error, so a rejection says which part of
	// the schema the key was meant for.
	return k, err
}

func parseParts(p []string) (Key, error) {
	switch {
	case len(p) == 2 && p[0] == "regions":
		return Key{Kind: KindRegion, Region: p[1]}, checkID("region", p[1])
	case len(p) == 3 && p[0] == "regions" && p[2] == "weight":
		return Key{Kind: KindWeight, Region: p[1]}, checkID("region", p[1])
	case len(p) == 3 && p[0] == "regions" && p[2] == "load":
		return Key{Kind: KindLoad, Region: p[1]}, checkID("region", p[1])
	case len(p) == 3 && p[0] == "regions" && p[2] == "schedule":
		return Key{Kind: KindSchedule, Region: p[1]}, checkID("region", p[1])
	case len(p) == 2 && p[0] == "zones":
		return Key{Kind: KindZone, Zone: p[1]}, checkZone(p[1])
	case len(p) == 4 && p[0] == "zones" && p[2] == "names":
		k := Key{Kind: KindName, Zone: p[1], Label: p[3]}
		return k, errors.Join(checkZone(p[1]), checkLabel(p[3]))
	case len(p) == 5 && p[0] == "zones" && p[2] == "records":
		k := Key{Kind: KindRecord, Zone: p[1], Label: p[3], Type: p[4]}
		return k, errors.Join(checkZone(p[1]), checkLabel(p[3]), checkType(p[4]))
	case len(p) == 2 && p[0] == "probers":
		return Key{Kind: KindProber, Prober: p[1]}, checkID("prober", p[1])
	case len(p) == 4 && p[0] == "health":
		return parseHealth(p[1], p[2], p[3])
	}
	if k, ok, err := parseTrafficKey(p); ok {
		return k, err
	}
	return Key{}, fmt.Errorf("%w: unknown key layout", ErrBadKey)
}

// String rebuilds the key below the prefix, e.g. "regions/eu-west/weight".
func (k Key) String() string {
	switch k.Kind {
	case KindRegion:
		return "regions/" + k.Region
	case KindWeight:
		return "regions/" + k.Region + "/weight"
	case KindLoad:
		return "regions/" + k.Region + "/load"
	case KindSchedule:
		return "regions/" + k.Region + "/schedule"
	case KindZone:
		return "zones/" + k.Zone
	case KindName:
		return "zones/" + k.Zone + "/names/" + k.Label
	case KindRecord:
		return "zones/" + k.Zone + "/records/" + k.Label + "/" + k.Type
	case KindProber:
		return "probers/" + k.Prober
	case KindHealth:
		if k.Legacy {
			return "health/" + k.Region + "/" + k.Endpoint + "/" + k.Prober
		}
		return "health/" + k.Prober + "/" + k.Region + "/" + k.Endpoint
	}
	return k.trafficString()
}

// parseHealth reads the three segments after "health/" in either layout.
// Both have three segments, so the layouts are told apart by what the
// segments can hold:
//
//   - per-prober: <prober>/<region>/<endpoint>. The endpoint is an IP
//     address, as probers write it (EndpointKey).
//   - legacy: <region>/<endpoint>/<prober>. The last segment is a prober id,
//     and an id cannot contain ':', so it is an IP address only when it is
//     an IPv4 address such as "10.0.0.1", which checkID allows.
//
// So: a last segment that is an IP address means the per-prober layout,
// anything else the legacy one. The rule fails only when the middle segment
// is an IP address too: either a legacy key whose prober id is an IPv4
// address, or a per-prober key whose region id is one. Such a key is refused
// as ambiguous rather than guessed at.
func parseHealth(a, b, c string) (Key, error) {
	last, lastErr := netip.ParseAddr(c)
	if lastErr == nil {
		if _, err := netip.ParseAddr(b); err == nil {
			return Key{Kind: KindHealth}, fmt.Errorf("ambiguous health key: %q and %q are both IP addresses, so it is "+
				"either <prober>/<region>/<endpoint> with region id %q or the legacy <region>/<endpoint>/<prober> "+
				"with prober id %q; a region or prober id must not be an IP address", b, c, b, c)
		}
		k := Key{Kind: KindHealth, Prober: a, Region: b, Endpoint: c}
		var canon error
		if last.String() != c {
			canon = fmt.Errorf("endpoint %q is not in canonical form (want %q)", c, last.String())
		}
		return k, errors.Join(checkID("prober", a), checkID("region", b), canon)
	}
	k := Key{Kind: KindHealth, Legacy: true, Region: a, Endpoint: b, Prober: c}
	return k, errors.Join(checkID("region", a), checkEndpoint(b), checkID("prober", c))
}

// RegionKey returns the etcd key of a region's document.
func RegionKey(prefix, region string) string { return prefix + "regions/" + region }

// WeightKey returns the etcd key of a region's weight.
func WeightKey(prefix, region string) string { return prefix + "regions/" + region + "/weight" }

// ScheduleKey returns the etcd key of a region's drain schedule.
func ScheduleKey(prefix, region string) string { return prefix + "regions/" + region + "/schedule" }

// ZoneKey returns the etcd key of a zone's document.
func ZoneKey(prefix, zone string) string { return prefix + "zones/" + zone }

// NameKey returns the etcd key of a GSLB name.
func NameKey(prefix, zone, label string) string { return prefix + "zones/" + zone + "/names/" + label }

// RecordKey returns the etcd key of a static record set.
func RecordKey(prefix, zone, label, rrtype string) string {
	return prefix + "zones/" + zone + "/records/" + label + "/" + rrtype
}

// checkID accepts region and prober identifiers: lower-case letters, digits,
// '-', '_' and '.', starting with a letter or digit, at most 63 bytes. They
// show up in metric labels and log lines, so they stay short and plain.
func checkID(what, s string) error {
	if s == "" || len(s) > 63 {
		return fmt.Errorf("%s id %q must be 1 to 63 characters", what, s)
	}
	for i, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_' || c == '.')
		if !ok {
			return fmt.Errorf("%s id %q: only a-z, 0-9, '-', '_' and '.' are allowed, starting with a letter or digit", what, s)
		}
	}
	return nil
}

// checkEndpoint accepts an endpoint as written by probers: an address, with
// ':' allowed for IPv6.
func checkEndpoint(s string) error {
	if s == "" || len(s) > 63 || strings.ContainsAny(s, " /") {
		return fmt.Errorf("endpoint %q is not a valid endpoint name", s)
	}
	return nil
}

// checkZone accepts a lower-case domain name without the trailing dot.
func checkZone(s string) error {
	if s == "" || strings.HasSuffix(s, ".") {
		return fmt.Errorf("zone %q must be a domain name without the trailing dot", s)
	}
	if strings.ToLower(s) != s {
		return fmt.Errorf("zone %q must be lower case", s)
	}
	return CheckDomain(s)
}

// checkLabel accepts "@" or a lower-case name relative to the zone, which may
// have several labels ("api.eu"). Wildcards are not supported yet.
func checkLabel(s string) error {
	if s == "@" {
		return nil
	}
	if strings.ToLower(s) != s {
		return fmt.Errorf("label %q must be lower case", s)
	}
	if strings.Contains(s, "*") {
		return fmt.Errorf("label %q: wildcards are not supported", s)
	}
	if s == "" || strings.HasSuffix(s, ".") {
		return fmt.Errorf("label %q must be relative to the zone, without a trailing dot", s)
	}
	return CheckDomain(s)
}

func checkType(s string) error {
	if _, ok := recordTypes[s]; !ok {
		return fmt.Errorf("record type %q is not supported (want one of %s)", s, supportedTypes())
	}
	return nil
}

// CheckDomain checks a domain name in presentation form (no trailing dot
// needed): labels of 1..63 bytes of letters, digits, '-' and '_', not starting
// or ending with '-', and at most 253 bytes in all.
func CheckDomain(s string) error {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return fmt.Errorf("domain %q must be 1 to 253 characters", s)
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("domain %q has an empty or over-long label", s)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("domain %q: label %q starts or ends with '-'", s, label)
		}
		for _, c := range []byte(label) {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return fmt.Errorf("domain %q: label %q has character %q", s, label, c)
			}
		}
	}
	return nil
}

// Owner returns the fully qualified, lower-case owner name (with the trailing
// dot) of a label in a zone.
func Owner(zone, label string) string {
	if label == "@" {
		return zone + "."
	}
	return label + "." + zone + "."
}
