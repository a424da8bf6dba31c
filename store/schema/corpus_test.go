package schema

import (
	"flag"
	"strings"
	"testing"

	"github.com/glb-dns/glb/internal/fuzzcorpus"
)

// updateCorpus rewrites testdata/fuzz/FuzzDecode from the entries below:
// go test -run TestFuzzCorpus -update-corpus ./store/schema
var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz from the corpus entries in code")

// TestFuzzCorpus keeps testdata/fuzz/FuzzDecode what the code here makes:
// bad values of every kind of key. The first argument picks the key in
// FuzzDecode's list: 0 region, 1 weight, 2 zone, 3 name, 4 record,
// 5 prober, 6 health, 7 a key outside the schema.
func TestFuzzCorpus(t *testing.T) {
	const (
		region uint8 = iota
		weight
		zone
		name
		record
		prober
		health
		outside
	)
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	huge := `{"lat": 1, "lon": 2, "addrs": ["192.0.2.1"], "pad": "` + strings.Repeat("x", 64<<10) + `"}`
	cases := []struct {
		name string
		kind uint8
		raw  string
	}{
		{"region-good", region, `{"lat": 51.5, "lon": -0.1, "addrs": ["198.51.100.10", "2001:db8::1"]}`},
		{"region-bad-json", region, `{"lat": 51.5,`},
		{"region-two-documents", region, `{"lat": 1, "lon": 2, "addrs": ["192.0.2.1"]}{"lat": 3}`},
		{"region-lat-as-string", region, `{"lat": "51.5", "lon": 0, "addrs": ["192.0.2.1"]}`},
		{"region-lat-91", region, `{"lat": 91, "lon": 0, "addrs": ["192.0.2.1"]}`},
		{"region-lon-181", region, `{"lat": 0, "lon": -181, "addrs": ["192.0.2.1"]}`},
		{"region-lat-1e400", region, `{"lat": 1e400, "lon": 0, "addrs": ["192.0.2.1"]}`},
		{"region-unknown-field", region, `{"lat": 0, "lon": 0, "addrs": ["192.0.2.1"], "adrs": []}`},
		{"region-address-invalid", region, `{"lat": 0, "lon": 0, "addrs": ["192.0.2.300"]}`},
		{"region-address-mapped", region, `{"lat": 0, "lon": 0, "addrs": ["::ffff:1.2.3.4"]}`},
		{"region-address-duplicate", region, `{"lat": 0, "lon": 0, "addrs": ["192.0.2.1", "192.0.2.1"]}`},
		{"region-addrs-empty", region, `{"lat": 0, "lon": 0, "addrs": []}`},
		{"region-check-port-70000", region, `{"lat": 0, "lon": 0, "addrs": ["192.0.2.1"], "check": {"type": "tcp", "port": 70000}}`},
		{"region-check-type-unknown", region, `{"lat": 0, "lon": 0, "addrs": ["192.0.2.1"], "check": {"type": "icmp"}}`},
		{"region-nul-bytes", region, "{\"lat\": 0, \"lon\": 0, \"addrs\": [\"192.0.2.1\x00\"]}"},
		{"region-not-utf8", region, "{\"lat\": 0, \"lon\": 0, \"addrs\": [\"\xff\xfe\"]}"},
		{"region-deeply-nested", region, deep},
		{"region-huge-64k", region, huge},
		{"weight-good", weight, "100"},
		{"weight-word", weight, "abc"},
		{"weight-negative", weight, "-5"},
		{"weight-1001", weight, "1001"},
		{"weight-float", weight, "50.5"},
		{"weight-empty", weight, ""},
		{"weight-overflow", weight, "99999999999999999999999"},
		{"weight-json-string", weight, `"100"`},
		{"zone-good", zone, `{"ns": [{"name": "ns1.example.com", "addrs": ["192.0.2.1"]}]}`},
		{"zone-no-ns", zone, `{"ns": []}`},
		{"zone-ns-as-string", zone, `{"ns": "ns1.example.com"}`},
		{"zone-ttl-negative", zone, `{"ns": [{"name": "ns1.example.net"}], "ttl": -1}`},
		{"zone-glue-ipv6-bad", zone, `{"ns": [{"name": "ns1.example.com", "addrs": ["2001:db8::zz"]}]}`},
		{"name-good", name, `{"regions": ["eu"], "policy": "geo"}`},
		{"name-regions-empty", name, `{"regions": [], "policy": "geo"}`},
		{"name-region-missing", name, `{"regions": ["mars"], "policy": "geo"}`},
		{"name-policy-unknown", name, `{"regions": ["eu"], "policy": "nearest"}`},
		{"name-ttl-string", name, `{"regions": ["eu"], "ttl": "30"}`},
		{"name-ttl-huge", name, `{"regions": ["eu"], "ttl": 4294967296}`},
		{"name-answers-zero", name, `{"regions": ["eu"], "answers": -1}`},
		{"name-regions-null", name, `{"regions": null}`},
		{"record-good", record, `{"values": ["10 mail.example.com."]}`},
		{"record-bad-mx", record, `{"values": ["mail.example.com."]}`},
		{"record-values-not-list", record, `{"values": "10 mail.example.com."}`},
		{"prober-good", prober, `{"lat": 1, "lon": 2, "version": "v1"}`},
		{"prober-bad-json", prober, `{"lat":`},
		{"health-good", health, `{"up": true, "rtt": "1ms", "time": "2026-01-01T00:00:00Z"}`},
		{"health-rtt-negative", health, `{"up": true, "rtt": "-1ms", "time": "2026-01-01T00:00:00Z"}`},
		{"health-up-as-string", health, `{"up": "yes", "time": "2026-01-01T00:00:00Z"}`},
		{"health-time-garbage", health, `{"up": true, "time": "yesterday"}`},
		{"outside-schema", outside, `{"anything": true}`},
	}
	var entries []fuzzcorpus.Entry
	for _, c := range cases {
		entries = append(entries, fuzzcorpus.Entry{Name: c.name, Args: []any{c.kind, c.raw}})
	}
	fuzzcorpus.Sync(t, "testdata/fuzz/FuzzDecode", entries, *updateCorpus)
}
