package schema

import (
	"strings"
	"testing"
	"time"
)

// TestTrafficKeys: per-name weights and admin states are filed into the
// State when valid, and refused with a reason (the last good value kept)
// when not.
func TestTrafficKeys(t *testing.T) {
	nw := NameWeightKey(DefaultPrefix, testZone, "www", "us-east")
	adm := AdminKey(DefaultPrefix, "eu-west", "")
	epAdm := AdminKey(DefaultPrefix, "eu-west", "192.0.2.10")
	until := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		first   []kv // applied and built before ops
		ops     []kv
		reject  string // substring of the one rejection, "" for none
		inForce bool
		check   func(t *testing.T, st *State)
	}{
		{name: "name weight", ops: []kv{put(nw, " 0\n", 30)}, check: func(t *testing.T, st *State) {
			if w, ok := st.Zones[testZone].Weights["www"]["us-east"]; !ok || w != 0 {
				t.Errorf("weight %d (%v), want 0", w, ok)
			}
			if st.Regions["us-east"].Weight != 0 || st.Zones[testZone].Weights["api.eu"] != nil {
				t.Error("the name weight leaked into the region or another name")
			}
		}},
		{name: "name weight out of range keeps the last good one", first: []kv{put(nw, "7", 30)}, ops: []kv{put(nw, "1001", 31)},
			reject: "outside 0..1000", inForce: true, check: func(t *testing.T, st *State) {
				if w := st.Zones[testZone].Weights["www"]["us-east"]; w != 7 {
					t.Errorf("weight %d, want the last good 7", w)
				}
			}},
		{name: "name weight of a region the name does not list",
			ops: []kv{put(NameWeightKey(DefaultPrefix, testZone, "api.eu", "us-east"), "0", 30)}, reject: "not one of the name's regions"},
		{name: "name weight of a missing name",
			ops: []kv{put(NameWeightKey(DefaultPrefix, testZone, "nope", "us-east"), "0", 30)}, reject: "has no valid"},
		{name: "region admin down until", ops: []kv{put(adm, "down until 2026-12-06T08:00:00Z", 30)}, check: func(t *testing.T, st *State) {
			a := st.Regions["eu-west"].Admin
			if a == nil || a.State != AdminDown || !a.Until.Equal(until) {
				t.Fatalf("admin %+v", a)
			}
			if !a.InForce(until.Add(-time.Second)) || a.InForce(until) {
				t.Error("InForce is wrong around the expiry")
			}
		}},
		{name: "endpoint admin up", ops: []kv{put(epAdm, "up", 30)}, check: func(t *testing.T, st *State) {
			if a := st.Regions["eu-west"].EndpointAdmin["192.0.2.10"]; a == nil || a.State != AdminUp || !a.Until.IsZero() {
				t.Errorf("endpoint admin %+v", a)
			}
		}},
		{name: "admin typo", ops: []kv{put(adm, "dwon", 30)}, reject: `want "up" or "down"`},
		{name: "admin bad expiry", ops: []kv{put(adm, "down until tomorrow", 30)}, reject: "RFC 3339"},
		{name: "admin of an endpoint the region lacks", ops: []kv{put(AdminKey(DefaultPrefix, "eu-west", "192.0.2.99"), "down", 30)},
			reject: "not one of region"},
		{name: "admin of a non-canonical endpoint", ops: []kv{put(DefaultPrefix+"regions/eu-west/admin/2001:DB8::10", "down", 30)},
			reject: "canonical"},
		{name: "nets", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"office": ["81.2.69.0/24", "2001:db8::/32"]}`, 30)},
			check: func(t *testing.T, st *State) {
				if n := st.Nets["corp"]["office"]; len(n) != 2 || n[0].String() != "81.2.69.0/24" {
					t.Errorf("nets %v", st.Nets)
				}
			}},
		{name: "nets with host bits", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"office": ["81.2.69.1/24"]}`, 30)}, reject: "host bits"},
		{name: "nets listing a CIDR twice", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"a": ["10.0.0.0/8"], "b": ["10.0.0.0/8"]}`, 30)},
			reject: "listed for"},
		{name: "nets typo", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"office": "81.2.69.0/24"}`, 30)}, reject: "bad JSON"},
		{name: "nets with ASNs", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"office": ["81.2.69.0/24", "AS64500"], "partner": ["AS4294967295"]}`, 30),
			put(kWWW, `{"regions": ["eu-west", "us-east"], "pins": {"corp/partner": ["us-east"]}}`, 31)},
			check: func(t *testing.T, st *State) {
				if n := st.Nets["corp"]["office"]; len(n) != 1 || n[0].String() != "81.2.69.0/24" {
					t.Errorf("nets %v", st.Nets)
				}
				if a := st.NetASNs["corp"]; len(a) != 2 || len(a["office"]) != 1 || a["office"][0] != 64500 || a["partner"][0] != 4294967295 {
					t.Errorf("asns %v", st.NetASNs)
				}
				if _, ok := st.Zones[testZone].Names["www"].Pins["corp/partner"]; !ok {
					t.Error("a pin of a location with only ASNs was refused")
				}
			}},
		{name: "nets with a lower-case ASN", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"office": ["as64500"]}`, 30)}, reject: "is not an AS number"},
		{name: "nets with AS0", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"office": ["AS0"]}`, 30)}, reject: "is not an AS number"},
		{name: "nets with an ASN too large", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"office": ["AS4294967296"]}`, 30)}, reject: "is not an AS number"},
		{name: "nets listing an ASN twice", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"a": ["AS64500"], "b": ["AS64500"]}`, 30)},
			reject: "AS64500 is listed for"},
		{name: "pins", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"office": ["81.2.69.0/24"]}`, 30),
			put(kWWW, `{"regions": ["eu-west", "us-east"], "pins": {"corp/office": ["us-east"]}}`, 31)},
			check: func(t *testing.T, st *State) {
				if p := st.Zones[testZone].Names["www"].Pins["corp/office"]; len(p) != 1 || p[0] != "us-east" {
					t.Errorf("pins %v", st.Zones[testZone].Names["www"].Pins)
				}
			}},
		{name: "pin of a missing collection", ops: []kv{put(kWWW, `{"regions": ["eu-west", "us-east"], "pins": {"corp/office": ["us-east"]}}`, 31)},
			reject: `network collection "corp" does not exist`, inForce: true},
		{name: "pin of a missing location", ops: []kv{put(NetsKey(DefaultPrefix, "corp"), `{"office": ["81.2.69.0/24"]}`, 30),
			put(kWWW, `{"regions": ["eu-west", "us-east"], "pins": {"corp/lab": ["us-east"]}}`, 31)}, reject: `has no location "lab"`, inForce: true},
		{name: "pin to a region the name does not list", ops: []kv{put(kWWW, `{"regions": ["eu-west"], "pins": {"corp/office": ["us-east"]}}`, 31)},
			reject: "not one of the name's regions", inForce: true},
		{name: "pin key without a location", ops: []kv{put(kWWW, `{"regions": ["eu-west"], "pins": {"corp": ["eu-west"]}}`, 31)},
			reject: "is not <collection>/<location>", inForce: true},
		{name: "admin of a missing region", ops: []kv{put(AdminKey(DefaultPrefix, "mars", ""), "down", 30)}, reject: "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(DefaultPrefix)
			apply(b, fullConfig())
			apply(b, tc.first)
			b.State(30)
			apply(b, tc.ops)
			st, _ := b.State(40)
			switch {
			case tc.reject == "" && len(st.Rejected) > 0:
				t.Fatalf("rejected %+v", st.Rejected)
			case tc.reject != "" && (len(st.Rejected) != 1 || !strings.Contains(st.Rejected[0].Reason, tc.reject) || st.Rejected[0].InForce != tc.inForce):
				t.Fatalf("rejected %+v, want one with %q, in force %v", st.Rejected, tc.reject, tc.inForce)
			}
			if tc.check != nil {
				tc.check(t, st)
			}
		})
	}
}

// TestTrafficKeyRoundTrip: the keys parse to their kind and back.
func TestTrafficKeyRoundTrip(t *testing.T) {
	for _, key := range []string{"zones/a.test/names/www/weights/eu-west", "regions/eu-west/admin", "regions/eu-west/admin/2001:db8::1", "nets/corp"} {
		k, err := ParseKey(DefaultPrefix, DefaultPrefix+key)
		if err != nil || k.String() != key || (k.Kind != KindNameWeight && k.Kind != KindAdmin && k.Kind != KindNets) {
			t.Errorf("%s: %+v, %v, back %q", key, k, err, k.String())
		}
	}
}
