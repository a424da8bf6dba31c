package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadCommandLines runs glbd with each bad flag, value and file, and
// checks that it refuses to start with exit status 2 and exactly one line
// on stderr naming the flag (and the file, where there is one). Nothing
// here reaches etcd: every case fails before glbd would connect.
func TestBadCommandLines(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := write("corrupt.mmdb", strings.Repeat("not a maxmind database\n", 100))
	empty := write("empty.mmdb", "")
	truncated := func() string {
		db, err := os.ReadFile(testDB)
		if err != nil {
			t.Fatal(err)
		}
		return write("truncated.mmdb", string(db[:len(db)/2]))
	}()
	badJSON := write("bad.json", "{\n  \"regions\": {\"eu\": {\"lat\": 1,\n")
	dupKey := write("dup.yaml", "regions:\n  eu: {weight: 1}\n  eu: {weight: 2}\n")
	notObject := write("list.json", `["regions/eu"]`)
	flat := write("flat.json", `{"regions/eu/weight": "1"}`)
	missing := filepath.Join(dir, "missing.mmdb")
	good := []string{"-geoip", testDB, "-etcd", "http://127.0.0.1:1", "-dns", "127.0.0.1:0", "-http", "127.0.0.1:0", "-cache-file", ""}
	dev := []string{"-dev", "-geoip", testDB, "-dev-etcd", "127.0.0.1:0", "-dns", "127.0.0.1:0", "-http", "127.0.0.1:0"}

	cases := []struct {
		name string
		args []string
		want []string // substrings of the one line
	}{
		{"unknown flag", []string{"-bogus"}, []string{"-bogus"}},
		{"positional argument", append(good, "extra"), []string{"extra"}},
		{"flag without its value", []string{"-geoip"}, []string{"-geoip"}},
		{"-dns without a port", append(good, "-dns", "localhost"), []string{"-dns", "localhost"}},
		{"-http not an address", append(good, "-http", "::::"), []string{"-http"}},
		{"-log-level unknown", append(good, "-log-level", "loud"), []string{"-log-level", "loud"}},
		{"-log-format unknown", append(good, "-log-format", "logfmt"), []string{"-log-format", "logfmt", "want text or json"}},
		{"-health-quorum 1.5", append(good, "-health-quorum", "1.5"), []string{"-health-quorum"}},
		{"-health-quorum not a number", append(good, "-health-quorum", "most"), []string{"-health-quorum"}},
		{"-geoip-poll too short", append(good, "-geoip-poll", "1ms"), []string{"-geoip-poll"}},
		{"-geoip-poll not a duration", append(good, "-geoip-poll", "often"), []string{"-geoip-poll"}},
		{"-query-log-sample above 1", append(good, "-query-log-sample", "2"), []string{"-query-log-sample"}},
		{"-prefix without slashes", append(good, "-prefix", "glb"), []string{"-prefix"}},
		{"-cache-file a directory", append(good, "-cache-file", dir+"/"), []string{"-cache-file"}},
		{"-cache-file in a missing directory", append(good, "-cache-file", filepath.Join(dir, "no", "such", "cache.json")), []string{"-cache-file", "no/such"}},
		{"-geoip missing", []string{"-geoip"}, []string{"-geoip"}},
		{"-geoip file missing", append(good, "-geoip", missing), []string{"-geoip", "missing.mmdb"}},
		{"-geoip is a directory", append(good, "-geoip", dir), []string{"-geoip", dir}},
		{"-geoip corrupt", append(good, "-geoip", corrupt), []string{"-geoip", "corrupt.mmdb"}},
		{"-geoip empty", append(good, "-geoip", empty), []string{"-geoip", "empty.mmdb"}},
		{"-geoip truncated", append(good, "-geoip", truncated), []string{"-geoip", "truncated.mmdb"}},
		{"-geoip-asn missing", append(good, "-geoip-asn", missing), []string{"-geoip-asn", "missing.mmdb"}},
		{"-geoip-asn corrupt", append(good, "-geoip-asn", corrupt), []string{"-geoip-asn", "corrupt.mmdb"}},
		{"-geoip-asn a City database", append(good, "-geoip-asn", testDB), []string{"-geoip-asn", "not an ASN database"}},
		{"-dev with -etcd", append(dev, "-etcd", "http://127.0.0.1:1"), []string{"-etcd", "-dev"}},
		{"-dev-prober-location not lat,lon", append(dev, "-dev-prober-location", "north"), []string{"-dev-prober-location"}},
		{"-dev-seed missing", append(dev, "-dev-seed", filepath.Join(dir, "none.json")), []string{"-dev-seed", "none.json"}},
		{"-dev-seed bad JSON", append(dev, "-dev-seed", badJSON), []string{"-dev-seed", "bad.json:3:1", "bad JSON"}},
		{"-dev-seed key twice", append(dev, "-dev-seed", dupKey), []string{"-dev-seed", "dup.yaml:3:3", "given twice"}},
		{"-dev-seed not an object", append(dev, "-dev-seed", notObject), []string{"-dev-seed", "list.json"}},
		{"-dev-seed in the old flat layout", append(dev, "-dev-seed", flat), []string{"-dev-seed", "flat.json:1:2", "unknown section"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tc.args, func(string) string { return "" }, io.Discard, &stderr)
			t.Log(strings.TrimSpace(stderr.String()))
			out := stderr.String()
			if code != 2 || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || !strings.HasPrefix(out, "glbd: ") {
				t.Fatalf("exit %d, stderr %q; want 2 and one line", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("stderr %q does not name %q", out, w)
				}
			}
		})
	}
}
