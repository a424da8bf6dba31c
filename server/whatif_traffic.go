package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/glb-dns/glb/server/explain"
	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// What-if of traffic operations: admin states, pins and network
// collections, tried on a copy of the state without writing etcd.

// whatIfNone drops an admin state, a pin or a location in a what-if.
const whatIfNone = explain.None

// parseWhatIfTraffic reads admin=<region>[/<endpoint>]:<state>,
// pin=<collection>/<location>:<region>[,<region>...] and
// nets=<collection>/<location>:<cidr-or-ASN>[,...]; a later value of the
// same key wins.
func parseWhatIfTraffic(w *explain.WhatIf, v map[string][]string) error {
	for _, s := range v["admin"] {
		key, state, ok := explain.CutAdmin(s)
		if !ok {
			return fmt.Errorf("admin %q: want <region>[/<endpoint>]:<up|down|none>, e.g. eu-west:down or eu-west/192.0.2.10:up", s)
		}
		if w.Admin == nil {
			w.Admin = map[string]string{}
		}
		w.Admin[key] = state
	}
	for _, p := range []struct {
		param string
		dst   *map[string][]string
		want  string
	}{
		{"pin", &w.Pins, "<collection>/<location>:<region>[,<region>...] or ...:none"},
		{"nets", &w.Nets, "<collection>/<location>:<CIDR or ASN>[,...] or ...:none"},
	} {
		for _, s := range v[p.param] {
			key, list, ok := explain.CutList(s)
			if !ok {
				return fmt.Errorf("%s %q: want %s", p.param, s, p.want)
			}
			if *p.dst == nil {
				*p.dst = map[string][]string{}
			}
			(*p.dst)[key] = list
		}
	}
	return nil
}

// whatIfAdmin sets hypothetical admin states in st (its Regions map is a
// copy; the region states are copied before they change).
func whatIfAdmin(st *schema.State, admin map[string]string) error {
	for _, key := range slices.Sorted(maps.Keys(admin)) {
		id, ep, _ := strings.Cut(key, "/")
		r := st.Regions[id]
		if r == nil {
			return fmt.Errorf("admin: region %q does not exist", id)
		}
		var a *schema.AdminState
		if s := admin[key]; s != whatIfNone {
			var err error
			if a, err = schema.ParseAdmin([]byte(s)); err != nil {
				return fmt.Errorf("admin %s: %w", key, err)
			}
		}
		copied := *r
		if ep == "" {
			copied.Admin = a
		} else {
			addr, err := netip.ParseAddr(ep)
			if err != nil || !slices.Contains(r.Region.Addrs, addr) || addr.String() != ep {
				return fmt.Errorf("admin: %q is not one of region %q's addrs %v (written canonically)", ep, id, r.Region.Addrs)
			}
			copied.EndpointAdmin = maps.Clone(r.EndpointAdmin)
			if copied.EndpointAdmin == nil {
				copied.EndpointAdmin = map[string]*schema.AdminState{}
			}
			if a == nil {
				delete(copied.EndpointAdmin, ep)
			} else {
				copied.EndpointAdmin[ep] = a
			}
		}
		st.Regions[id] = &copied
	}
	return nil
}

// whatIfNets sets hypothetical locations of network collections in st:
// each changed collection is rebuilt and checked whole, as if written.
func whatIfNets(st *schema.State, nets map[string][]string) error {
	byColl := map[string]map[string][]string{}
	for key, list := range nets {
		coll, loc, _ := strings.Cut(key, "/")
		if byColl[coll] == nil {
			byColl[coll] = netsAsText(st, coll)
		}
		if len(list) == 1 && list[0] == whatIfNone {
			delete(byColl[coll], loc)
		} else {
			byColl[coll][loc] = list
		}
	}
	st.Nets, st.NetASNs = maps.Clone(st.Nets), maps.Clone(st.NetASNs)
	if st.Nets == nil {
		st.Nets = map[string]schema.Nets{}
	}
	if st.NetASNs == nil {
		st.NetASNs = map[string]schema.NetASNs{}
	}
	for _, coll := range slices.Sorted(maps.Keys(byColl)) {
		raw, _ := json.Marshal(byColl[coll])
		cidrs, asns, err := schema.DecodeNets(raw)
		if err != nil {
			return fmt.Errorf("nets: collection %q: %w", coll, err)
		}
		st.Nets[coll], st.NetASNs[coll] = cidrs, asns
	}
	return nil
}

// netsAsText is collection coll of st as its JSON document holds it.
func netsAsText(st *schema.State, coll string) map[string][]string {
	out := map[string][]string{}
	for loc, ps := range st.Nets[coll] {
		out[loc] = []string{}
		for _, p := range ps {
			out[loc] = append(out[loc], p.String())
		}
	}
	for loc, asns := range st.NetASNs[coll] {
		for _, n := range asns {
			out[loc] = append(out[loc], "AS"+strconv.FormatUint(uint64(n), 10))
		}
	}
	return out
}

// whatIfPins sets hypothetical pins of the asked name in st, checked as
// the name's document would be.
func whatIfPins(cur *plan.Snapshot, st *schema.State, name string, pins map[string][]string) error {
	g := gslbName(cur, name)
	if g == nil {
		return fmt.Errorf("pin: %s is not a GSLB name", name)
	}
	zs := st.Zones[g.Zone]
	if zs == nil || zs.Names[g.Label] == nil {
		return fmt.Errorf("pin: %s is not in the configuration", name)
	}
	n := *zs.Names[g.Label]
	n.Pins = maps.Clone(n.Pins)
	if n.Pins == nil {
		n.Pins = map[string][]string{}
	}
	for key, regions := range pins {
		if len(regions) == 1 && regions[0] == whatIfNone {
			delete(n.Pins, key)
		} else {
			n.Pins[key] = regions
		}
	}
	if err := schema.CheckPins(n.Pins, n.Regions, st.Nets); err != nil {
		return fmt.Errorf("pin: %w", err)
	}
	copied := *zs
	copied.Names = maps.Clone(zs.Names)
	copied.Names[g.Label] = &n
	st.Zones = maps.Clone(st.Zones)
	st.Zones[g.Zone] = &copied
	return nil
}

// gslbName is the GSLB name of cur called name, nil if none.
func gslbName(cur *plan.Snapshot, name string) *plan.Name {
	if z := cur.Match(name); z != nil && z.Nodes[name] != nil {
		return z.Nodes[name].GSLB
	}
	return nil
}

// whatIfTraffic applies w's admin states, network locations and pins to
// st, a copy of cur's state (collections first, so a pin may name a
// location the what-if adds).
func whatIfTraffic(cur *plan.Snapshot, st *schema.State, name string, w explain.WhatIf) error {
	if err := whatIfAdmin(st, w.Admin); err != nil {
		return err
	}
	if len(w.Nets) > 0 {
		if err := whatIfNets(st, w.Nets); err != nil {
			return err
		}
	}
	if len(w.Pins) > 0 {
		return whatIfPins(cur, st, name, w.Pins)
	}
	return nil
}
