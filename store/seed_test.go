package store

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/etcdtest"
)

func TestSeedWritesOnlyIntoAnEmptyPrefix(t *testing.T) {
	s := etcdtest.Start(t)
	c := newClient(t, s)
	ctx := t.Context()
	// A key beside the prefix does not make it non-empty.
	if _, err := c.Put(ctx, "/other/x", "1"); err != nil {
		t.Fatal(err)
	}

	wrote, err := Seed(ctx, c, testPrefix, testSeed)
	if err != nil || !wrote {
		t.Fatalf("first Seed = %v, %v; want true, nil", wrote, err)
	}
	resp, err := c.Get(ctx, testPrefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != len(testSeed) {
		t.Fatalf("%d keys under %s after Seed, want %d", len(resp.Kvs), testPrefix, len(testSeed))
	}
	for _, kv := range resp.Kvs {
		if want := testSeed[strings.TrimPrefix(string(kv.Key), testPrefix)]; string(kv.Value) != want {
			t.Errorf("%s = %q, want %q", kv.Key, kv.Value, want)
		}
	}
	// One transaction: every key has the same create revision.
	for _, kv := range resp.Kvs {
		if kv.CreateRevision != resp.Kvs[0].CreateRevision {
			t.Errorf("%s created at %d, %s at %d: not one transaction", kv.Key, kv.CreateRevision, resp.Kvs[0].Key, resp.Kvs[0].CreateRevision)
		}
	}

	// An operator changes a value; a second seed must not undo it.
	if _, err := c.Put(ctx, testPrefix+"regions/eu-west/weight", "0"); err != nil {
		t.Fatal(err)
	}
	wrote, err = Seed(ctx, c, testPrefix, map[string]string{"regions/eu-west/weight": "100", "regions/new": "{}"})
	if err != nil || wrote {
		t.Fatalf("second Seed = %v, %v; want false, nil", wrote, err)
	}
	got, err := c.Get(ctx, testPrefix+"regions/eu-west/weight")
	if err != nil {
		t.Fatal(err)
	}
	if v := string(got.Kvs[0].Value); v != "0" {
		t.Errorf("weight after a second Seed = %q, want the operator's 0", v)
	}
	if got, err := c.Get(ctx, testPrefix+"regions/new"); err != nil || got.Count != 0 {
		t.Errorf("second Seed wrote regions/new (count %d, err %v)", got.Count, err)
	}

	if _, err := Seed(ctx, c, "/fresh/", map[string]string{"/abs": "x"}); err == nil {
		t.Error("Seed accepted an absolute key")
	}
}

func TestLoadSeedFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	want := map[string]string{
		"regions/eu-west":                   `{"lat":50.11,"lon":8.68,"addrs":["192.0.2.10"]}`,
		"regions/eu-west/weight":            "100",
		"zones/gslb.example.test":           `{"ns":[{"name":"ns2.example.net"}]}`,
		"zones/gslb.example.test/names/www": `{"regions":["eu-west"],"ttl":30}`,
	}
	// The same document as YAML and as JSON: glbctl's layout.
	for name, content := range map[string]string{
		"ok.yaml": `regions:
  eu-west: {lat: 50.11, lon: 8.68, addrs: [192.0.2.10], weight: 100}
zones:
  gslb.example.test:
    ns: [{name: ns2.example.net}]
    names:
      www: {regions: [eu-west], ttl: 30}
`,
		"ok.json": `{
		"regions": {"eu-west": {"lat": 50.11, "lon": 8.68, "addrs": ["192.0.2.10"], "weight": "100"}},
		"zones": {"gslb.example.test": {"ns": [{"name": "ns2.example.net"}], "names": {"www": {"regions": ["eu-west"], "ttl": 30}}}}
	}`,
	} {
		kvs, err := LoadSeedFile(write(name, content))
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(kvs, want) {
			t.Errorf("LoadSeedFile(%s) = %v, want %v", name, kvs, want)
		}
	}

	for name, content := range map[string]string{
		"bad.json":       `{"regions": {"eu-west": {"lat": }}}`,
		"array.json":     `["regions/eu-west"]`,
		"dup.yaml":       "regions:\n  a: {lat: 1, lon: 1, addrs: [192.0.2.1]}\n  a: {lat: 2, lon: 1, addrs: [192.0.2.1]}\n",
		"flat.json":      `{"regions/a/weight": "1"}`,
		"invalid.yaml":   "regions:\n  a: {lat: 91, lon: 1, addrs: [192.0.2.1]}\n",
		"trailing.json":  `{"regions": {}} {}`,
		"truncated.json": `{"regions": {}`,
	} {
		p := write(name, content)
		if _, err := LoadSeedFile(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("LoadSeedFile(%s) error = %v, want an error naming the path", name, err)
		}
	}
	missing := filepath.Join(dir, "missing.json")
	if _, err := LoadSeedFile(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadSeedFile(missing) error = %v, want an error naming the path", err)
	}
}
