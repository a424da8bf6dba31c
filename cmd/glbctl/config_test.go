package main

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/glb-dns/glb/store"
)

// writeFile writes a file in the test's directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExportApplyRoundTrip: the example configuration, exported, wiped,
// applied from the export and exported again, comes back identical, key
// for key and byte for byte.
func TestExportApplyRoundTrip(t *testing.T) {
	s, env := devEtcd(t)
	seeded := configOf(t, s)
	first := ctl(t, env, "export")
	if first.code != 0 || first.stderr != "" {
		t.Fatalf("export: exit %d, stderr %s", first.code, first.stderr)
	}
	if !strings.Contains(first.stdout, "  eu-west:\n") || strings.Contains(first.stdout, "probers") {
		t.Errorf("export does not look right:\n%s", first.stdout)
	}
	file := writeFile(t, "glb.yaml", first.stdout)
	if r := ctl(t, env, "validate", "-f", file); r.code != 0 || r.stdout != "ok: 17 keys\n" {
		t.Fatalf("validate: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}

	// Wipe, through the store API: apply refuses an empty file.
	if err := s.adm.ApplyConfig(t.Context(), seeded, store.DiffConfig(seeded, nil)); err != nil {
		t.Fatal(err)
	}
	if n := len(configOf(t, s).Values); n != 0 {
		t.Fatalf("%d keys left after the wipe", n)
	}
	s.Put(t, "/glb/probers/p1", `{"lat":1,"lon":1}`) // not configuration: apply leaves it alone

	r := ctl(t, env, "apply", "-f", file)
	if r.code != 0 || !strings.Contains(r.stdout, "applied 17 change(s)") {
		t.Fatalf("apply: exit %d, stdout %s, stderr %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "+ regions.eu-west.weight: 100\n") {
		t.Errorf("apply's diff lacks the weight:\n%s", r.stdout)
	}
	if got := configOf(t, s).Values; !maps.Equal(got, seeded.Values) {
		t.Errorf("after apply:\n got %v\nwant %v", got, seeded.Values)
	}
	if s.Get(t, "/glb/probers/p1") == "" {
		t.Error("apply deleted a prober key")
	}
	second := ctl(t, env, "export")
	if second.stdout != first.stdout {
		t.Errorf("second export differs:\n%s\n---\n%s", first.stdout, second.stdout)
	}
	// Applying the same file again changes nothing.
	if r := ctl(t, env, "apply", "-f", file); r.code != 0 || !strings.HasPrefix(r.stdout, "no changes") {
		t.Errorf("second apply: exit %d, stdout %s", r.code, r.stdout)
	}
}

// TestApplyInvalidWritesNothing: each mistake is reported with its line,
// and etcd is left as it was.
func TestApplyInvalidWritesNothing(t *testing.T) {
	s, env := devEtcd(t)
	before := configOf(t, s)
	exported := ctl(t, env, "export").stdout
	lineOf := func(substr string) int {
		for i, l := range strings.Split(exported, "\n") {
			if strings.Contains(l, substr) {
				return i + 1
			}
		}
		t.Fatalf("%q is not in the export", substr)
		return 0
	}
	cases := []struct {
		name     string
		old, new string
		want     string // the problem line, after "glb.yaml:<line>: "
		line     string // where the mistake is: a substring of the original line
	}{
		{name: "bad address", old: "addrs: [198.51.100.10, 198.51.100.11,", new: "addrs: [198.51.100.10, 198.51.100.300,",
			line: "addrs: [198.51.100.10, 198.51.100.11,", want: `regions.eu-west.addrs[1]: ParseAddr("198.51.100.300")`},
		{name: "unknown policy", old: "policy: geo", new: "policy: nearest",
			line: "policy: geo", want: `zones."gslb.example.test".names.www.policy: policy "nearest" is unknown`},
		{name: "name references a missing region", old: "api: {regions: [us-east, eu-west]", new: "api: {regions: [us-east, eu-wets]",
			line: "api: {regions:", want: `zones."gslb.example.test".names.api.regions[1]: region "eu-wets" does not exist`},
		{name: "unknown field", old: "    continent: SA\n", new: "    continent: SA\n    wieght: 10\n",
			line: "continent: SA", want: `regions.sa-east.wieght: unknown field "wieght"; did you mean "weight"?`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(exported, tc.old) {
				t.Fatalf("%q is not in the export", tc.old)
			}
			line := lineOf(tc.line)
			if tc.name == "unknown field" {
				line++ // the new line goes after it
			}
			file := writeFile(t, "glb.yaml", strings.Replace(exported, tc.old, tc.new, 1))
			for _, cmd := range []string{"validate", "apply"} {
				r := ctl(t, env, cmd, "-f", file)
				// file:line:col: path: message
				want := regexp.MustCompile("^" + regexp.QuoteMeta(file+":"+strconv.Itoa(line)+":") + `\d+: ` + regexp.QuoteMeta(tc.want))
				summary := "1 problem(s)"
				if cmd == "apply" {
					summary += ", nothing was written"
				}
				if r.code != 2 || !want.MatchString(r.stderr) || !strings.HasSuffix(r.stderr, summary+"\n") {
					t.Errorf("%s: exit %d, stderr:\n%s\nwant 2 and a first line starting %s", cmd, r.code, r.stderr, want)
				}
				if r.stdout != "" {
					t.Errorf("%s: stdout %q, want nothing", cmd, r.stdout)
				}
			}
			if after := configOf(t, s); after.Revision != before.Revision {
				t.Errorf("etcd changed: revision %d -> %d", before.Revision, after.Revision)
			}
		})
	}
	t.Run("empty file", func(t *testing.T) {
		r := ctl(t, env, "apply", "-f", writeFile(t, "empty.yaml", "# nothing\n"))
		if r.code != 1 || !strings.Contains(r.stderr, "would delete the whole configuration") {
			t.Errorf("exit %d, stderr %s", r.code, r.stderr)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		r := ctl(t, env, "validate", "-f", filepath.Join(t.TempDir(), "nope.yaml"))
		if r.code != 2 || !strings.Contains(r.stderr, "no such file") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %s", r.code, r.stderr)
		}
	})
}

// TestApplyDryRunAndStale: --dry-run prints the diff and writes nothing;
// a real apply whose read went stale (someone changed a weight between
// glbctl's read and its write) is refused whole.
func TestApplyDryRunAndStale(t *testing.T) {
	s, env := devEtcd(t)
	exported := ctl(t, env, "export").stdout
	edited := strings.Replace(exported, "policy: geo", "policy: latency", 1)
	edited = strings.Replace(edited, "      status:\n        CNAME: {values: [status.example.net.]}\n", "", 1)
	edited = strings.Replace(edited, "  us-west:\n", "  us-west:\n    weight: 50\n", 1)
	file := writeFile(t, "glb.yaml", edited)
	before := configOf(t, s)

	wantDiff := `+ regions.us-west.weight: 50
~ zones."gslb.example.test".names.www.policy: "geo" → "latency"
- zones."gslb.example.test".records.status.CNAME: {"values":["status.example.net."]}
dry run: 3 key(s) to change against revision ` + strconv.FormatInt(before.Revision, 10) + `, nothing written
`
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"dry run", []string{"--dry-run"}, 0},
		{"dry run with --exit-code", []string{"--dry-run", "--exit-code"}, 1},
	} {
		r := ctl(t, env, append([]string{"apply", "-f", file}, tc.args...)...)
		if r.code != tc.code || r.stdout != wantDiff || r.stderr != "" {
			t.Errorf("%s: exit %d, stdout:\n%s\nstderr %q; want %d and\n%s", tc.name, r.code, r.stdout, r.stderr, tc.code, wantDiff)
		}
	}
	if after := configOf(t, s); after.Revision != before.Revision {
		t.Fatalf("dry run wrote: revision %d -> %d", before.Revision, after.Revision)
	}

	a, out, errOut := newTestApp(env)
	a.beforeApply = func() { s.Put(t, "/glb/regions/eu-west/weight", "0") }
	r := runApp(t, a, out, errOut, "apply", "-f", file)
	if r.code != 1 || !strings.Contains(r.stderr, "changed since it was read") || !strings.Contains(r.stderr, "run glbctl apply again") {
		t.Errorf("stale apply: exit %d, stderr %s", r.code, r.stderr)
	}
	after := configOf(t, s)
	if after.Values["/glb/zones/gslb.example.test/records/status/CNAME"] == "" || after.Values["/glb/regions/us-west/weight"] != "" {
		t.Error("the stale apply wrote some of its changes")
	}
	if after.Values["/glb/regions/eu-west/weight"] != "0" {
		t.Error("the other operator's change was lost")
	}

	// Run again, as the message says: the diff now also puts eu-west back.
	r = ctl(t, env, "apply", "-f", file)
	if r.code != 0 || !strings.Contains(r.stdout, "~ regions.eu-west.weight: 0 → 100\n") || !strings.Contains(r.stdout, "applied 4 change(s)") {
		t.Errorf("second apply: exit %d, stdout %s, stderr %s", r.code, r.stdout, r.stderr)
	}
}

// TestValidateHelpStatesItsExitStatus: validate's help names the status it
// really exits with for an invalid file.
func TestValidateHelpStatesItsExitStatus(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "regions:\n  eu:\n    lat: 500\n")
	r := ctl(t, nil, "validate", "-f", bad)
	if r.code == 0 {
		t.Fatalf("validate of an invalid file: exit 0, stdout %q", r.stdout)
	}
	help := ctl(t, nil, "validate", "--help")
	if want := "exits with " + strconv.Itoa(r.code) + " when it is not"; !strings.Contains(help.stdout, want) {
		t.Errorf("validate --help lacks %q (validate exited %d):\n%s", want, r.code, help.stdout)
	}
}
