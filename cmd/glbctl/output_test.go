package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// decodeOutput reads what -o json or -o yaml wrote into v, through JSON
// field names in both cases: YAML is decoded generically and re-encoded
// as JSON, so that a YAML field with the wrong name is not silently
// skipped by yaml.v3's own lower-casing of Go names.
func decodeOutput(format, text string, v any) error {
	switch format {
	case "json":
		return json.Unmarshal([]byte(text), v)
	case "yaml":
		var generic any
		if err := yaml.Unmarshal([]byte(text), &generic); err != nil {
			return err
		}
		raw, err := json.Marshal(generic)
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, v)
	}
	return fmt.Errorf("format %q", format)
}

// TestExplainSimulateOutputAgainstRealGlbd: explain and simulate write
// glbd's documents with -o json and -o yaml, and explain of a name that is
// not a GSLB name fails as simulate does.
func TestExplainSimulateOutputAgainstRealGlbd(t *testing.T) {
	addr := realGlbd(t)
	type doc struct {
		Name    string             `json:"name"`
		Policy  string             `json:"policy"`
		Chosen  string             `json:"chosen"`
		Regions []map[string]any   `json:"regions"`
		Now     map[string]float64 `json:"now"`
		Clients int                `json:"clients"`
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check func(d doc) bool
	}{
		{"explain json", []string{"explain", "www", "81.2.69.160", "-o", "json"},
			func(d doc) bool { return d.Chosen == "eu-west" && d.Policy == "geo" && len(d.Regions) == 7 }},
		{"explain yaml", []string{"explain", "www", "81.2.69.160", "-o", "yaml", "--down", "eu-west"},
			func(d doc) bool { return d.Chosen == "eu-central" && d.Name == "www.gslb.example.test." }},
		{"simulate json", []string{"simulate", "www", "-o", "json"},
			func(d doc) bool { return d.Clients > 0 && d.Now["eu-west"] > 0 }},
		{"simulate yaml", []string{"simulate", "www", "-o", "yaml"},
			func(d doc) bool { return d.Clients > 0 && d.Now["ap-northeast"] > 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ctl(t, nil, append(tc.args, "--glbd", addr)...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			var d doc
			format := tc.args[slices.Index(tc.args, "-o")+1]
			if err := decodeOutput(format, r.stdout, &d); err != nil || !tc.check(d) {
				t.Errorf("err %v, document %+v from:\n%s", err, d, r.stdout)
			}
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"explain of no such name", []string{"explain", "nope.gslb.example.test", "81.2.69.160"}, "nope.gslb.example.test. is not a GSLB name (glbd answers it NXDOMAIN"},
		{"explain of a static name", []string{"explain", "mail", "81.2.69.160"}, "mail.gslb.example.test. is not a GSLB name (glbd answers it NOERROR with 1 record(s))"},
		{"simulate of no such name", []string{"simulate", "nope.gslb.example.test"}, "is not a GSLB name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ctl(t, nil, append(tc.args, "--glbd", addr)...)
			if r.code != exitFailure || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}
