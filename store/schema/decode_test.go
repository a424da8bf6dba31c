package schema

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Keys used by the decode tests, one per kind.
var (
	regionKey = Key{Kind: KindRegion, Region: "eu-west"}
	weightKey = Key{Kind: KindWeight, Region: "eu-west"}
	zoneKey   = Key{Kind: KindZone, Zone: "gslb.example.com"}
	nameKey   = Key{Kind: KindName, Zone: "gslb.example.com", Label: "www"}
)

func recordKey(rrtype string) Key {
	return Key{Kind: KindRecord, Zone: "gslb.example.com", Label: "www", Type: rrtype}
}

func TestDecodeInvalid(t *testing.T) {
	long := strings.Repeat("x", 4001)
	tests := []struct {
		name    string
		key     Key
		value   string
		wantMsg string // substring of the error: usually the offending field
	}{
		// Any kind.
		{"value larger than MaxValueBytes", regionKey, `{"lat":1,"lon":1,"addrs":["192.0.2.1"]}` + strings.Repeat(" ", MaxValueBytes), "larger than"},
		{"weight larger than MaxValueBytes", weightKey, strings.Repeat(" ", MaxValueBytes) + "5", "larger than"},
		{"unknown kind", Key{}, `{}`, "no decoder"},

		// Region: JSON shape.
		{"region bad JSON", regionKey, `{"lat": 50,`, "bad JSON"},
		{"region empty value", regionKey, ``, "bad JSON"},
		{"region not an object", regionKey, `[1,2]`, "bad JSON"},
		{"region trailing garbage", regionKey, `{"lat":1,"lon":1,"addrs":["192.0.2.1"]} x`, "trailing data"},
		{"region trailing second object", regionKey, `{"lat":1,"lon":1,"addrs":["192.0.2.1"]}{}`, "trailing data"},
		{"region trailing brace", regionKey, `{"lat":1,"lon":1,"addrs":["192.0.2.1"]}}`, "trailing data"},
		{"region lat as string", regionKey, `{"lat":"50","lon":8,"addrs":["192.0.2.1"]}`, "lat"},
		{"region addrs as string", regionKey, `{"lat":50,"lon":8,"addrs":"192.0.2.1"}`, "addrs"},
		{"region unknown field", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"wieght":5}`, "wieght"},
		{"region null", regionKey, `null`, "addrs"},
		// Region: values.
		{"region lat 90.5", regionKey, `{"lat":90.5,"lon":8,"addrs":["192.0.2.1"]}`, "lat"},
		{"region lat -91", regionKey, `{"lat":-91,"lon":8,"addrs":["192.0.2.1"]}`, "lat"},
		{"region lon 180.1", regionKey, `{"lat":50,"lon":180.1,"addrs":["192.0.2.1"]}`, "lon"},
		{"region lon -200", regionKey, `{"lat":50,"lon":-200,"addrs":["192.0.2.1"]}`, "lon"},
		{"region lat 1e400 overflows", regionKey, `{"lat":1e400,"lon":8,"addrs":["192.0.2.1"]}`, "lat"},
		{"region no addrs", regionKey, `{"lat":50,"lon":8}`, "addrs"},
		{"region empty addrs", regionKey, `{"lat":50,"lon":8,"addrs":[]}`, "addrs"},
		{"region invalid address", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.300"]}`, "192.0.2.300"},
		{"region host name as address", regionKey, `{"lat":50,"lon":8,"addrs":["lb.example.com"]}`, "lb.example.com"},
		{"region empty address", regionKey, `{"lat":50,"lon":8,"addrs":[""]}`, "addrs[0]"},
		{"region duplicate address", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1","192.0.2.1"]}`, "addrs[1]"},
		{"region duplicate IPv6 different spelling", regionKey, `{"lat":50,"lon":8,"addrs":["2001:db8::10","2001:DB8:0::10"]}`, "listed twice"},
		{"region IPv4-mapped IPv6", regionKey, `{"lat":50,"lon":8,"addrs":["::ffff:192.0.2.1"]}`, "IPv4-mapped"},
		{"region zoned IPv6", regionKey, `{"lat":50,"lon":8,"addrs":["fe80::1%eth0"]}`, "zoned"},
		{"region IPv4 unspecified", regionKey, `{"lat":50,"lon":8,"addrs":["0.0.0.0"]}`, "unicast"},
		{"region IPv6 unspecified", regionKey, `{"lat":50,"lon":8,"addrs":["::"]}`, "unicast"},
		{"region IPv4 multicast", regionKey, `{"lat":50,"lon":8,"addrs":["224.0.0.1"]}`, "unicast"},
		{"region IPv6 multicast", regionKey, `{"lat":50,"lon":8,"addrs":["ff02::1"]}`, "unicast"},
		{"region country lower case", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"country":"gb"}`, "country"},
		{"region country three letters", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"country":"GBR"}`, "country"},
		{"region continent lower case", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"continent":"eu"}`, "continent"},

		// Region: check spec.
		{"check type icmp", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"icmp"}}`, "type"},
		{"check type missing", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{}}`, "type"},
		{"check type upper case", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"HTTP"}}`, "type"},
		{"check unknown field", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","timout":"1s"}}`, "timout"},
		{"check port 70000", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","port":70000}}`, "port"},
		{"check port negative", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","port":-1}}`, "port"},
		{"check tcp without port", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"tcp"}}`, "port"},
		{"check path without slash", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","path":"healthz"}}`, "path"},
		{"check interval negative", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","interval":"-1s"}}`, "interval"},
		{"check interval below 1s", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","interval":"500ms"}}`, "interval"},
		{"check interval above 1h", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","interval":"61m"}}`, "interval"},
		{"check interval as number", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","interval":5}}`, "duration"},
		{"check interval without unit", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","interval":"5"}}`, "duration"},
		{"check timeout above interval", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","interval":"5s","timeout":"6s"}}`, "timeout"},
		{"check timeout above default interval", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","timeout":"10s"}}`, "timeout"},
		{"check timeout negative", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","timeout":"-1s"}}`, "timeout"},
		{"check rise 101", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","rise":101}}`, "rise"},
		{"check rise negative", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","rise":-1}}`, "rise"},
		{"check fall 101", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","fall":101}}`, "fall"},
		{"check expect_status 600", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","expect_status":"600"}}`, "expect_status"},
		{"check expect_status 99", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","expect_status":"99"}}`, "expect_status"},
		{"check expect_status abc", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"https","expect_status":"abc"}}`, "expect_status"},
		{"check expect_status reversed range", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","expect_status":"399-200"}}`, "expect_status"},
		{"check expect_status open range", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","expect_status":"200-"}}`, "expect_status"},
		{"check expect_status as number", regionKey, `{"lat":50,"lon":8,"addrs":["192.0.2.1"],"check":{"type":"http","expect_status":200}}`, "expect_status"},

		// Weight.
		{"weight abc", weightKey, "abc", "abc"},
		{"weight negative", weightKey, "-5", "-5"},
		{"weight 5000", weightKey, "5000", "5000"},
		{"weight 1001", weightKey, "1001", "1001"},
		{"weight fraction", weightKey, "1.5", "1.5"},
		{"weight empty", weightKey, "", "weight"},
		{"weight blank", weightKey, " \n", "weight"},
		{"weight JSON number string", weightKey, `"5"`, "weight"},
		{"weight two numbers", weightKey, "5 6", "weight"},
		{"weight hex", weightKey, "0x10", "weight"},
		{"weight huge", weightKey, "99999999999999999999", "weight"},

		// Zone.
		{"zone bad JSON", zoneKey, `{"ns":`, "bad JSON"},
		{"zone unknown field", zoneKey, `{"ns":[{"name":"ns1.example.net"}],"tll":30}`, "tll"},
		{"zone unknown ns field", zoneKey, `{"ns":[{"name":"ns1.example.net","glue":["192.0.2.1"]}]}`, "glue"},
		{"zone no ns", zoneKey, `{}`, "ns"},
		{"zone empty ns", zoneKey, `{"ns":[]}`, "ns"},
		{"zone ns empty name", zoneKey, `{"ns":[{"name":""}]}`, "ns[0].name"},
		{"zone ns bad name", zoneKey, `{"ns":[{"name":"ns 1.example.net"}]}`, "ns[0].name"},
		{"zone in-zone ns without glue", zoneKey, `{"ns":[{"name":"ns1.gslb.example.com"}]}`, "glue"},
		{"zone apex ns without glue", zoneKey, `{"ns":[{"name":"gslb.example.com."}]}`, "glue"},
		{"zone out-of-zone ns with glue", zoneKey, `{"ns":[{"name":"ns1.example.net","addrs":["192.0.2.1"]}]}`, "outside the zone"},
		{"zone duplicate ns", zoneKey, `{"ns":[{"name":"ns1.example.net"},{"name":"NS1.example.net."}]}`, "listed twice"},
		{"zone glue unspecified", zoneKey, `{"ns":[{"name":"ns1.gslb.example.com","addrs":["0.0.0.0"]}]}`, "ns[0].addrs[0]"},
		{"zone glue IPv4-mapped", zoneKey, `{"ns":[{"name":"ns1.gslb.example.com","addrs":["::ffff:192.0.2.1"]}]}`, "ns[0].addrs[0]"},
		{"zone contact dot before @", zoneKey, `{"ns":[{"name":"ns1.example.net"}],"contact":"host.master@example.com"}`, "contact"},
		{"zone contact empty local part", zoneKey, `{"ns":[{"name":"ns1.example.net"}],"contact":"@example.com"}`, "contact"},
		{"zone contact bad domain", zoneKey, `{"ns":[{"name":"ns1.example.net"}],"contact":"hostmaster@exa mple.com"}`, "contact"},
		{"zone ttl 100000", zoneKey, `{"ns":[{"name":"ns1.example.net"}],"ttl":100000}`, "ttl"},
		{"zone ttl negative", zoneKey, `{"ns":[{"name":"ns1.example.net"}],"ttl":-1}`, "ttl"},
		{"zone soa ttl too big", zoneKey, `{"ns":[{"name":"ns1.example.net"}],"soa":{"ttl":86401}}`, "soa.ttl"},
		{"zone soa minimum too big", zoneKey, `{"ns":[{"name":"ns1.example.net"}],"soa":{"minimum":86401}}`, "soa.minimum"},
		{"zone soa unknown field", zoneKey, `{"ns":[{"name":"ns1.example.net"}],"soa":{"serail":5}}`, "serail"},

		// Name.
		{"name bad JSON", nameKey, `{"regions":["eu"]`, "bad JSON"},
		{"name unknown field", nameKey, `{"regions":["eu"],"polcy":"geo"}`, "polcy"},
		{"name regions as string", nameKey, `{"regions":"eu"}`, "regions"},
		{"name no regions", nameKey, `{}`, "regions"},
		{"name empty regions", nameKey, `{"regions":[]}`, "regions"},
		{"name duplicate region", nameKey, `{"regions":["eu","us","eu"]}`, "regions[2]"},
		{"name bad region id", nameKey, `{"regions":["EU"]}`, "regions[0]"},
		{"name too many regions", nameKey, `{"regions":[` + manyRegions(MaxNameRegions+1) + `]}`, "regions"},
		{"name policy unknown", nameKey, `{"regions":["eu"],"policy":"nearest-ish"}`, "nearest-ish"},
		{"name policy upper case", nameKey, `{"regions":["eu"],"policy":"GEO"}`, "policy"},
		{"name answers 17", nameKey, `{"regions":["eu"],"answers":17}`, "answers"},
		{"name answers -1", nameKey, `{"regions":["eu"],"answers":-1}`, "answers"},
		{"name ttl 86401", nameKey, `{"regions":["eu"],"ttl":86401}`, "ttl"},

		// Record.
		{"record bad JSON", recordKey("A"), `{"values":["192.0.2.1"]`, "bad JSON"},
		{"record unknown field", recordKey("A"), `{"values":["192.0.2.1"],"value":"192.0.2.2"}`, "value"},
		{"record no values", recordKey("A"), `{}`, "values"},
		{"record empty values", recordKey("TXT"), `{"values":[]}`, "values"},
		{"record duplicate values", recordKey("A"), `{"values":["192.0.2.1","192.0.2.1"]}`, "values[1]"},
		{"record too many values", recordKey("TXT"), `{"values":[` + manyRegions(MaxRecordValues+1) + `]}`, "values"},
		{"record ttl 86401", recordKey("A"), `{"ttl":86401,"values":["192.0.2.1"]}`, "ttl"},
		{"record unsupported type", recordKey("NS"), `{"values":["ns1.example.net."]}`, "not supported"},
		{"A with IPv6", recordKey("A"), `{"values":["2001:db8::1"]}`, "values[0]"},
		{"A with IPv4-mapped", recordKey("A"), `{"values":["::ffff:192.0.2.1"]}`, "values[0]"},
		{"A with name", recordKey("A"), `{"values":["www.example.com"]}`, "values[0]"},
		{"AAAA with IPv4", recordKey("AAAA"), `{"values":["192.0.2.1"]}`, "values[0]"},
		{"AAAA with IPv4-mapped", recordKey("AAAA"), `{"values":["::ffff:192.0.2.1"]}`, "values[0]"},
		{"AAAA with zone", recordKey("AAAA"), `{"values":["fe80::1%eth0"]}`, "values[0]"},
		{"CNAME with two values", recordKey("CNAME"), `{"values":["a.example.net.","b.example.net."]}`, "exactly one"},
		{"CNAME bad target", recordKey("CNAME"), `{"values":["a b.example.net."]}`, "target"},
		{"CNAME root target", recordKey("CNAME"), `{"values":["."]}`, "target"},
		{"PTR bad target", recordKey("PTR"), `{"values":["-host.example.net."]}`, "target"},
		{"MX bad preference", recordKey("MX"), `{"values":["x mail.example."]}`, "preference"},
		{"MX preference too big", recordKey("MX"), `{"values":["65536 mail.example."]}`, "preference"},
		{"MX one field", recordKey("MX"), `{"values":["mail.example."]}`, "preference"},
		{"MX bad host", recordKey("MX"), `{"values":["10 mail..example."]}`, "target"},
		{"SRV three fields", recordKey("SRV"), `{"values":["10 5 5060"]}`, "priority"},
		{"SRV bad port", recordKey("SRV"), `{"values":["10 5 70000 sip.example.net."]}`, "port"},
		{"SRV bad weight", recordKey("SRV"), `{"values":["10 -5 5060 sip.example.net."]}`, "weight"},
		{"CAA bad flags", recordKey("CAA"), `{"values":["x issue \"letsencrypt.org\""]}`, "flags"},
		{"CAA flags 256", recordKey("CAA"), `{"values":["256 issue \"letsencrypt.org\""]}`, "flags"},
		{"CAA two fields", recordKey("CAA"), `{"values":["0 issue"]}`, "flags"},
		{"CAA upper-case tag", recordKey("CAA"), `{"values":["0 ISSUE \"letsencrypt.org\""]}`, "tag"},
		{"CAA quote inside value", recordKey("CAA"), `{"values":["0 issue \"lets\"encrypt.org\""]}`, "quotes"},
		{"TXT longer than 4000", recordKey("TXT"), `{"values":["` + long + `"]}`, "4000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Decode(tc.key, []byte(tc.value))
			if err == nil {
				t.Fatalf("Decode(%s, %.80q) = %#v, want error", tc.key.Kind, tc.value, v)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Decode(%s, %.80q) error %q does not contain %q", tc.key.Kind, tc.value, err, tc.wantMsg)
			}
		})
	}
}

// manyRegions returns n distinct, valid, quoted region ids separated by commas.
func manyRegions(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = `"r` + strings.Repeat("x", i%10) + string(rune('a'+i%26)) + strconv.Itoa(i) + `"`
	}
	return strings.Join(ids, ",")
}

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name  string
		key   Key
		value string
		want  any
	}{
		{"weight 42 with white space", weightKey, " 42\n", 42},
		{"weight 0 drains", weightKey, "0", 0},
		{"weight 1000", weightKey, "1000", 1000},
		{"weight leading zeros", weightKey, "007", 7},
		{"region IPv4 and IPv6", regionKey,
			`{"lat": 50.11, "lon": 8.68, "addrs": ["192.0.2.10", "2001:db8::10"]}`,
			&Region{Lat: 50.11, Lon: 8.68, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}}},
		{"region edges of the globe", regionKey,
			`{"lat": -90, "lon": 180, "addrs": ["198.51.100.1"]}`,
			&Region{Lat: -90, Lon: 180, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.1")}}},
		{"region geofence codes", regionKey,
			`{"lat": 51.5, "lon": -0.1, "addrs": ["192.0.2.1"], "country": "GB", "continent": "EU"}`,
			&Region{Lat: 51.5, Lon: -0.1, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Country: "GB", Continent: "EU"}},
		{"region trailing white space", regionKey,
			"{\"lat\": 1, \"lon\": 2, \"addrs\": [\"192.0.2.1\"]}\n\t ",
			&Region{Lat: 1, Lon: 2, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}},
		{"region full check", regionKey,
			`{"lat": 1, "lon": 2, "addrs": ["192.0.2.1"], "check": {"type": "https", "port": 8443, "path": "/healthz", "host": "lb.example.com",
			  "expect_status": "200", "expect_body": "ok", "insecure_skip_verify": true, "interval": "10s", "timeout": "1500ms", "rise": 1, "fall": 100}}`,
			&Region{Lat: 1, Lon: 2, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Check: &Check{
				Type: "https", Port: 8443, Path: "/healthz", Host: "lb.example.com", ExpectStatus: "200", ExpectBody: "ok",
				Insecure: true, Interval: Duration(10 * time.Second), Timeout: Duration(1500 * time.Millisecond), Rise: 1, Fall: 100}}},
		{"region rise 0 means default", regionKey,
			`{"lat": 1, "lon": 2, "addrs": ["192.0.2.1"], "check": {"type": "http", "rise": 0, "fall": 0}}`,
			&Region{Lat: 1, Lon: 2, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Check: &Check{Type: "http"}}},
		{"region tcp check with port", regionKey,
			`{"lat": 1, "lon": 2, "addrs": ["192.0.2.1"], "check": {"type": "tcp", "port": 443}}`,
			&Region{Lat: 1, Lon: 2, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Check: &Check{Type: "tcp", Port: 443}}},
		{"region check interval 1s takes timeout 1s", regionKey,
			`{"lat": 1, "lon": 2, "addrs": ["192.0.2.1"], "check": {"type": "http", "interval": "1s"}}`,
			&Region{Lat: 1, Lon: 2, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Check: &Check{Type: "http", Interval: Duration(time.Second)}}},
		{"zone out-of-zone ns", zoneKey,
			`{"ns": [{"name": "ns1.example.net."}, {"name": "ns2.example.org"}]}`,
			&Zone{NS: []NameServer{{Name: "ns1.example.net."}, {Name: "ns2.example.org"}}}},
		{"zone in-zone ns with glue and options", zoneKey,
			`{"ns": [{"name": "ns1.gslb.example.com", "addrs": ["192.0.2.53", "2001:db8::53"]}, {"name": "ns.example.net"}],
			  "contact": "hostmaster@example.com", "ttl": 60, "soa": {"serial": 2024010101, "ttl": 7200, "refresh": 1, "retry": 2, "expire": 3, "minimum": 60}}`,
			&Zone{NS: []NameServer{
				{Name: "ns1.gslb.example.com", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}},
				{Name: "ns.example.net"}},
				Contact: "hostmaster@example.com", TTL: 60,
				SOA: SOATimers{Serial: 2024010101, TTL: 7200, Refresh: 1, Retry: 2, Expire: 3, Minimum: 60}}},
		{"zone contact in RNAME form", zoneKey,
			`{"ns": [{"name": "ns1.example.net"}], "contact": "hostmaster.example.com."}`,
			&Zone{NS: []NameServer{{Name: "ns1.example.net"}}, Contact: "hostmaster.example.com."}},
		{"name minimal", nameKey, `{"regions": ["eu-west"]}`, &Name{Regions: []string{"eu-west"}}},
		{"name full", nameKey, `{"regions": ["us-east", "eu-west"], "policy": "geo", "ttl": 30, "answers": 16}`,
			&Name{Regions: []string{"us-east", "eu-west"}, Policy: "geo", TTL: 30, Answers: 16}},
		{"name max regions", nameKey, `{"regions": [` + manyRegions(MaxNameRegions) + `]}`, nil},
		{"record A", recordKey("A"), `{"values": ["192.0.2.1", "192.0.2.2"]}`, &Record{Values: []string{"192.0.2.1", "192.0.2.2"}}},
		{"record AAAA with ttl", recordKey("AAAA"), `{"ttl": 60, "values": ["2001:db8::1"]}`, &Record{TTL: 60, Values: []string{"2001:db8::1"}}},
		{"record CNAME", recordKey("CNAME"), `{"values": ["lb.example.net."]}`, &Record{Values: []string{"lb.example.net."}}},
		{"record PTR", recordKey("PTR"), `{"values": ["host.example.net"]}`, &Record{Values: []string{"host.example.net"}}},
		{"record MX", recordKey("MX"), `{"values": ["10 mx1.example.net.", "20 mx2.example.net."]}`, &Record{Values: []string{"10 mx1.example.net.", "20 mx2.example.net."}}},
		{"record SRV", recordKey("SRV"), `{"values": ["10 5 5060 sip.example.net."]}`, &Record{Values: []string{"10 5 5060 sip.example.net."}}},
		{"record TXT", recordKey("TXT"), `{"values": ["v=spf1 -all", ""]}`, &Record{Values: []string{"v=spf1 -all", ""}}},
		{"record TXT 4000 bytes", recordKey("TXT"), `{"values": ["` + strings.Repeat("y", 4000) + `"]}`, nil},
		{"record CAA", recordKey("CAA"), `{"values": ["0 issue \"letsencrypt.org\"", "128 iodef \"mailto:sec@example.com\""]}`,
			&Record{Values: []string{`0 issue "letsencrypt.org"`, `128 iodef "mailto:sec@example.com"`}}},
		{"prober", Key{Kind: KindProber, Prober: "p1"}, `{"lat": 50.1, "lon": 8.7, "country": "DE", "version": "1"}`,
			&ProberInfo{Lat: 50.1, Lon: 8.7, Country: "DE", Version: "1"}},
		{"health report", Key{Kind: KindHealth, Region: "eu", Endpoint: "192.0.2.1", Prober: "p1"},
			`{"up": true, "rtt": "12ms", "time": "2026-11-26T12:00:00Z"}`,
			&HealthReport{Up: true, RTT: Duration(12 * time.Millisecond), Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.key, []byte(tc.value))
			if err != nil {
				t.Fatalf("Decode(%s, %.80q) error: %v", tc.key.Kind, tc.value, err)
			}
			if tc.want == nil {
				return // only validity is checked
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode(%s, %.80q) = %#v, want %#v", tc.key.Kind, tc.value, got, tc.want)
			}
		})
	}
}

func TestCheckWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Check
		want Check
		// invalid: the defaults alone do not validate.
		invalid bool
	}{
		{
			name: "http",
			in:   Check{Type: "http"},
			want: Check{Type: "http", Port: 80, Path: "/", ExpectStatus: "200-399",
				Interval: Duration(5 * time.Second), Timeout: Duration(2 * time.Second), Rise: 2, Fall: 3},
		},
		{
			name: "https",
			in:   Check{Type: "https"},
			want: Check{Type: "https", Port: 443, Path: "/", ExpectStatus: "200-399",
				Interval: Duration(5 * time.Second), Timeout: Duration(2 * time.Second), Rise: 2, Fall: 3},
		},
		{
			name: "tcp keeps port path and status empty",
			in:   Check{Type: "tcp"},
			want: Check{Type: "tcp", Interval: Duration(5 * time.Second), Timeout: Duration(2 * time.Second), Rise: 2, Fall: 3},
			// Port is required for tcp.
			invalid: true,
		},
		{
			name: "short interval caps default timeout",
			in:   Check{Type: "http", Interval: Duration(time.Second)},
			want: Check{Type: "http", Port: 80, Path: "/", ExpectStatus: "200-399",
				Interval: Duration(time.Second), Timeout: Duration(time.Second), Rise: 2, Fall: 3},
		},
		{
			name: "set fields kept",
			in: Check{Type: "http", Port: 8080, Path: "/h", ExpectStatus: "204", Interval: Duration(time.Minute),
				Timeout: Duration(10 * time.Second), Rise: 5, Fall: 7},
			want: Check{Type: "http", Port: 8080, Path: "/h", ExpectStatus: "204", Interval: Duration(time.Minute),
				Timeout: Duration(10 * time.Second), Rise: 5, Fall: 7},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			got := tc.in.WithDefaults()
			if got != tc.want {
				t.Fatalf("WithDefaults() = %+v, want %+v", got, tc.want)
			}
			if in != tc.in {
				t.Fatalf("WithDefaults modified its receiver: %+v", tc.in)
			}
			if err := got.Validate(); (err != nil) != tc.invalid {
				t.Fatalf("Validate() of the defaults = %v, want invalid %v", err, tc.invalid)
			}
		})
	}
}

func TestSOATimersWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   SOATimers
		want SOATimers
	}{
		{"zero", SOATimers{}, SOATimers{TTL: 3600, Refresh: 3600, Retry: 600, Expire: 86400, Minimum: 30}},
		{"serial untouched", SOATimers{Serial: 7, Minimum: 5}, SOATimers{Serial: 7, TTL: 3600, Refresh: 3600, Retry: 600, Expire: 86400, Minimum: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.WithDefaults(); got != tc.want {
				t.Fatalf("WithDefaults() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseStatusRange(t *testing.T) {
	tests := []struct {
		in      string
		lo, hi  int
		wantErr bool
	}{
		{"200", 200, 200, false},
		{"200-399", 200, 399, false},
		{"100-599", 100, 599, false},
		{"204-204", 204, 204, false},
		{"", 0, 0, true},
		{"600", 0, 0, true},
		{"99", 0, 0, true},
		{"abc", 0, 0, true},
		{"399-200", 0, 0, true},
		{"200-600", 0, 0, true},
		{"200-", 0, 0, true},
		{"-200", 0, 0, true},
		{"200-300-400", 0, 0, true},
		{" 200", 0, 0, true},
	}
	for _, tc := range tests {
		t.Run("status "+tc.in, func(t *testing.T) {
			lo, hi, err := ParseStatusRange(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseStatusRange(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if lo != tc.lo || hi != tc.hi {
				t.Fatalf("ParseStatusRange(%q) = %d, %d; want %d, %d", tc.in, lo, hi, tc.lo, tc.hi)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		name string
		d    Duration
		json string
	}{
		{"zero", 0, `"0s"`},
		{"seconds", Duration(5 * time.Second), `"5s"`},
		{"milliseconds", Duration(1500 * time.Millisecond), `"1.5s"`},
		{"minutes", Duration(90 * time.Second), `"1m30s"`},
		{"hour", Duration(time.Hour), `"1h0m0s"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.d)
			if err != nil || string(b) != tc.json {
				t.Fatalf("Marshal(%v) = %s, %v; want %s", time.Duration(tc.d), b, err, tc.json)
			}
			var back Duration
			if err := json.Unmarshal(b, &back); err != nil || back != tc.d {
				t.Fatalf("Unmarshal(%s) = %v, %v; want %v", b, time.Duration(back), err, time.Duration(tc.d))
			}
		})
	}
}

func TestDurationUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"number", `5`},
		{"no unit", `"5"`},
		{"garbage", `"soon"`},
		{"object", `{}`},
		{"empty string", `""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Duration
			if err := json.Unmarshal([]byte(tc.in), &d); err == nil {
				t.Fatalf("Unmarshal(%s) = %v, want error", tc.in, time.Duration(d))
			}
		})
	}
}

func TestDecodeMaxValueBytesBoundary(t *testing.T) {
	// Exactly MaxValueBytes is accepted; one more byte is not.
	body := `{"values":["v=spf1 -all"]}`
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"at limit", MaxValueBytes, false},
		{"one over", MaxValueBytes + 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := body + strings.Repeat(" ", tc.size-len(body))
			_, err := Decode(recordKey("TXT"), []byte(v))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Decode of %d bytes: error = %v, wantErr %v", len(v), err, tc.wantErr)
			}
		})
	}
}

func TestDecodeUnknownKindIsBadKey(t *testing.T) {
	_, err := Decode(Key{Kind: KindUnknown}, []byte("{}"))
	if !errors.Is(err, ErrBadKey) {
		t.Fatalf("Decode(unknown) error = %v, want ErrBadKey", err)
	}
}

// TestDecodeCAAUnbuildable lists CAA values that Decode accepts although they
// are not valid CAA data: the server's zone-file parser (miekg/dns NewRR)
// refuses the first two, so the record set is silently missing from the
// snapshot instead of being reported as a rejected key, and it reads the
// unquoted ';' of the third as the start of a comment, so the served value is
// cut to "letsencrypt.org". RFC 8659 4.1: the tag is 1 to 15 characters.
func TestDecodeCAAUnbuildable(t *testing.T) {

	tests := []struct {
		name, value string
	}{
		{"empty tag", `0  \"letsencrypt.org\"`},
		{"empty value", `0 issue `},
		{"tag over 15 characters", `0 averyveryverylongtag \"x\"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := `{"values":["` + tc.value + `"]}`
			if _, err := Decode(recordKey("CAA"), []byte(v)); err == nil {
				t.Fatalf("Decode(CAA, %s) accepted", v)
			}
		})
	}
}

// TestDecodeNamePolicies checks the policy fields of names: fences and
// fallbacks must stay within the name's regions, outcomes are known words.
func TestDecodeNamePolicies(t *testing.T) {
	k := Key{Kind: KindName, Zone: "example.com", Label: "www"}
	cases := []struct {
		name, raw, wantErr string // wantErr "" means valid
	}{
		{"every policy field", `{"regions":["eu","us"],"policy":"failover","ttl_degraded":5,"spread":true,
			"sticky":{"v4":24,"v6":48},"geofence":{"countries":{"DE":["eu"]},"continents":{"NA":["us"]},"default":["eu","us"]},
			"on_all_down":"fallback","on_no_data":"nodata","fallback":["us"],"panic_percent":50}`, ""},
		{"weighted", `{"regions":["eu"],"policy":"weighted"}`, ""},
		{"roundrobin", `{"regions":["eu"],"policy":"roundrobin"}`, ""},
		{"fence region outside the name", `{"regions":["eu"],"geofence":{"countries":{"DE":["us"]}}}`, "not one of the name's regions"},
		{"fence country lower case", `{"regions":["eu"],"geofence":{"countries":{"de":["eu"]}}}`, "two-letter"},
		{"fence continent three letters", `{"regions":["eu"],"geofence":{"continents":{"EUR":["eu"]}}}`, "two-letter"},
		{"fallback outcome without regions", `{"regions":["eu"],"on_all_down":"fallback"}`, "fallback is empty"},
		{"fallback region outside the name", `{"regions":["eu"],"fallback":["us"]}`, "not one of the name's regions"},
		{"unknown all-down outcome", `{"regions":["eu"],"on_all_down":"panic"}`, "on_all_down"},
		{"unknown no-data outcome", `{"regions":["eu"],"on_no_data":"fail_open"}`, "on_no_data"},
		{"panic percent 101", `{"regions":["eu"],"panic_percent":101}`, "panic_percent"},
		{"sticky v4 33", `{"regions":["eu"],"sticky":{"v4":33}}`, "sticky"},
		{"ttl_degraded too big", `{"regions":["eu"],"ttl_degraded":90000}`, "ttl_degraded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(k, []byte(tc.raw))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("want valid, got %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("want error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}
