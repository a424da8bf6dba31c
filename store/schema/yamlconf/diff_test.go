package yamlconf

import (
	"fmt"
	"strings"
	"testing"
)

func TestDiffKey(t *testing.T) {
	const region = "/glb/regions/eu-west"
	cases := []struct {
		name, key, old, new string
		hadOld, hasNew      bool
		want                string // one change a line, as op path: old → new
	}{
		{"weight changed", "/glb/regions/eu-west/weight", "100", "0", true, true,
			"~ regions.eu-west.weight: 100 → 0"},
		{"weight key added", "/glb/regions/eu-west/weight", "", "50", false, true,
			"+ regions.eu-west.weight: 50"},
		{"key removed", "/glb/zones/gslb.example.test/names/api", `{"regions":["eu-west"]}`, "", true, false,
			`- zones."gslb.example.test".names.api: {"regions":["eu-west"]}`},
		{"key added", "/glb/zones/gslb.example.test/records/@/TXT", "", `{ "values": ["x"] }`, false, true,
			`+ zones."gslb.example.test".records.@.TXT: {"values":["x"]}`},
		{"field changed, one added, one removed", region,
			`{"lat":51.51,"country":"GB","check":{"type":"http","port":80}}`,
			`{"lat":51.5,"continent":"EU","check":{"type":"http","port":8080,"connect":"10.0.0.1:80"}}`, true, true,
			`+ regions.eu-west.check.connect: "10.0.0.1:80"
~ regions.eu-west.check.port: 80 → 8080
+ regions.eu-west.continent: "EU"
- regions.eu-west.country: "GB"
~ regions.eu-west.lat: 51.51 → 51.5`},
		{"list element changed", region, `{"addrs":["192.0.2.1","192.0.2.2"]}`, `{"addrs":["192.0.2.1","192.0.2.3"]}`, true, true,
			`~ regions.eu-west.addrs[1]: "192.0.2.2" → "192.0.2.3"`},
		{"list grown", region, `{"addrs":["192.0.2.1"]}`, `{"addrs":["192.0.2.1","192.0.2.3"]}`, true, true,
			`~ regions.eu-west.addrs: ["192.0.2.1"] → ["192.0.2.1","192.0.2.3"]`},
		{"type changed", region, `{"check":{"type":"tcp"}}`, `{"check":null}`, true, true,
			`~ regions.eu-west.check: {"type":"tcp"} → null`},
		{"not JSON", region, `{"lat":`, `{"lat":1}`, true, true,
			`~ regions.eu-west: "{\"lat\":" → "{\"lat\":1}"`},
		{"same but for formatting", region, `{"lat": 1.0}`, `{"lat":1.0}`, true, true, ``},
		{"fields reordered", region, `{"lat":1,"lon":2}`, `{"lon":2,"lat":1}`, true, true,
			`~ regions.eu-west: {"lat":1,"lon":2} → {"lon":2,"lat":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, fc := range DiffKey("/glb/", tc.key, tc.old, tc.new, tc.hadOld, tc.hasNew) {
				switch fc.Op {
				case FieldAdded:
					got = append(got, fmt.Sprintf("+ %s: %s", fc.Path, fc.New))
				case FieldRemoved:
					got = append(got, fmt.Sprintf("- %s: %s", fc.Path, fc.Old))
				default:
					got = append(got, fmt.Sprintf("~ %s: %s → %s", fc.Path, fc.Old, fc.New))
				}
			}
			if g := strings.Join(got, "\n"); g != tc.want {
				t.Errorf("got\n%s\nwant\n%s", g, tc.want)
			}
		})
	}
}
