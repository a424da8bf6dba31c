package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/glb-dns/glb/store/schema"
)

// soakZone is the zone the soak serves.
const soakZone = "gslb.example.test"

// soakRegion is a region of the soak's configuration. The coordinates match
// the dev configuration's, so the test GeoIP database's cities pick the
// regions a reader of testdata/dev/config.json expects.
type soakRegion struct {
	id        string
	lat, lon  float64
	addrs     []string
	continent string
}

var soakRegions = []soakRegion{
	{"us-east", 39.04, -77.49, []string{"192.0.2.10", "192.0.2.11", "2001:db8:1::10"}, "NA"},
	{"us-west", 45.52, -122.68, []string{"192.0.2.20", "2001:db8:2::20"}, "NA"},
	{"eu-west", 51.51, -0.13, []string{"198.51.100.10", "198.51.100.11", "2001:db8:3::10"}, "EU"},
	{"eu-central", 50.11, 8.68, []string{"198.51.100.20", "2001:db8:4::20"}, "EU"},
	{"ap-northeast", 35.68, 139.69, []string{"203.0.113.10", "2001:db8:5::10"}, "AS"},
	{"ap-southeast", 1.29, 103.85, []string{"203.0.113.20", "2001:db8:6::20"}, "AS"},
	{"sa-east", -23.55, -46.63, []string{"192.0.2.30"}, "SA"},
}

// regionIDs returns the ids of soakRegions in order.
func regionIDs() []string {
	ids := make([]string, len(soakRegions))
	for i, r := range soakRegions {
		ids[i] = r.id
	}
	return ids
}

// addrRegions maps every answer address to its region, to judge answers.
func addrRegions() map[netip.Addr]string {
	m := map[netip.Addr]string{}
	for _, r := range soakRegions {
		for _, a := range r.addrs {
			m[netip.MustParseAddr(a)] = r.id
		}
	}
	return m
}

// soakNames are the names asked: www ranks by distance, so a client mostly
// sees its nearest regions; lb is weighted, so every region is answered
// somewhere and a drained region that is still served shows up at once.
var soakNames = []string{"www." + soakZone + ".", "lb." + soakZone + "."}

// buildConfig returns the soak's configuration as keys relative to the
// prefix. backends maps a region to the loopback address its check
// connects to. Every key is checked with the schema glbd uses.
func buildConfig(backends map[string]string) (map[string]string, error) {
	kvs := map[string]string{}
	put := func(k string, v any) {
		raw, _ := json.Marshal(v)
		kvs[k] = string(raw)
	}
	put("zones/"+soakZone, map[string]any{
		"ns":      []map[string]any{{"name": "ns1." + soakZone, "addrs": []string{"192.0.2.53"}}},
		"contact": "hostmaster@example.test",
		"ttl":     30,
	})
	for _, r := range soakRegions {
		put("regions/"+r.id, map[string]any{
			"lat": r.lat, "lon": r.lon, "continent": r.continent, "addrs": r.addrs,
			// The dev configuration's check: 1 s interval, rise/fall 2, so
			// a backend that fails is out of answers within about 3 s.
			"check": map[string]any{"type": "http", "path": "/healthz", "connect": backends[r.id],
				"interval": "1s", "timeout": "500ms", "rise": 2, "fall": 2},
		})
		kvs["regions/"+r.id+"/weight"] = "100"
	}
	put("zones/"+soakZone+"/names/www", map[string]any{"regions": regionIDs(), "policy": "geo", "ttl": 30, "answers": 2})
	put("zones/"+soakZone+"/names/lb", map[string]any{"regions": regionIDs(), "policy": "weighted", "ttl": 30, "answers": 1})
	for _, k := range slices.Sorted(maps.Keys(kvs)) {
		pk, err := schema.ParseKey("", k)
		if err != nil {
			return nil, fmt.Errorf("soak key %q: %w", k, err)
		}
		if _, err := schema.Decode(pk, []byte(kvs[k])); err != nil {
			return nil, fmt.Errorf("soak value of %q: %w", k, err)
		}
	}
	return kvs, nil
}
