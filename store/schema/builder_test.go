package schema

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const testZone = "gslb.example.com"

// Full keys used by the builder tests.
var (
	kZone     = ZoneKey(DefaultPrefix, testZone)
	kEU       = RegionKey(DefaultPrefix, "eu-west")
	kUS       = RegionKey(DefaultPrefix, "us-east")
	kAP       = RegionKey(DefaultPrefix, "ap-south")
	kEUWeight = WeightKey(DefaultPrefix, "eu-west")
	kUSWeight = WeightKey(DefaultPrefix, "us-east")
	kWWW      = NameKey(DefaultPrefix, testZone, "www")
	kAPIEU    = NameKey(DefaultPrefix, testZone, "api.eu")
	kApexTXT  = RecordKey(DefaultPrefix, testZone, "@", "TXT")
	kApexMX   = RecordKey(DefaultPrefix, testZone, "@", "MX")
	kStaticA  = RecordKey(DefaultPrefix, testZone, "static", "A")
	kAliasCN  = RecordKey(DefaultPrefix, testZone, "alias", "CNAME")
)

// Values used by the builder tests.
const (
	vZone    = `{"ns": [{"name": "ns1.gslb.example.com", "addrs": ["192.0.2.53"]}, {"name": "ns.example.net."}], "contact": "hostmaster@example.com"}`
	vEU      = `{"lat": 50.11, "lon": 8.68, "addrs": ["192.0.2.10", "2001:db8::10"], "check": {"type": "http"}}`
	vEU2     = `{"lat": 53.35, "lon": -6.26, "addrs": ["192.0.2.11"]}`
	vUS      = `{"lat": 38.9, "lon": -77.0, "addrs": ["198.51.100.10"]}`
	vAP      = `{"lat": 19.07, "lon": 72.88, "addrs": ["203.0.113.10"]}`
	vWWW     = `{"regions": ["eu-west", "us-east", "ap-south"], "policy": "geo", "ttl": 30, "answers": 2}`
	vAPIEU   = `{"regions": ["eu-west"], "ttl": 10, "answers": 1}`
	vApexTXT = `{"values": ["v=spf1 -all"]}`
	vApexMX  = `{"ttl": 3600, "values": ["10 mx1.example.net.", "20 mx2.example.net."]}`
	vStaticA = `{"values": ["192.0.2.80"]}`
	vAliasCN = `{"values": ["lb.example.net."]}`
)

// kv is one Put (or Delete when del is set) at a mod revision.
type kv struct {
	key, value string
	rev        int64
	del        bool
}

func put(key, value string, rev int64) kv { return kv{key: key, value: value, rev: rev} }
func del(key string) kv                   { return kv{key: key, del: true} }

func apply(b *Builder, ops []kv) {
	for _, o := range ops {
		if o.del {
			b.Delete(o.key, o.rev)
		} else {
			b.Put(o.key, []byte(o.value), o.rev)
		}
	}
}

// fullConfig is a complete, valid configuration: one zone with two NS (one
// with glue), three regions, two weights, two names and static records.
func fullConfig() []kv {
	return []kv{
		put(kZone, vZone, 2),
		put(kEU, vEU, 3),
		put(kUS, vUS, 4),
		put(kAP, vAP, 5),
		put(kEUWeight, "50", 6),
		put(kUSWeight, "0", 7),
		put(kWWW, vWWW, 10),
		put(kAPIEU, vAPIEU, 11),
		put(kApexTXT, vApexTXT, 12),
		put(kApexMX, vApexMX, 13),
		put(kStaticA, vStaticA, 14),
		put(kAliasCN, vAliasCN, 15),
	}
}

func TestBuilderFullConfig(t *testing.T) {
	b := NewBuilder(DefaultPrefix)
	apply(b, fullConfig())
	st, fresh := b.State(20)
	if len(st.Rejected) != 0 || len(fresh) != 0 {
		t.Fatalf("Rejected = %+v, fresh = %+v; want none", st.Rejected, fresh)
	}
	if st.Revision != 20 {
		t.Errorf("Revision = %d, want 20", st.Revision)
	}

	t.Run("regions", func(t *testing.T) {
		tests := []struct {
			id     string
			weight int
			lat    float64
			addrs  []string
			check  bool
		}{
			{"eu-west", 50, 50.11, []string{"192.0.2.10", "2001:db8::10"}, true},
			{"us-east", 0, 38.9, []string{"198.51.100.10"}, false},
			{"ap-south", DefaultWeight, 19.07, []string{"203.0.113.10"}, false},
		}
		if len(st.Regions) != len(tests) {
			t.Fatalf("got %d regions, want %d: %v", len(st.Regions), len(tests), slices.Sorted(maps.Keys(st.Regions)))
		}
		for _, tc := range tests {
			t.Run(tc.id, func(t *testing.T) {
				r := st.Regions[tc.id]
				if r == nil {
					t.Fatalf("region %q missing", tc.id)
				}
				if r.ID != tc.id || r.Weight != tc.weight || r.Region.Lat != tc.lat {
					t.Errorf("got ID %q weight %d lat %v; want %q %d %v", r.ID, r.Weight, r.Region.Lat, tc.id, tc.weight, tc.lat)
				}
				var addrs []string
				for _, a := range r.Region.Addrs {
					addrs = append(addrs, a.String())
				}
				if !slices.Equal(addrs, tc.addrs) {
					t.Errorf("addrs = %v, want %v", addrs, tc.addrs)
				}
				if (r.Region.Check != nil) != tc.check {
					t.Errorf("check = %+v, want present %v", r.Region.Check, tc.check)
				}
			})
		}
	})

	t.Run("zone", func(t *testing.T) {
		z := st.Zones[testZone]
		if z == nil || len(st.Zones) != 1 {
			t.Fatalf("Zones = %v, want just %q", slices.Sorted(maps.Keys(st.Zones)), testZone)
		}
		if z.Name != testZone {
			t.Errorf("Name = %q", z.Name)
		}
		if len(z.Zone.NS) != 2 || !slices.Equal(z.Zone.NS[0].Addrs, []netip.Addr{netip.MustParseAddr("192.0.2.53")}) {
			t.Errorf("NS = %+v", z.Zone.NS)
		}
		if z.Serial != 15 {
			t.Errorf("Serial = %d, want 15 (highest mod revision of the zone's keys)", z.Serial)
		}
	})

	t.Run("names", func(t *testing.T) {
		z := st.Zones[testZone]
		want := map[string]*Name{
			"www":    {Regions: []string{"eu-west", "us-east", "ap-south"}, Policy: "geo", TTL: 30, Answers: 2},
			"api.eu": {Regions: []string{"eu-west"}, TTL: 10, Answers: 1},
		}
		if !reflect.DeepEqual(z.Names, want) {
			t.Fatalf("Names = %#v, want %#v", z.Names, want)
		}
	})

	t.Run("records", func(t *testing.T) {
		z := st.Zones[testZone]
		want := map[string]map[string]*Record{
			"@":      {"TXT": {Values: []string{"v=spf1 -all"}}, "MX": {TTL: 3600, Values: []string{"10 mx1.example.net.", "20 mx2.example.net."}}},
			"static": {"A": {Values: []string{"192.0.2.80"}}},
			"alias":  {"CNAME": {Values: []string{"lb.example.net."}}},
		}
		if !reflect.DeepEqual(z.Records, want) {
			t.Fatalf("Records = %#v, want %#v", z.Records, want)
		}
	})
}

func TestBuilderSerial(t *testing.T) {
	tests := []struct {
		name string
		ops  []kv
		want uint32
	}{
		{"zone only", []kv{put(kZone, vZone, 7)}, 7},
		{"name newer than zone", []kv{put(kZone, vZone, 7), put(kEU, vEU, 50), put(kWWW, `{"regions":["eu-west"]}`, 9)}, 9},
		{"record newest", []kv{put(kZone, vZone, 7), put(kApexTXT, vApexTXT, 30)}, 30},
		{"region and weight revisions do not count", []kv{put(kZone, vZone, 7), put(kEU, vEU, 50), put(kEUWeight, "5", 60)}, 7},
		{"rejected name revision does not count", []kv{put(kZone, vZone, 7), put(kWWW, `{"regions":["eu-west"]}`, 40)}, 7},
		{"soa serial wins", []kv{
			put(kZone, `{"ns":[{"name":"ns.example.net"}],"soa":{"serial":2024010101}}`, 7),
			put(kApexTXT, vApexTXT, 30),
		}, 2024010101},
		{"soa serial wins even when lower", []kv{
			put(kZone, `{"ns":[{"name":"ns.example.net"}],"soa":{"serial":3}}`, 7),
			put(kApexTXT, vApexTXT, 30),
		}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(DefaultPrefix)
			apply(b, tc.ops)
			st, _ := b.State(100)
			z := st.Zones[testZone]
			if z == nil {
				t.Fatalf("zone missing; rejected %+v", st.Rejected)
			}
			if z.Serial != tc.want {
				t.Fatalf("Serial = %d, want %d", z.Serial, tc.want)
			}
		})
	}
}

// step is one batch of changes followed by a State call and its checks.
type step struct {
	name  string
	ops   []kv
	reset bool // call Reset before ops
	check func(t *testing.T, st *State, fresh []Rejection)
}

func runSteps(t *testing.T, b *Builder, steps []step) {
	t.Helper()
	for i, s := range steps {
		if s.reset {
			b.Reset()
		}
		apply(b, s.ops)
		st, fresh := b.State(int64(1000 + i))
		if !t.Run(s.name, func(t *testing.T) { s.check(t, st, fresh) }) {
			t.FailNow() // later steps depend on this one
		}
	}
}

// rejection returns the rejection of key, if any.
func rejection(rs []Rejection, key string) (Rejection, bool) {
	for _, r := range rs {
		if r.Key == key {
			return r, true
		}
	}
	return Rejection{}, false
}

func wantRejected(t *testing.T, rs []Rejection, key string, inForce bool, reason string) {
	t.Helper()
	r, ok := rejection(rs, key)
	if !ok {
		t.Fatalf("%s not rejected; rejections: %+v", key, rs)
	}
	if r.InForce != inForce {
		t.Errorf("%s: InForce = %v, want %v", key, r.InForce, inForce)
	}
	if !strings.Contains(r.Reason, reason) {
		t.Errorf("%s: Reason %q does not contain %q", key, r.Reason, reason)
	}
}

func wantNotRejected(t *testing.T, rs []Rejection, key string) {
	t.Helper()
	if r, ok := rejection(rs, key); ok {
		t.Fatalf("%s rejected: %+v", key, r)
	}
}

func wantCount(t *testing.T, what string, rs []Rejection, n int) {
	t.Helper()
	if len(rs) != n {
		t.Fatalf("%s: got %d rejections, want %d: %+v", what, len(rs), n, rs)
	}
}

func wantWeight(t *testing.T, st *State, region string, w int) {
	t.Helper()
	r := st.Regions[region]
	if r == nil {
		t.Fatalf("region %q missing", region)
	}
	if r.Weight != w {
		t.Errorf("region %q weight = %d, want %d", region, r.Weight, w)
	}
}

func wantName(t *testing.T, st *State, label string, present bool) {
	t.Helper()
	z := st.Zones[testZone]
	if z == nil {
		if present {
			t.Fatalf("zone missing, want name %q", label)
		}
		return
	}
	if got := z.Names[label] != nil; got != present {
		t.Fatalf("name %q present = %v, want %v; rejected: %+v", label, got, present, st.Rejected)
	}
}

func wantRecord(t *testing.T, st *State, label, rrtype string, present bool) {
	t.Helper()
	z := st.Zones[testZone]
	got := z != nil && z.Records[label][rrtype] != nil
	if got != present {
		t.Fatalf("record %s/%s present = %v, want %v; rejected: %+v", label, rrtype, got, present, st.Rejected)
	}
}

func TestBuilderScenarios(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"last good weight", []step{
			{name: "weight 50", ops: []kv{put(kEU, vEU, 1), put(kEUWeight, "50", 10)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantCount(t, "Rejected", st.Rejected, 0)
				wantWeight(t, st, "eu-west", 50)
			}},
			{name: "weight abc keeps 50", ops: []kv{put(kEUWeight, "abc", 11)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", 50)
				wantCount(t, "Rejected", st.Rejected, 1)
				wantRejected(t, st.Rejected, kEUWeight, true, `"abc"`)
				r, _ := rejection(st.Rejected, kEUWeight)
				if r.Kind != KindWeight || r.ModRevision != 11 {
					t.Errorf("rejection = %+v, want kind weight at revision 11", r)
				}
				wantCount(t, "fresh", fresh, 1)
				if fresh[0] != r {
					t.Errorf("fresh[0] = %+v, want %+v", fresh[0], r)
				}
			}},
			{name: "again: not new", check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", 50)
				wantRejected(t, st.Rejected, kEUWeight, true, `"abc"`)
				wantCount(t, "fresh", fresh, 0)
			}},
			{name: "same bad value re-put: not new", ops: []kv{put(kEUWeight, "abc", 12)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantRejected(t, st.Rejected, kEUWeight, true, `"abc"`)
				wantCount(t, "fresh", fresh, 0)
			}},
			{name: "new reason is new", ops: []kv{put(kEUWeight, "-5", 13)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", 50)
				wantRejected(t, fresh, kEUWeight, true, "-5")
				wantCount(t, "fresh", fresh, 1)
			}},
			{name: "fix to 60", ops: []kv{put(kEUWeight, "60", 14)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", 60)
				wantCount(t, "Rejected", st.Rejected, 0)
				wantCount(t, "fresh", fresh, 0)
			}},
			{name: "broken again is new again", ops: []kv{put(kEUWeight, "abc", 15)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", 60)
				wantCount(t, "fresh", fresh, 1)
			}},
			{name: "delete gives default", ops: []kv{del(kEUWeight)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", DefaultWeight)
				wantCount(t, "Rejected", st.Rejected, 0)
			}},
			{name: "bad after delete: no last good", ops: []kv{put(kEUWeight, "abc", 17)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", DefaultWeight)
				wantRejected(t, st.Rejected, kEUWeight, false, `"abc"`)
			}},
		}},

		{"weight never good", []step{
			{name: "abc first", ops: []kv{put(kEU, vEU, 1), put(kEUWeight, "abc", 2)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", DefaultWeight)
				wantRejected(t, st.Rejected, kEUWeight, false, `"abc"`)
				wantCount(t, "fresh", fresh, 1)
			}},
		}},

		{"weight before region", []step{
			{name: "weight alone", ops: []kv{put(kEUWeight, "7", 1)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				if len(st.Regions) != 0 {
					t.Fatalf("Regions = %v, want none", st.Regions)
				}
			}},
			{name: "region arrives", ops: []kv{put(kEU, vEU, 2)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", 7)
			}},
		}},

		{"name with missing region", []step{
			{name: "rejected", ops: []kv{put(kZone, vZone, 1), put(kEU, vEU, 2), put(kWWW, `{"regions":["eu-west","us-east"]}`, 3)},
				check: func(t *testing.T, st *State, fresh []Rejection) {
					wantName(t, st, "www", false)
					wantRejected(t, st.Rejected, kWWW, false, `"us-east"`)
					wantRejected(t, fresh, kWWW, false, `"us-east"`)
					r, _ := rejection(st.Rejected, kWWW)
					if r.Kind != KindName || r.ModRevision != 3 {
						t.Errorf("rejection = %+v, want kind name at revision 3", r)
					}
				}},
			{name: "region put: name appears", ops: []kv{put(kUS, vUS, 4)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantName(t, st, "www", true)
				wantCount(t, "Rejected", st.Rejected, 0)
				wantCount(t, "fresh", fresh, 0)
			}},
			{name: "bad region value after: name still served", ops: []kv{put(kUS, `{"lat":1000}`, 5)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantName(t, st, "www", true)
				wantRejected(t, st.Rejected, kUS, true, "lat")
				wantNotRejected(t, st.Rejected, kWWW)
			}},
		}},

		{"name without zone", []step{
			{name: "rejected", ops: []kv{put(kEU, vEU, 1), put(kWWW, `{"regions":["eu-west"]}`, 2), put(kApexTXT, vApexTXT, 3)},
				check: func(t *testing.T, st *State, fresh []Rejection) {
					if len(st.Zones) != 0 {
						t.Fatalf("Zones = %v, want none", st.Zones)
					}
					wantRejected(t, st.Rejected, kWWW, false, "zone")
					wantRejected(t, st.Rejected, kApexTXT, false, "zone")
					wantCount(t, "fresh", fresh, 2)
				}},
			{name: "zone put: both appear", ops: []kv{put(kZone, vZone, 4)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantName(t, st, "www", true)
				wantRecord(t, st, "@", "TXT", true)
				wantCount(t, "Rejected", st.Rejected, 0)
			}},
			{name: "invalid zone value keeps old zone", ops: []kv{put(kZone, `{"ns":[]}`, 5)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantRejected(t, st.Rejected, kZone, true, "ns")
				wantName(t, st, "www", true)
				wantRecord(t, st, "@", "TXT", true)
				if s := st.Zones[testZone].Serial; s != 4 {
					t.Errorf("Serial = %d, want 4 (revision of the zone value in force)", s)
				}
			}},
			{name: "zone deleted: name and record rejected", ops: []kv{del(kZone)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				if len(st.Zones) != 0 {
					t.Fatalf("Zones = %v, want none", st.Zones)
				}
				// InForce is wrong here: see TestBuilderInForceMeansServed.
				if r, ok := rejection(st.Rejected, kApexTXT); !ok || !strings.Contains(r.Reason, "zone") {
					t.Fatalf("%s: rejection %+v, %v; want one naming the zone", kApexTXT, r, ok)
				}
				if r, ok := rejection(st.Rejected, kWWW); !ok || !strings.Contains(r.Reason, "zone") {
					t.Fatalf("%s: rejection %+v, %v; want one naming the zone", kWWW, r, ok)
				}
			}},
		}},

		{"zone invalid from the start", []step{
			{name: "rejected, no zone", ops: []kv{put(kZone, `{"ns":[{"name":"ns1.gslb.example.com"}]}`, 1), put(kApexTXT, vApexTXT, 2)},
				check: func(t *testing.T, st *State, fresh []Rejection) {
					if len(st.Zones) != 0 {
						t.Fatalf("Zones = %v, want none", st.Zones)
					}
					wantRejected(t, st.Rejected, kZone, false, "glue")
					wantRejected(t, st.Rejected, kApexTXT, false, "zone")
				}},
		}},

		{"invalid region keeps old region", []step{
			{name: "good", ops: []kv{put(kZone, vZone, 1), put(kEU, vEU, 2), put(kEUWeight, "30", 3), put(kAPIEU, vAPIEU, 4)},
				check: func(t *testing.T, st *State, fresh []Rejection) {
					wantCount(t, "Rejected", st.Rejected, 0)
				}},
			{name: "bad JSON", ops: []kv{put(kEU, `{"lat": 10, "lon": 10, "addrs": ["192.0.2.1"],}`, 5)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				r := st.Regions["eu-west"]
				if r == nil || r.Region.Lat != 50.11 || r.Region.Lon != 8.68 {
					t.Fatalf("region = %+v, want the old coordinates", r)
				}
				wantWeight(t, st, "eu-west", 30)
				wantRejected(t, st.Rejected, kEU, true, "bad JSON")
				wantName(t, st, "api.eu", true)
			}},
			{name: "bad value", ops: []kv{put(kEU, `{"lat": 10, "lon": 10, "addrs": ["224.0.0.1"]}`, 6)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				if r := st.Regions["eu-west"]; r.Region.Lat != 50.11 {
					t.Fatalf("lat = %v, want 50.11", r.Region.Lat)
				}
				wantRejected(t, fresh, kEU, true, "unicast")
				wantName(t, st, "api.eu", true)
			}},
			{name: "fixed", ops: []kv{put(kEU, vEU2, 7)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				if r := st.Regions["eu-west"]; r.Region.Lat != 53.35 {
					t.Fatalf("lat = %v, want 53.35", r.Region.Lat)
				}
				wantWeight(t, st, "eu-west", 30)
				wantCount(t, "Rejected", st.Rejected, 0)
			}},
		}},

		{"record clashes", []step{
			{name: "CNAME with TXT at the same label", ops: []kv{
				put(kZone, vZone, 1),
				put(RecordKey(DefaultPrefix, testZone, "x", "CNAME"), vAliasCN, 2),
				put(RecordKey(DefaultPrefix, testZone, "x", "TXT"), vApexTXT, 3),
			}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantRecord(t, st, "x", "CNAME", false)
				wantRecord(t, st, "x", "TXT", true)
				wantRejected(t, st.Rejected, RecordKey(DefaultPrefix, testZone, "x", "CNAME"), false, "CNAME")
				wantNotRejected(t, st.Rejected, RecordKey(DefaultPrefix, testZone, "x", "TXT"))
				wantCount(t, "fresh", fresh, 1)
			}},
			{name: "TXT deleted: CNAME served", ops: []kv{del(RecordKey(DefaultPrefix, testZone, "x", "TXT"))}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantRecord(t, st, "x", "CNAME", true)
				wantCount(t, "Rejected", st.Rejected, 0)
			}},
		}},

		{"static A at a GSLB name", []step{
			{name: "A rejected, name kept", ops: []kv{
				put(kZone, vZone, 1), put(kEU, vEU, 2), put(kWWW, `{"regions":["eu-west"]}`, 3),
				put(RecordKey(DefaultPrefix, testZone, "www", "A"), vStaticA, 4),
				put(RecordKey(DefaultPrefix, testZone, "www", "AAAA"), `{"values":["2001:db8::80"]}`, 5),
				put(RecordKey(DefaultPrefix, testZone, "www", "TXT"), vApexTXT, 6),
			}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantName(t, st, "www", true)
				wantRecord(t, st, "www", "A", false)
				wantRecord(t, st, "www", "AAAA", false)
				wantRecord(t, st, "www", "TXT", true)
				wantRejected(t, st.Rejected, RecordKey(DefaultPrefix, testZone, "www", "A"), false, "clash")
				wantRejected(t, st.Rejected, RecordKey(DefaultPrefix, testZone, "www", "AAAA"), false, "clash")
				wantCount(t, "Rejected", st.Rejected, 2)
			}},
			{name: "name deleted: static A served", ops: []kv{del(kWWW)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantRecord(t, st, "www", "A", true)
				wantRecord(t, st, "www", "AAAA", true)
				wantCount(t, "Rejected", st.Rejected, 0)
			}},
		}},

		{"CNAME at a GSLB name", []step{
			{name: "CNAME rejected", ops: []kv{
				put(kZone, vZone, 1), put(kEU, vEU, 2), put(kWWW, `{"regions":["eu-west"]}`, 3),
				put(RecordKey(DefaultPrefix, testZone, "www", "CNAME"), vAliasCN, 4),
			}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantName(t, st, "www", true)
				wantRecord(t, st, "www", "CNAME", false)
				wantRejected(t, st.Rejected, RecordKey(DefaultPrefix, testZone, "www", "CNAME"), false, "GSLB")
			}},
		}},

		{"CNAME at the apex", []step{
			{name: "rejected", ops: []kv{put(kZone, vZone, 1), put(RecordKey(DefaultPrefix, testZone, "@", "CNAME"), vAliasCN, 2)},
				check: func(t *testing.T, st *State, fresh []Rejection) {
					wantRecord(t, st, "@", "CNAME", false)
					wantRejected(t, st.Rejected, RecordKey(DefaultPrefix, testZone, "@", "CNAME"), false, "apex")
				}},
		}},

		{"Reset drops keys not re-put", []step{
			{name: "full config", ops: fullConfig(), check: func(t *testing.T, st *State, fresh []Rejection) {
				wantCount(t, "Rejected", st.Rejected, 0)
			}},
			{name: "bad weight in force", ops: []kv{put(kEUWeight, "abc", 16), put(kUSWeight, "abc", 17)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", 50)
				wantWeight(t, st, "us-east", 0)
			}},
			{name: "re-list with some keys", reset: true, ops: []kv{
				put(kZone, vZone, 2), put(kEU, vEU, 3), put(kUS, vUS, 4), put(kWWW, `{"regions":["eu-west"]}`, 10),
				put(kUSWeight, "abc", 17),
			}, check: func(t *testing.T, st *State, fresh []Rejection) {
				if _, ok := st.Regions["ap-south"]; ok {
					t.Errorf("ap-south kept after re-list without it")
				}
				// eu-west's weight key is gone, so its last good value too.
				wantWeight(t, st, "eu-west", DefaultWeight)
				wantNotRejected(t, st.Rejected, kEUWeight)
				// us-east's bad weight was re-put: its last good value survives Reset.
				wantWeight(t, st, "us-east", 0)
				wantRejected(t, st.Rejected, kUSWeight, true, `"abc"`)
				wantCount(t, "fresh", fresh, 0)
				z := st.Zones[testZone]
				if len(z.Names) != 1 || z.Names["www"] == nil || len(z.Records) != 0 {
					t.Errorf("names %v records %v, want only www", z.Names, z.Records)
				}
				// Records deleted while nobody watched moved the zone on: the
				// serial is the re-list's revision, never back to 10.
				if int64(z.Serial) != st.Revision {
					t.Errorf("Serial = %d, want the re-list revision %d", z.Serial, st.Revision)
				}
			}},
			{name: "dropped key comes back bad: no last good", ops: []kv{put(kEUWeight, "abc", 20)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantWeight(t, st, "eu-west", DefaultWeight)
				wantRejected(t, st.Rejected, kEUWeight, false, `"abc"`)
			}},
		}},

		{"Reset then State with nothing", []step{
			{name: "full config", ops: fullConfig(), check: func(t *testing.T, st *State, fresh []Rejection) {}},
			{name: "empty", reset: true, check: func(t *testing.T, st *State, fresh []Rejection) {
				if len(st.Regions) != 0 || len(st.Zones) != 0 || len(st.Rejected) != 0 {
					t.Fatalf("state = %+v, want empty", st)
				}
			}},
			{name: "bad values after: nothing in force", ops: []kv{put(kEU, "{", 30), put(kZone, "{", 31)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantRejected(t, st.Rejected, kEU, false, "bad JSON")
				wantRejected(t, st.Rejected, kZone, false, "bad JSON")
				if len(st.Regions) != 0 || len(st.Zones) != 0 {
					t.Fatalf("state = %+v, want empty", st)
				}
			}},
		}},

		{"unknown and malformed keys", []step{
			{name: "listed, not in force", ops: []kv{
				put("/glb/foo/bar", "x", 1),
				put("/glb/regions/EU", vEU, 2),
				put("/glb/zones/Example.com", vZone, 3),
				put("/other/regions/eu", vEU, 4),
				put("/glb/zones/gslb.example.com/records/www/NS", `{"values":["ns.example.net"]}`, 5),
			}, check: func(t *testing.T, st *State, fresh []Rejection) {
				for _, k := range []string{"/glb/foo/bar", "/glb/regions/EU", "/glb/zones/Example.com", "/other/regions/eu",
					"/glb/zones/gslb.example.com/records/www/NS"} {
					wantRejected(t, st.Rejected, k, false, "")
				}
				wantCount(t, "Rejected", st.Rejected, 5)
				wantCount(t, "fresh", fresh, 5)
				if len(st.Regions) != 0 || len(st.Zones) != 0 {
					t.Fatalf("state = %+v, want no config", st)
				}
				if !slices.IsSortedFunc(st.Rejected, func(a, b Rejection) int { return strings.Compare(a.Key, b.Key) }) {
					t.Errorf("Rejected not sorted by key: %+v", st.Rejected)
				}
				if r, _ := rejection(st.Rejected, "/glb/foo/bar"); r.Kind != KindUnknown || r.ModRevision != 1 {
					t.Errorf("rejection = %+v, want kind unknown at revision 1", r)
				}
			}},
			{name: "deleted: gone", ops: []kv{del("/glb/foo/bar")}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantNotRejected(t, st.Rejected, "/glb/foo/bar")
				wantCount(t, "Rejected", st.Rejected, 4)
				wantCount(t, "fresh", fresh, 0)
			}},
		}},

		{"prober and health keys", []step{
			{name: "live part, invalid ones rejected", ops: []kv{
				put("/glb/probers/fra-1", `{"lat": 50, "lon": 8, "version": "1"}`, 1),
				put("/glb/probers/fra-2", `not even json`, 2),
				put("/glb/health/eu-west/2001:db8::10/fra-1", `{"up": true, "rtt": "12ms", "time": "2026-11-26T12:00:00Z"}`, 3),
				put("/glb/health/eu-west/192.0.2.10/fra-2", `garbage`, 4),
			}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantRejected(t, st.Rejected, "/glb/probers/fra-2", false, "bad JSON")
				wantRejected(t, st.Rejected, "/glb/health/eu-west/192.0.2.10/fra-2", false, "bad JSON")
				wantCount(t, "Rejected", st.Rejected, 2)
				if len(st.Regions) != 0 || len(st.Zones) != 0 {
					t.Fatalf("state = %+v, want no config", st)
				}
				if st.Probers["fra-1"] == nil || len(st.Probers) != 1 {
					t.Errorf("probers = %v, want fra-1", st.Probers)
				}
				if r := st.Health["eu-west"]["2001:db8::10"]["fra-1"]; r == nil || !r.Up || time.Duration(r.RTT) != 12*time.Millisecond {
					t.Errorf("health report = %+v", r)
				}
			}},
			{name: "live change keeps the configuration maps", ops: []kv{
				put("/glb/health/eu-west/2001:db8::10/fra-1", `{"up": false, "time": "2026-11-26T12:00:05Z"}`, 6),
			}, check: func(t *testing.T, st *State, fresh []Rejection) {
				if st.ConfigRevision == st.Revision {
					t.Errorf("ConfigRevision %d moved with a health-only change", st.ConfigRevision)
				}
				if st.Health["eu-west"]["2001:db8::10"]["fra-1"].Up {
					t.Errorf("health report not updated")
				}
			}},
			{name: "malformed prober key is rejected", ops: []kv{put("/glb/probers/FRA", `{}`, 5)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				wantRejected(t, st.Rejected, "/glb/probers/FRA", false, "prober id")
			}},
		}},

		{"failed cross check keeps last good name", []step{
			{name: "good", ops: []kv{put(kZone, vZone, 1), put(kEU, vEU, 2), put(kWWW, `{"regions":["eu-west"]}`, 3)},
				check: func(t *testing.T, st *State, fresh []Rejection) { wantName(t, st, "www", true) }},
			{name: "new value names a missing region", ops: []kv{put(kWWW, `{"regions":["eu-west","us-east"]}`, 4)},
				check: func(t *testing.T, st *State, fresh []Rejection) {
					wantName(t, st, "www", true)
					if got := st.Zones[testZone].Names["www"].Regions; !slices.Equal(got, []string{"eu-west"}) {
						t.Errorf("regions = %v, want the last good [eu-west]", got)
					}
					wantRejected(t, st.Rejected, kWWW, true, `"us-east"`)
				}},
			{name: "region appears: new value used", ops: []kv{put(kUS, vUS, 5)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				if got := st.Zones[testZone].Names["www"].Regions; !slices.Equal(got, []string{"eu-west", "us-east"}) {
					t.Errorf("regions = %v, want [eu-west us-east]", got)
				}
				wantCount(t, "Rejected", st.Rejected, 0)
			}},
		}},

		{"invalid record keeps last good", []step{
			{name: "good", ops: []kv{put(kZone, vZone, 1), put(kStaticA, vStaticA, 2)},
				check: func(t *testing.T, st *State, fresh []Rejection) { wantRecord(t, st, "static", "A", true) }},
			{name: "IPv6 in A", ops: []kv{put(kStaticA, `{"values":["2001:db8::1"]}`, 3)}, check: func(t *testing.T, st *State, fresh []Rejection) {
				if got := st.Zones[testZone].Records["static"]["A"].Values; !slices.Equal(got, []string{"192.0.2.80"}) {
					t.Errorf("values = %v, want the last good", got)
				}
				wantRejected(t, st.Rejected, kStaticA, true, "IPv4")
				if s := st.Zones[testZone].Serial; s != 2 {
					t.Errorf("Serial = %d, want 2: the refused value changes nothing served", s)
				}
			}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, NewBuilder(DefaultPrefix), tc.steps)
		})
	}
}

func TestBuilderStatesAreIndependent(t *testing.T) {
	b := NewBuilder(DefaultPrefix)
	apply(b, fullConfig())
	old, _ := b.State(20)

	apply(b, []kv{
		put(kEUWeight, "70", 21),
		put(kEU, vEU2, 22),
		del(kAP),
		put(kWWW, `{"regions":["eu-west"]}`, 23),
		del(kAPIEU),
		put(kApexTXT, `{"values":["changed"]}`, 24),
		put(RecordKey(DefaultPrefix, testZone, "static", "TXT"), vApexTXT, 25),
		del(kAliasCN),
		put("/glb/foo", "x", 26),
	})
	cur, _ := b.State(30)

	tests := []struct {
		name     string
		old, cur any
	}{
		{"revision", old.Revision, cur.Revision},
		{"eu-west weight", old.Regions["eu-west"].Weight, cur.Regions["eu-west"].Weight},
		{"eu-west lat", old.Regions["eu-west"].Region.Lat, cur.Regions["eu-west"].Region.Lat},
		{"region count", len(old.Regions), len(cur.Regions)},
		{"www regions", len(old.Zones[testZone].Names["www"].Regions), len(cur.Zones[testZone].Names["www"].Regions)},
		{"name count", len(old.Zones[testZone].Names), len(cur.Zones[testZone].Names)},
		{"apex TXT", old.Zones[testZone].Records["@"]["TXT"].Values[0], cur.Zones[testZone].Records["@"]["TXT"].Values[0]},
		{"static types", len(old.Zones[testZone].Records["static"]), len(cur.Zones[testZone].Records["static"])},
		{"record labels", len(old.Zones[testZone].Records), len(cur.Zones[testZone].Records)},
		{"serial", old.Zones[testZone].Serial, cur.Zones[testZone].Serial},
		{"rejected", len(old.Rejected), len(cur.Rejected)},
	}
	want := []any{int64(20), 50, 50.11, 3, 3, 2, "v=spf1 -all", 1, 3, uint32(15), 0}
	wantCur := []any{int64(30), 70, 53.35, 2, 1, 1, "changed", 2, 2, uint32(25), 1}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.old != want[i] {
				t.Errorf("old state changed: %v, want %v", tc.old, want[i])
			}
			if tc.cur != wantCur[i] {
				t.Errorf("new state: %v, want %v", tc.cur, wantCur[i])
			}
		})
	}
}

func TestBuilderCustomPrefix(t *testing.T) {
	const p = "/prod/glb/"
	b := NewBuilder(p)
	b.Put(ZoneKey(p, testZone), []byte(vZone), 1)
	b.Put(RegionKey(p, "eu-west"), []byte(vEU), 2)
	b.Put(NameKey(p, testZone, "www"), []byte(`{"regions":["eu-west"]}`), 3)
	b.Put(RegionKey(DefaultPrefix, "us-east"), []byte(vUS), 4)
	st, _ := b.State(5)
	tests := []struct {
		name string
		ok   bool
	}{
		{"zone under prefix", st.Zones[testZone] != nil},
		{"name under prefix", st.Zones[testZone] != nil && st.Zones[testZone].Names["www"] != nil},
		{"region outside prefix ignored", st.Regions["us-east"] == nil},
		{"region outside prefix rejected", len(st.Rejected) == 1 && st.Rejected[0].Key == RegionKey(DefaultPrefix, "us-east")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Fatalf("state %+v, rejected %+v", st, st.Rejected)
			}
		})
	}
}

// TestBuilderInForceMeansServed checks that Rejection.InForce ("an earlier
// good value of the key is still served") is true only when that value is in
// the State. When the last good value itself fails the cross-key checks (its
// region or zone is gone), nothing is served, yet InForce is reported true.
func TestBuilderInForceMeansServed(t *testing.T) {

	tests := []struct {
		name   string
		before []kv // State is taken after these: all good
		after  []kv // then these
		key    string
		served func(st *State) bool
	}{
		{
			name:   "name whose region is deleted",
			before: []kv{put(kZone, vZone, 1), put(kEU, vEU, 2), put(kWWW, `{"regions":["eu-west"]}`, 3)},
			after:  []kv{del(kEU)},
			key:    kWWW,
			served: func(st *State) bool { return st.Zones[testZone].Names["www"] != nil },
		},
		{
			name:   "invalid name whose region is deleted",
			before: []kv{put(kZone, vZone, 1), put(kEU, vEU, 2), put(kWWW, `{"regions":["eu-west"]}`, 3)},
			after:  []kv{put(kWWW, `{"regions":[]}`, 4), del(kEU)},
			key:    kWWW,
			served: func(st *State) bool { return st.Zones[testZone].Names["www"] != nil },
		},
		{
			name:   "record whose zone is deleted",
			before: []kv{put(kZone, vZone, 1), put(kApexTXT, vApexTXT, 2)},
			after:  []kv{del(kZone)},
			key:    kApexTXT,
			served: func(st *State) bool {
				return st.Zones[testZone] != nil && st.Zones[testZone].Records["@"]["TXT"] != nil
			},
		},
		{
			name:   "name whose zone is deleted",
			before: []kv{put(kZone, vZone, 1), put(kEU, vEU, 2), put(kWWW, `{"regions":["eu-west"]}`, 3)},
			after:  []kv{del(kZone)},
			key:    kWWW,
			served: func(st *State) bool { return st.Zones[testZone] != nil && st.Zones[testZone].Names["www"] != nil },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(DefaultPrefix)
			apply(b, tc.before)
			if st, _ := b.State(10); len(st.Rejected) != 0 {
				t.Fatalf("setup rejected: %+v", st.Rejected)
			}
			apply(b, tc.after)
			st, _ := b.State(11)
			r, ok := rejection(st.Rejected, tc.key)
			if !ok {
				t.Fatalf("%s not rejected: %+v", tc.key, st.Rejected)
			}
			if served := tc.served(st); r.InForce != served {
				t.Fatalf("%s: InForce = %v but served = %v (rejection %+v)", tc.key, r.InForce, served, r)
			}
		})
	}
}

// TestBuilderSerialNeverDecreases checks that a zone's default SOA serial
// does not go backwards when the zone's content changes. Deleting the key
// with the highest mod revision lowers "the highest mod revision of the
// zone's keys", so the serial drops although the zone changed.
func TestBuilderSerialNeverDecreases(t *testing.T) {

	tests := []struct {
		name  string
		extra []kv // put after the full config
		del   string
	}{
		{name: "newest record deleted", del: kAliasCN},
		{name: "newest name deleted", extra: []kv{put(kWWW, vWWW, 16)}, del: kWWW},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(DefaultPrefix)
			apply(b, fullConfig())
			apply(b, tc.extra)
			st, _ := b.State(20)
			before := st.Zones[testZone].Serial
			b.Delete(tc.del, 99)
			st, _ = b.State(21)
			if after := st.Zones[testZone].Serial; after < before {
				t.Fatalf("Serial went from %d to %d after deleting %s", before, after, tc.del)
			}
		})
	}
}
