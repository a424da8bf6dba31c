package yamlconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

const prefix = "/glb/"

// good is a small valid configuration in the file layout; the line numbers
// of the cases below count from its first line.
const good = `regions:
  eu-west:
    lat: 51.51
    lon: -0.13
    addrs: [198.51.100.10, "2001:db8:3::10"]
    check: {type: http, path: /healthz, interval: 1s}
    weight: 100
  us-east:
    lat: 39.04
    lon: -77.49
    addrs: [192.0.2.10]
zones:
  gslb.example.test:
    ns: [{name: ns2.example.net}]
    contact: hostmaster@example.test
    ttl: 30
    names:
      www: {regions: [us-east, eu-west], policy: geo}
    records:
      "@":
        TXT: {ttl: 300, values: ["v=spf1 -all"]}
`

func TestParseGood(t *testing.T) {
	c := Parse([]byte(good), prefix)
	if ps := c.Validate(); len(ps) > 0 {
		t.Fatalf("problems in a good file: %v", ps)
	}
	want := map[string]string{
		"/glb/regions/eu-west":                       `{"lat":51.51,"lon":-0.13,"addrs":["198.51.100.10","2001:db8:3::10"],"check":{"type":"http","path":"/healthz","interval":"1s"}}`,
		"/glb/regions/eu-west/weight":                "100",
		"/glb/regions/us-east":                       `{"lat":39.04,"lon":-77.49,"addrs":["192.0.2.10"]}`,
		"/glb/zones/gslb.example.test":               `{"ns":[{"name":"ns2.example.net"}],"contact":"hostmaster@example.test","ttl":30}`,
		"/glb/zones/gslb.example.test/names/www":     `{"regions":["us-east","eu-west"],"policy":"geo"}`,
		"/glb/zones/gslb.example.test/records/@/TXT": `{"ttl":300,"values":["v=spf1 -all"]}`,
	}
	if got := c.KVs(); !maps.Equal(got, want) {
		t.Errorf("keys:\n got %v\nwant %v", got, want)
	}
	lines := map[string]int{}
	for _, e := range c.Entries {
		lines[e.Path] = e.Line
	}
	for path, line := range map[string]int{"regions.eu-west": 2, "regions.eu-west.weight": 7, `zones."gslb.example.test".names.www`: 18,
		`zones."gslb.example.test".records.@.TXT`: 21} {
		if lines[path] != line {
			t.Errorf("%s at line %d, want %d", path, lines[path], line)
		}
	}
}

// TestValidateNamesTheLine changes one line of the good file at a time and
// checks that the problem points at it.
func TestValidateNamesTheLine(t *testing.T) {
	cases := []struct {
		name      string
		old, new  string // replaced in good
		want      string // the formatted problem, or a prefix of it
		wantCount int    // problems expected; 0 means 1
	}{
		{name: "bad address", old: "addrs: [198.51.100.10,", new: "addrs: [198.51.100.10, 198.51.100.300,",
			want: `config.yaml:5:28: regions.eu-west.addrs[1]: ParseAddr("198.51.100.300")`},
		{name: "unknown policy", old: "policy: geo", new: "policy: nearest",
			want: `config.yaml:18:50: zones."gslb.example.test".names.www.policy: policy "nearest" is unknown (supported: [geo latency weighted failover roundrobin])`},
		{name: "name references a missing region", old: "regions: [us-east, eu-west]", new: "regions: [us-east, eu-wast]",
			want: `config.yaml:18:32: zones."gslb.example.test".names.www.regions[1]: region "eu-wast" does not exist (no valid /glb/regions/eu-wast); did you mean "eu-west"?`},
		{name: "mistyped on_all_down", old: "policy: geo}", new: "policy: geo, on_all_down: failopen}",
			want: `config.yaml:18:68: zones."gslb.example.test".names.www.on_all_down: on_all_down "failopen": want fail_open, fallback, nodata or servfail; did you mean "fail_open"?`},
		{name: "mistyped check type", old: "{type: http,", new: "{type: htp,",
			want:      `config.yaml:6:19: regions.eu-west.check.type: type "htp" is not one of http, https, tcp; did you mean "http"?`,
			wantCount: 2}, // and the port, whose default depends on the type
		{name: "unknown field", old: "    lon: -77.49\n", new: "    lon: -77.49\n    wieght: 5\n",
			want: `config.yaml:11:5: regions.us-east.wieght: unknown field "wieght"; did you mean "weight"?`},
		{name: "latitude out of range", old: "lat: 39.04", new: "lat: 139.04",
			want: `config.yaml:9:10: regions.us-east.lat: lat 139.04 is outside -90..90`},
		{name: "bad check interval", old: "interval: 1s", new: "interval: 1x",
			want: `config.yaml:6:51: regions.eu-west.check.interval: duration "1x"`},
		{name: "wrong type", old: "lon: -77.49", new: "lon: west",
			want: `config.yaml:10:10: regions.us-east.lon: want a number, not a string`},
		{name: "weight out of range", old: "weight: 100", new: "weight: 5000",
			want: `config.yaml:7:5: regions.eu-west.weight: weight 5000 is outside 0..1000`},
		{name: "weight not a number", old: "weight: 100", new: "weight: lots",
			want: `config.yaml:7:13: regions.eu-west.weight: weight "lots" is not an integer`},
		{name: "weight of a missing region", old: "  us-east:\n    lat: 39.04\n    lon: -77.49\n    addrs: [192.0.2.10]\n",
			new: "  us-east:\n    weight: 5\n", want: `config.yaml:9:5: regions.us-east.weight: region "us-east" does not exist`, wantCount: 2},
		{name: "bad region id", old: "  us-east:", new: "  US-East:",
			want: `config.yaml:8:3: regions.US-East: key is not part of the glb schema: region id "US-East"`, wantCount: 2},
		{name: "slash in a region id", old: "  us-east:", new: "  us/weight:",
			want: `config.yaml:8:3: regions.us/weight: region id "us/weight" must be non-empty and without '/'`, wantCount: 2},
		{name: "unsupported record type", old: "TXT:", new: "SPF:",
			want: `config.yaml:21:9: zones."gslb.example.test".records.@.SPF: key is not part of the glb schema: record type "SPF" is not supported (want one of A, AAAA, CAA, CNAME, MX, PTR, SRV, TXT)`},
		{name: "key given twice", old: "    weight: 100\n", new: "    weight: 100\n    weight: 50\n",
			want: `config.yaml:8:5: regions.eu-west: key "weight" is given twice`},
		{name: "unknown section", old: "zones:", new: "zone:",
			want: `config.yaml:12:1: zone: unknown section: want regions or zones; did you mean "zones"?`},
		{name: "list where a mapping belongs", old: "    names:\n      www: {regions: [us-east, eu-west], policy: geo}\n",
			new: "    names: [www]\n", want: `config.yaml:17:5: zones."gslb.example.test".names: want a mapping of labels to names`},
		{name: "infinite number", old: "ttl: 30", new: "ttl: .inf",
			want: `config.yaml:16:10: zones."gslb.example.test".ttl: ".inf" is not a finite number`},
		{name: "YAML syntax", old: "    ttl: 30\n", new: "    ttl: [30\n", want: `config.yaml:16:10: bad YAML: did not find expected ',' or ']' (this bracket is not closed)`},
		{name: "mistyped policy", old: "policy: geo", new: "policy: goe",
			want: `config.yaml:18:50: zones."gslb.example.test".names.www.policy: policy "goe" is unknown (supported: [geo latency weighted failover roundrobin]); did you mean "geo"?`},
		{name: "mistyped record type", old: "TXT:", new: "TXXT:",
			want: `config.yaml:21:9: zones."gslb.example.test".records.@.TXXT: key is not part of the glb schema: record type "TXXT" is not supported (want one of A, AAAA, CAA, CNAME, MX, PTR, SRV, TXT); did you mean "TXT"?`},
		{name: "mistyped field of a check", old: "interval: 1s", new: "intervl: 1s",
			want: `config.yaml:6:41: regions.eu-west.check.intervl: unknown field "intervl"; did you mean "interval"?`},
		{name: "mistyped field of a name", old: "policy: geo", new: "polcy: geo",
			want: `config.yaml:18:42: zones."gslb.example.test".names.www.polcy: unknown field "polcy"; did you mean "policy"?`},
		{name: "mistyped zone field", old: "    ttl: 30\n", new: "    tll: 30\n",
			want: `config.yaml:16:5: zones."gslb.example.test".tll: unknown field "tll"; did you mean "ttl"?`},
		{name: "field far from any", old: "    lon: -77.49\n", new: "    lon: -77.49\n    colour: red\n",
			want: `config.yaml:11:5: regions.us-east.colour: unknown field "colour"`},
		{name: "tab in the indentation", old: "    lon: -77.49\n", new: "    lon: -77.49\n\tcountry: US\n",
			want: `config.yaml:11:1: bad YAML: found a tab character that violates indentation`},
		{name: "bad indentation", old: "    lon: -77.49\n", new: "    lon: -77.49\n   country: US\n",
			want: `config.yaml:11:4: bad YAML: did not find expected key`},
		{name: "two colons", old: "    lon: -77.49\n", new: "    lon: -77.49\n    country: a: b\n",
			want: `config.yaml:11:5: bad YAML: mapping values are not allowed in this context`},
		{name: "two problems in one document", old: "lat: 51.51\n    lon: -0.13", new: "lat: 91\n    lon: 181",
			want: `config.yaml:3:10: regions.eu-west.lat: lat 91 is outside -90..90`, wantCount: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(good, tc.old) {
				t.Fatalf("%q is not in the good file", tc.old)
			}
			ps := Parse([]byte(strings.Replace(good, tc.old, tc.new, 1)), prefix).Validate()
			var got []string
			for _, p := range ps {
				got = append(got, p.Format("config.yaml"))
			}
			want := max(tc.wantCount, 1)
			if len(got) != want || !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, tc.want) }) {
				t.Errorf("got %d problems:\n  %s\nwant %d, one starting %s", len(got), strings.Join(got, "\n  "), want, tc.want)
			}
		})
	}
}

func TestParseEmptyAndOddFiles(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"empty", "", ""},
		{"comment only", "# nothing\n", ""},
		{"scalar", "hello\n", "want a mapping with the sections regions and zones"},
		{"two documents", "regions: {}\n---\nzones: {}\n", "only one YAML document is allowed"},
		{"tagged value", "regions:\n  a: {lat: !!binary aGk=}\n", "tag !!binary is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Parse([]byte(tc.file), prefix)
			ps := c.Validate()
			if tc.want == "" {
				if len(ps) > 0 || len(c.Entries) > 0 {
					t.Errorf("problems %v, entries %d; want none", ps, len(c.Entries))
				}
				return
			}
			if len(ps) == 0 || !strings.Contains(ps[0].Msg, tc.want) {
				t.Errorf("problems %v, want one saying %q", ps, tc.want)
			}
		})
	}
}

// TestYAMLSpellings checks that YAML's other ways of writing a value reach
// etcd as the JSON glbd expects.
func TestYAMLSpellings(t *testing.T) {
	file := `regions:
  r: &doc
    lat: 0x10
    lon: 1_000.5e-1
    addrs: ['192.0.2.1']
    country: "NO"
    check: {type: http, insecure_skip_verify: true, port: ~}
  s: *doc
`
	c := Parse([]byte(file), prefix)
	want := `{"lat":16,"lon":100.05,"addrs":["192.0.2.1"],"country":"NO","check":{"type":"http","insecure_skip_verify":true,"port":null}}`
	kvs := c.KVs()
	if kvs["/glb/regions/r"] != want || kvs["/glb/regions/s"] != want {
		t.Errorf("got\n %s\n %s\nwant %s", kvs["/glb/regions/r"], kvs["/glb/regions/s"], want)
	}
}

// TestExportRoundTrip: what Export writes, Parse reads back as the same
// keys, values compacted.
func TestExportRoundTrip(t *testing.T) {
	kvs := map[string]string{
		"/glb/regions/eu-west":                         `{"lat": 51.51, "lon": -0.13, "addrs": ["198.51.100.10"], "check": {"type": "http", "expect_body": "ok\nfine"}}`,
		"/glb/regions/eu-west/weight":                  " 0\n",
		"/glb/regions/bad/weight":                      "abc",
		"/glb/regions/bad":                             `{"lat": 1e2, "lon": 12345678901234567890, "addrs": [], "x": null}`,
		"/glb/zones/a.test":                            `{"ns":[{"name":"ns1.example.net"}]}`,
		"/glb/zones/a.test/names/@":                    `{"regions":["eu-west"],"geofence":{"countries":{"NO":["eu-west"]}}}`,
		"/glb/zones/a.test/records/@/CAA":              `{"values":["0 issue \"ca.example.net\""]}`,
		"/glb/zones/b.test/names/www":                  `{"regions":["eu-west"]}`,
		"/glb/zones/a.test/records/_sip._tcp/SRV":      `{"values":["10 5 5060 sip.example.net."]}`,
		"/glb/zones/a.test/records/x/TXT":              `{"values":["yes","no","true","1.5","null","@","- a","key: value","#c"]}`,
		"/glb/zones/a.test/records/very.long.name/TXT": `{"ttl":60,"values":["` + strings.Repeat("x", 100) + `"]}`,
	}
	out, skipped, err := Export(prefix, kvs)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("Export: %v, skipped %v", err, skipped)
	}
	c := Parse(out, prefix)
	if len(c.Problems) > 0 {
		t.Fatalf("Parse of the export: %v\n%s", c.Problems, out)
	}
	got := c.KVs()
	for k, v := range kvs {
		want := strings.TrimSpace(v)
		if strings.HasPrefix(want, "{") {
			var b bytes.Buffer
			if err := json.Compact(&b, []byte(v)); err != nil {
				t.Fatal(err)
			}
			want = b.String()
		}
		if got[k] != want {
			t.Errorf("%s = %s, want %s", k, got[k], want)
		}
	}
	if len(got) != len(kvs) {
		t.Errorf("%d keys back, want %d\n%s", len(got), len(kvs), out)
	}
	again, _, _ := Export(prefix, got)
	if string(again) != string(out) {
		t.Errorf("second export differs:\n%s\n---\n%s", out, again)
	}
}

func TestExportSkips(t *testing.T) {
	_, skipped, err := Export(prefix, map[string]string{
		"/glb/regions/a":        `[1,2]`,
		"/glb/regions/b":        `{"lat":`,
		"/glb/zones/z/whatever": `{}`,
		"/glb/regions/c":        `{}`,
		"/glb/regions/c/weight": `5`,
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, s := range skipped {
		keys = append(keys, s.Key)
	}
	if got, want := strings.Join(keys, " "), "/glb/regions/a /glb/regions/b /glb/regions/c /glb/zones/z/whatever"; got != want {
		t.Errorf("skipped %s, want %s (%v)", got, want, skipped)
	}
}

// TestJSONFileProblems checks that a file written as JSON (the same layout)
// is read like YAML, and that its mistakes are told in JSON's words, at
// the line and column of the offending token or key.
func TestJSONFileProblems(t *testing.T) {
	const goodJSON = `{
  "regions": {
    "eu-west": {"lat": 51.51, "lon": -0.13, "addrs": ["198.51.100.10"], "weight": 100}
  },
  "zones": {
    "gslb.example.test": {
      "ns": [{"name": "ns2.example.net"}],
      "names": {"www": {"regions": ["eu-west"]}}
    }
  }
}
`
	cases := []struct {
		name, old, new string
		want           string // the formatted problem; "" for none
	}{
		{"good", "", "", ""},
		{"missing comma", `"lat": 51.51,`, `"lat": 51.51`, `config.json:3:30: bad JSON: invalid character '"' after object key:value pair`},
		{"trailing comma", `"ns2.example.net"}],`, `"ns2.example.net"},],`, `config.json:7:42: bad JSON: invalid character ']' looking for beginning of value`},
		{"unclosed", "  }\n}\n", "  }\n", `config.json:11:1: bad JSON: unexpected end of file`},
		{"mistyped field", `"lon"`, `"lno"`, `config.json:3:31: regions.eu-west.lno: unknown field "lno"; did you mean "lon"?`},
		{"trailing data", "  }\n}\n", "  }\n}\n{}\n", `config.json:12:1: bad JSON: trailing data after the object`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Parse([]byte(strings.Replace(goodJSON, tc.old, tc.new, 1)), prefix)
			if c.Format != "JSON" {
				t.Errorf("format %q, want JSON", c.Format)
			}
			var got []string
			for _, p := range c.Validate() {
				got = append(got, p.Format("config.json"))
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("problems in a good file: %v", got)
			case tc.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tc.want)):
				t.Errorf("got %q, want one starting %q", got, tc.want)
			}
			for _, g := range got {
				if strings.Contains(g, "YAML") {
					t.Errorf("a JSON file's problem says YAML: %s", g)
				}
			}
		})
	}
}

// TestSyntaxErrorLineInALongFile: the offending line is found in a file of
// thousands of lines, where the parser names the line of the enclosing
// block (line 1).
func TestSyntaxErrorLineInALongFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("regions:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  r%d:\n    lat: 1\n    lon: 2\n", i)
	}
	for _, tc := range []struct{ name, line, want string }{
		{"bad indentation", "   addrs: []\n", "config.yaml:3002:4: bad YAML: did not find expected key"},
		{"tab", "\taddrs: []\n", "config.yaml:3002:1: bad YAML: found a tab character that violates indentation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := b.String() + tc.line + "  last: {}\n"
			ps := Parse([]byte(file), prefix).Problems
			if len(ps) != 1 || ps[0].Format("config.yaml") != tc.want {
				t.Errorf("got %v, want %s", ps, tc.want)
			}
		})
	}
}
