package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/etcdtest"
)

// TestShippedFilesValidate: the dev seed and the deploy example are in
// glbctl's layout and valid as they are.
func TestShippedFilesValidate(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"../../testdata/dev/config.json", "ok: 17 keys\n"},
		{"../../deploy/examples/config.yaml", "ok: 14 keys\n"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := ctl(t, nil, "validate", "-f", tc.file)
			if r.code != 0 || r.stdout != tc.want || r.stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

// TestDevSeedIsApply: what glbd -dev seeds from a file (store.LoadSeedFile
// and store.Seed, which cmd/glbd calls) is key for key what glbctl apply
// of the same file writes, in one transaction, and a second seed into a
// prefix that holds keys writes nothing.
func TestDevSeedIsApply(t *testing.T) {
	srv := etcdtest.Start(t)
	c := srv.Client(t)
	env := map[string]string{"ETCDCTL_ENDPOINTS": srv.Endpoints()[0]}
	for _, file := range []string{"../../testdata/dev/config.json", "../../deploy/examples/config.yaml"} {
		t.Run(file, func(t *testing.T) {
			name := strings.NewReplacer("/", "_", ".", "_").Replace(file)
			applied, seeded := "/"+name+"-apply/", "/"+name+"-seed/"
			if r := ctl(t, env, "apply", "--prefix", applied, "-f", file); r.code != 0 {
				t.Fatalf("apply: exit %d, stderr %s", r.code, r.stderr)
			}
			kvs, err := store.LoadSeedFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []bool{true, false} {
				if wrote, err := store.Seed(t.Context(), c, seeded, kvs); err != nil || wrote != want {
					t.Fatalf("seed %d: wrote %v, err %v; want %v", i+1, wrote, err, want)
				}
			}
			a, err := store.NewAdmin(c, applied).ReadConfig(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			s, err := store.NewAdmin(c, seeded).ReadConfig(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			strip := func(vals map[string]string, prefix string) map[string]string {
				out := map[string]string{}
				for k, v := range vals {
					out[strings.TrimPrefix(k, prefix)] = v
				}
				return out
			}
			if got, want := strip(s.Values, seeded), strip(a.Values, applied); len(got) == 0 || !maps.Equal(got, want) {
				t.Errorf("seeded:\n%v\napplied:\n%v", got, want)
			}
			revs := map[int64]bool{}
			for _, r := range s.ModRevisions {
				revs[r] = true
			}
			if len(revs) != 1 {
				t.Errorf("the seed was written at %d revisions, want one transaction", len(revs))
			}
		})
	}
}
