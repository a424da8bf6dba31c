package main

import (
	"strings"
	"testing"
)

// TestGet lists each kind from a real etcd holding the dev configuration,
// as a table and as documents, whole and by name.
func TestGet(t *testing.T) {
	s, env := devEtcd(t)
	s.Put(t, "/glb/regions/us-east/weight", "0")
	s.Put(t, "/glb/probers/p1", `{"lat":50.11,"lon":8.68,"country":"DE","version":"v1.2"}`)

	// Tables: rows with the columns' spacing squeezed.
	for _, tc := range []struct {
		args []string
		rows []string // wanted rows
		n    int      // lines, header included
	}{
		{[]string{"get", "regions"}, []string{
			"REGION WEIGHT LOCATION COUNTRY CONTINENT ADDRESSES CHECK",
			"eu-west 100 51.51,-0.13 GB EU 198.51.100.10,198.51.100.11,2001:db8:3::10 http 127.0.0.1:18003 /healthz every 1s",
			"us-east 0 (drained) 39.04,-77.49 US NA 192.0.2.10,192.0.2.11,2001:db8:1::10,2001:db8:1::11 http 127.0.0.1:18001 /healthz every 1s",
		}, 8},
		{[]string{"get", "regions", "sa-east", "eu-west"}, []string{"REGION WEIGHT LOCATION COUNTRY CONTINENT ADDRESSES CHECK",
			"sa-east 100 -23.55,-46.63 BR SA 192.0.2.30 http 127.0.0.1:18007 /healthz every 1s"}, 3},
		{[]string{"get", "names"}, []string{"NAME POLICY REGIONS TTL ANSWERS",
			"api.gslb.example.test geo us-east,eu-west 20 1",
			"www.gslb.example.test geo us-east,us-west,eu-west,eu-central,ap-northeast,ap-southeast,sa-east 30 2"}, 3},
		{[]string{"get", "names", "api"}, []string{"api.gslb.example.test geo us-east,eu-west 20 1"}, 2},
		{[]string{"get", "weights"}, []string{"REGION WEIGHT", "us-east 0 (drained)", "eu-west 100", "sa-east 100"}, 8},
		{[]string{"get", "probers"}, []string{"PROBER LOCATION COUNTRY VERSION UP FOR", "p1 50.11,8.68 DE v1.2 -"}, 2},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := ctl(t, env, tc.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			rows := map[string]bool{}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			for _, l := range lines {
				rows[strings.Join(strings.Fields(l), " ")] = true
			}
			for _, w := range tc.rows {
				if !rows[w] {
					t.Errorf("no row %q in:\n%s", w, r.stdout)
				}
			}
			if len(lines) != tc.n {
				t.Errorf("%d lines, want %d:\n%s", len(lines), tc.n, r.stdout)
			}
		})
	}

	// Documents: the etcd documents' fields with what get adds.
	type row struct {
		ID      string   `json:"id"`
		Name    string   `json:"name"`
		Zone    string   `json:"zone"`
		Label   string   `json:"label"`
		Prober  string   `json:"prober"`
		Weight  *int     `json:"weight"`
		Lat     float64  `json:"lat"`
		Addrs   []string `json:"addrs"`
		Check   *struct{ Connect string }
		Regions []string `json:"regions"`
		Answers int      `json:"answers"`
	}
	for _, format := range []string{"json", "yaml"} {
		for _, tc := range []struct {
			args  []string
			n     int
			check func(r row) bool
		}{
			{[]string{"get", "regions", "us-east"}, 1, func(r row) bool {
				return r.ID == "us-east" && *r.Weight == 0 && r.Lat == 39.04 && len(r.Addrs) == 4 && r.Check.Connect == "127.0.0.1:18001"
			}},
			{[]string{"get", "names", "www.gslb.example.test."}, 1, func(r row) bool {
				return r.Name == "www.gslb.example.test" && r.Zone == "gslb.example.test" && r.Label == "www" && len(r.Regions) == 7 && r.Answers == 2
			}},
			{[]string{"get", "weights"}, 7, func(r row) bool { return r.ID != "" && r.Weight != nil }},
			{[]string{"get", "probers"}, 1, func(r row) bool { return r.Prober == "p1" && r.Lat == 50.11 }},
		} {
			t.Run(strings.Join(tc.args, " ")+" -o "+format, func(t *testing.T) {
				r := ctl(t, env, append(tc.args, "-o", format)...)
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
				}
				var rows []row
				if err := decodeOutput(format, r.stdout, &rows); err != nil {
					t.Fatalf("%v:\n%s", err, r.stdout)
				}
				if len(rows) != tc.n || !tc.check(rows[0]) {
					t.Errorf("%d rows, first %+v; want %d:\n%s", len(rows), rows[0], tc.n, r.stdout)
				}
			})
		}
	}

	// Mistakes.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"get"}, exitUsage, "want what to get: regions, names, weights, probers"},
		{[]string{"get", "region"}, exitUsage, `cannot get "region": want one of regions, names, weights, probers; did you mean "regions"?`},
		{[]string{"get", "regions", "-o", "xml"}, exitUsage, `-o "xml": want table, json or yaml`},
		{[]string{"get", "regions", "eu-wset"}, exitFailure, `region "eu-wset" not found; did you mean "eu-west"?`},
		{[]string{"get", "names", "nope"}, exitFailure, `name "nope" not found`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := ctl(t, env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", r.code, r.stdout, r.stderr, tc.code, tc.want)
			}
		})
	}
}
