package schema

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Traffic operations: keys that move traffic without editing a region's or
// a name's document. A per-name weight overrides a region's weight for one
// name; an admin state forces a region, or one of its endpoints, up or down
// whatever the probers say.

// The kinds of the traffic keys. They count from 100, clear of the kinds
// in keys.go, so that kinds added there never collide with these.
const (
	KindNameWeight Kind = 100 + iota // <prefix>zones/<zone>/names/<label>/weights/<region>
	KindAdmin                        // <prefix>regions/<region>/admin, or <prefix>regions/<region>/admin/<endpoint>
)

func (k Kind) trafficName() string {
	switch k {
	case KindNameWeight:
		return "name_weight"
	case KindAdmin:
		return "admin"
	case KindNets:
		return "nets"
	case KindNameSchedule:
		return "name_schedule"
	}
	return "unknown"
}

// Admin states.
const (
	AdminUp   = "up"   // answered with as if every prober said up
	AdminDown = "down" // never answered with, as if every prober said down
)

// AdminState is the value of an admin key: "up" or "down", optionally
// followed by " until <RFC 3339 time>", after which the key no longer
// counts and the probers decide again. The expiry is in the value, not an
// etcd lease, so that every glbd applies it by its own clock with nothing
// left running, an etcd leader change cannot extend it (leases are
// renewed on a new leader), and `etcdctl get` shows when it ends.
type AdminState struct {
	State string    // AdminUp or AdminDown
	Until time.Time // zero: until the key is deleted
}

// InForce reports whether the state applies at now.
func (a *AdminState) InForce(now time.Time) bool {
	return a != nil && (a.Until.IsZero() || now.Before(a.Until))
}

// String is the value as stored.
func (a AdminState) String() string {
	if a.Until.IsZero() {
		return a.State
	}
	return a.State + " until " + a.Until.UTC().Format(time.RFC3339)
}

// ParseAdmin parses the plain-text value of an admin key, surrounding white
// space ignored.
func ParseAdmin(v []byte) (*AdminState, error) {
	s := strings.TrimSpace(string(v))
	state, until, hasUntil := strings.Cut(s, " until ")
	if state != AdminUp && state != AdminDown {
		return nil, fmt.Errorf("admin state %q: want \"up\" or \"down\", optionally followed by \" until <RFC 3339 time>\"", s)
	}
	a := &AdminState{State: state}
	if hasUntil {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(until))
		if err != nil {
			return nil, fmt.Errorf("admin state %q: expiry %q is not an RFC 3339 time like 2026-12-06T08:00:00Z", s, until)
		}
		a.Until = t
	}
	return a, nil
}

// NameWeightKey returns the etcd key of a region's weight for one name.
func NameWeightKey(prefix, zone, label, region string) string {
	return NameKey(prefix, zone, label) + "/weights/" + region
}

// AdminKey returns the etcd key of a region's admin state, or of one of
// its endpoints' when endpoint is not "".
func AdminKey(prefix, region, endpoint string) string {
	if endpoint == "" {
		return RegionKey(prefix, region) + "/admin"
	}
	return RegionKey(prefix, region) + "/admin/" + endpoint
}

// parseTrafficKey parses the keys of traffic operations; ok is false for
// any other layout.
func parseTrafficKey(p []string) (k Key, ok bool, err error) {
	switch {
	case len(p) == 6 && p[0] == "zones" && p[2] == "names" && p[4] == "weights":
		k = Key{Kind: KindNameWeight, Zone: p[1], Label: p[3], Region: p[5]}
		return k, true, errors.Join(checkZone(p[1]), checkLabel(p[3]), checkID("region", p[5]))
	case len(p) == 6 && p[0] == "zones" && p[2] == "names" && p[4] == "schedules":
		k = Key{Kind: KindNameSchedule, Zone: p[1], Label: p[3], Region: p[5]}
		return k, true, errors.Join(checkZone(p[1]), checkLabel(p[3]), checkID("region", p[5]))
	case len(p) == 2 && p[0] == "nets":
		return Key{Kind: KindNets, Region: p[1]}, true, checkID("collection", p[1])
	case len(p) == 3 && p[0] == "regions" && p[2] == "admin":
		return Key{Kind: KindAdmin, Region: p[1]}, true, checkID("region", p[1])
	case len(p) == 4 && p[0] == "regions" && p[2] == "admin":
		k = Key{Kind: KindAdmin, Region: p[1], Endpoint: p[3]}
		var canon error
		if a, err := netip.ParseAddr(p[3]); err != nil || EndpointKey(a) != p[3] {
			canon = fmt.Errorf("endpoint %q is not an IP address in canonical form", p[3])
		}
		return k, true, errors.Join(checkID("region", p[1]), canon)
	}
	return Key{}, false, nil
}

// trafficString is String for the keys of traffic operations.
func (k Key) trafficString() string {
	switch k.Kind {
	case KindNameWeight:
		return "zones/" + k.Zone + "/names/" + k.Label + "/weights/" + k.Region
	case KindNameSchedule:
		return "zones/" + k.Zone + "/names/" + k.Label + "/schedules/" + k.Region
	case KindNets:
		return "nets/" + k.Region
	case KindAdmin:
		if k.Endpoint != "" {
			return "regions/" + k.Region + "/admin/" + k.Endpoint
		}
		return "regions/" + k.Region + "/admin"
	}
	return ""
}

// decodeTraffic is Decode for the keys of traffic operations; ok is false
// for other kinds.
func decodeTraffic(k Key, raw []byte) (v any, ok bool, err error) {
	switch k.Kind {
	case KindNameWeight:
		w, err := ParseWeight(raw)
		return w, true, err
	case KindAdmin:
		a, err := ParseAdmin(raw)
		return a, true, err
	case KindNets:
		n, err := decodeNets(raw)
		return n, true, err
	case KindNameSchedule:
		v, err := Decode(Key{Kind: KindSchedule}, raw)
		return v, true, err
	}
	return nil, false, nil
}

// crossCheckTraffic is the builder's cross-key check for the keys of
// traffic operations. A per-name weight must name a region of the name, and
// an endpoint's admin state one of the region's addresses: a mistyped one
// is refused, so a drain that would do nothing shows up as a rejected key.
func (a *assembly) crossCheckTraffic(e *entry) error {
	k := e.key
	switch k.Kind {
	case KindName:
		return a.crossCheckPins(e.value.(*Name))
	case KindNameWeight, KindNameSchedule:
		z := a.st.Zones[k.Zone]
		if z == nil {
			return fmt.Errorf("zone %q has no valid %s document", k.Zone, ZoneKey(a.b.prefix, k.Zone))
		}
		n := z.Names[k.Label]
		if n == nil {
			return fmt.Errorf("name %q has no valid %s document", k.Label, NameKey(a.b.prefix, k.Zone, k.Label))
		}
		if !containsString(n.Regions, k.Region) {
			return fmt.Errorf("region %q is not one of the name's regions %v", k.Region, n.Regions)
		}
	case KindAdmin:
		r := a.st.Regions[k.Region]
		if r == nil {
			return fmt.Errorf("region %q does not exist (no valid %s)", k.Region, RegionKey(a.b.prefix, k.Region))
		}
		if k.Endpoint != "" && !regionHasEndpoint(r.Region, k.Endpoint) {
			return fmt.Errorf("%s is not one of region %q's addrs", k.Endpoint, k.Region)
		}
	}
	return nil
}

// useTraffic files an accepted traffic key into the state.
func (a *assembly) useTraffic(e *entry) {
	k := e.key
	switch k.Kind {
	case KindNets:
		if a.st.Nets == nil {
			a.st.Nets = map[string]Nets{}
		}
		v := e.value.(netsValue)
		a.st.Nets[k.Region] = v.cidrs
		if v.asns != nil {
			if a.st.NetASNs == nil {
				a.st.NetASNs = map[string]NetASNs{}
			}
			a.st.NetASNs[k.Region] = v.asns
		}
	case KindNameWeight:
		z := a.st.Zones[k.Zone]
		if z.Weights == nil {
			z.Weights = map[string]map[string]int{}
		}
		if z.Weights[k.Label] == nil {
			z.Weights[k.Label] = map[string]int{}
		}
		z.Weights[k.Label][k.Region] = e.value.(int)
	case KindNameSchedule:
		z := a.st.Zones[k.Zone]
		if z.Schedules == nil {
			z.Schedules = map[string]map[string]*Schedule{}
		}
		if z.Schedules[k.Label] == nil {
			z.Schedules[k.Label] = map[string]*Schedule{}
		}
		z.Schedules[k.Label][k.Region] = e.value.(*Schedule)
	case KindAdmin:
		r := a.st.Regions[k.Region]
		if r == nil {
			return
		}
		if k.Endpoint == "" {
			r.Admin = e.value.(*AdminState)
			return
		}
		if r.EndpointAdmin == nil {
			r.EndpointAdmin = map[string]*AdminState{}
		}
		r.EndpointAdmin[k.Endpoint] = e.value.(*AdminState)
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func regionHasEndpoint(r *Region, ep string) bool {
	for _, a := range r.Addrs {
		if EndpointKey(a) == ep {
			return true
		}
	}
	return false
}
