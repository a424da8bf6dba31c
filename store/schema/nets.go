package schema

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Pinned networks: network collections shared by many names (Route 53's
// CIDR collections, gdnsd's nets maps). <prefix>nets/<collection> holds a
// JSON object from location names to CIDR lists; a name's "pins" field maps
// "<collection>/<location>" to the regions a client in those networks gets,
// GeoIP skipped. A location's list may hold AS numbers ("AS64500") beside
// its CIDRs: with glbd -geoip-asn, the clients the ASN database puts in
// that AS are pinned too (a CIDR pin wins over an ASN pin where both
// match, being the operator's own, more exact statement).

// KindNets is a network collection: <prefix>nets/<collection>. Counted with
// the traffic kinds (traffic.go), clear of keys.go's.
const KindNets Kind = 110

// Limits of pinned networks.
const (
	MaxNetsPrefixes = 10000 // CIDRs in one collection
	MaxNamePins     = 64    // pins of one name
)

// Nets is a network collection: CIDRs by location name. A location that
// lists only ASNs is present with no CIDRs.
type Nets map[string][]netip.Prefix

// NetASNs are a network collection's AS numbers by location name
// (State.NetASNs); locations without any are absent.
type NetASNs map[string][]uint32

// netsValue is a decoded collection.
type netsValue struct {
	cidrs Nets
	asns  NetASNs
}

// ParseASN parses an AS number as a collection lists it: "AS" and the
// number in decimal, 1..4294967295, without leading zeros (AS0 is "not
// routed" in the databases, so it pins nothing and is refused).
func ParseASN(s string) (uint32, bool) {
	d, ok := strings.CutPrefix(s, "AS")
	if !ok || d == "" || d[0] == '0' || len(d) > 10 {
		return 0, false
	}
	n, err := strconv.ParseUint(d, 10, 32)
	return uint32(n), err == nil
}

// NetsKey returns the etcd key of a network collection.
func NetsKey(prefix, collection string) string { return prefix + "nets/" + collection }

// decodeNets parses and checks a collection: location names are ids,
// CIDRs are in canonical form (no host bits, IPv4 written as IPv4), and no
// CIDR is listed twice, which would leave its location ambiguous. Nested
// CIDRs of different locations are fine: the most specific one wins.
func decodeNets(raw []byte) (netsValue, error) {
	var in map[string][]string
	if err := decodeJSON(raw, &in); err != nil {
		return netsValue{}, err
	}
	out, asns := Nets{}, NetASNs{}
	seen := map[netip.Prefix]string{}
	seenASN := map[uint32]string{}
	var errs []error
	total := 0
	for _, loc := range slices.Sorted(maps.Keys(in)) {
		if err := checkID("location", loc); err != nil {
			errs = append(errs, err)
			continue
		}
		out[loc] = nil // present even when it lists only ASNs
		for i, s := range in[loc] {
			total++
			if strings.HasPrefix(strings.ToUpper(s), "AS") {
				asn, ok := ParseASN(s)
				switch other, dup := seenASN[asn]; {
				case !ok:
					errs = append(errs, fmt.Errorf("%s[%d]: %q is not an AS number (want AS1..AS4294967295, as \"AS64500\")", loc, i, s))
				case dup:
					errs = append(errs, fmt.Errorf("%s[%d]: %s is listed for %q too", loc, i, s, other))
				default:
					seenASN[asn] = loc
					asns[loc] = append(asns[loc], asn)
				}
				continue
			}
			p, err := netip.ParsePrefix(s)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s[%d]: %q is not a CIDR", loc, i, s))
				continue
			case p.Addr().Is4In6() || p.Addr().Zone() != "":
				errs = append(errs, fmt.Errorf("%s[%d]: %q: write IPv4 networks in IPv4 form, without a zone", loc, i, s))
				continue
			case p.Masked() != p:
				errs = append(errs, fmt.Errorf("%s[%d]: %q has host bits set (want %s)", loc, i, s, p.Masked()))
				continue
			}
			if other, dup := seen[p]; dup {
				errs = append(errs, fmt.Errorf("%s[%d]: %s is listed for %q too", loc, i, p, other))
				continue
			}
			seen[p] = loc
			out[loc] = append(out[loc], p)
		}
	}
	if total > MaxNetsPrefixes {
		errs = append(errs, fmt.Errorf("%d CIDRs and ASNs is more than %d", total, MaxNetsPrefixes))
	}
	if len(in) == 0 {
		errs = append(errs, errors.New("the collection has no locations"))
	}
	if len(asns) == 0 {
		asns = nil
	}
	return netsValue{out, asns}, errors.Join(errs...)
}

// DecodeNets parses and checks a collection's JSON document as the
// builder does, returning its CIDRs and its ASNs by location (what-if
// collections of explain and simulate).
func DecodeNets(raw []byte) (Nets, NetASNs, error) {
	v, err := decodeNets(raw)
	return v.cidrs, v.asns, err
}

// CheckPins checks a name's pins as the builder does: keys, regions among
// the name's, and collections and locations that nets holds (what-if pins
// of explain and simulate).
func CheckPins(pins map[string][]string, regions []string, nets map[string]Nets) error {
	if errs := validatePins(pins, regions); len(errs) > 0 {
		return errors.Join(errs...)
	}
	return checkPinTargets(pins, nets, DefaultPrefix)
}

// validatePins checks a name's pins on their own: keys are
// "<collection>/<location>", regions among the name's.
func validatePins(pins map[string][]string, regions []string) []error {
	var errs []error
	if len(pins) > MaxNamePins {
		errs = append(errs, fmt.Errorf("%d pins is more than %d", len(pins), MaxNamePins))
	}
	for _, key := range slices.Sorted(maps.Keys(pins)) {
		coll, loc, ok := strings.Cut(key, "/")
		if !ok || checkID("collection", coll) != nil || checkID("location", loc) != nil {
			errs = append(errs, fmt.Errorf("pins: %q is not <collection>/<location>", key))
		}
		if len(pins[key]) == 0 {
			errs = append(errs, fmt.Errorf("pins.%s: no regions", key))
		}
		errs = append(errs, checkRegionList("pins."+key, pins[key], regions)...)
	}
	return errs
}

// crossCheckPins checks that every pin of a name names a collection etcd
// holds, and a location in it.
func (a *assembly) crossCheckPins(n *Name) error {
	return checkPinTargets(n.Pins, a.st.Nets, a.b.prefix)
}

// checkPinTargets checks that every pin names a collection of nets, and a
// location in it; prefix is for the message.
func checkPinTargets(pins map[string][]string, nets map[string]Nets, prefix string) error {
	for _, key := range slices.Sorted(maps.Keys(pins)) {
		coll, loc, _ := strings.Cut(key, "/")
		c := nets[coll]
		if c == nil {
			return fmt.Errorf("pins: network collection %q does not exist (no valid %s)", coll, NetsKey(prefix, coll))
		}
		if _, ok := c[loc]; !ok {
			return fmt.Errorf("pins: collection %q has no location %q (it has %v)", coll, loc, slices.Sorted(maps.Keys(c)))
		}
	}
	return nil
}
