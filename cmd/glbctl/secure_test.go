package main

import (
	"strings"
	"testing"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/etcdtest"
)

// credsEnv is creds as etcdctl's variables, as an operator exports them.
func credsEnv(c etcdtest.Creds) map[string]string {
	env := map[string]string{"ETCDCTL_ENDPOINTS": strings.Join(c.Endpoints, ","), "ETCDCTL_CACERT": c.CACert,
		"ETCDCTL_CERT": c.Cert, "ETCDCTL_KEY": c.Key, "ETCDCTL_USER": c.User, "ETCDCTL_PASSWORD": c.Password}
	for k, v := range env {
		if v == "" {
			delete(env, k)
		}
	}
	return env
}

// TestSecureEtcd: over TLS with client-certificate or password auth, an
// operator's credential (from ETCDCTL_* variables, or from flags) changes
// the configuration; a reader's reads it and is refused a change, with
// the operation named, a failure exit and nothing written.
func TestSecureEtcd(t *testing.T) {
	for _, mode := range etcdtest.AuthModes {
		t.Run(mode.Name, func(t *testing.T) {
			s := etcdtest.StartSecure(t, mode.Opts)
			kvs, err := store.LoadSeedFile("../../testdata/dev/config.json")
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := store.Seed(t.Context(), s.Client(t), "/glb/", kvs); err != nil || !ok {
				t.Fatalf("seed: %v, %v", ok, err)
			}
			s.AddUser(t, "glb-operator", etcdtest.ReadWrite("/glb/"))
			s.AddUser(t, "glb-reader", etcdtest.Read("/glb/"))
			operator, reader := s.Creds(t, "glb-operator"), s.Creds(t, "glb-reader")

			if r := ctl(t, credsEnv(operator), "weight", "eu-west", "42"); r.code != 0 {
				t.Fatalf("weight as operator (variables): exit %d, stderr %s", r.code, r.stderr)
			}
			if r := ctl(t, nil, append(operator.Args(t), "weight", "eu-west", "43")...); r.code != 0 {
				t.Fatalf("weight as operator (flags): exit %d, stderr %s", r.code, r.stderr)
			}
			if got := s.Get(t, "/glb/regions/eu-west/weight"); got != "43" {
				t.Fatalf("weight %q after the operator's change, want 43", got)
			}

			export := ctl(t, credsEnv(reader), "export")
			if export.code != 0 || !strings.Contains(export.stdout, "eu-west") {
				t.Fatalf("export as reader: exit %d, stderr %s", export.code, export.stderr)
			}
			r := ctl(t, credsEnv(reader), "weight", "eu-west", "0")
			if r.code != exitFailure || !strings.Contains(r.stderr, `etcd denied write of key "/glb/regions/eu-west/weight"`) {
				t.Errorf("weight as reader: exit %d, stderr %q; want exit 1 naming the denied write", r.code, r.stderr)
			}
			changed := strings.Replace(export.stdout, "weight: 43", "weight: 7", 1)
			if changed == export.stdout {
				t.Fatalf("no eu-west weight of 43 in the export:\n%s", export.stdout)
			}
			file := writeFile(t, "glb.yaml", changed)
			r = ctl(t, credsEnv(reader), "apply", "-f", file)
			if r.code != exitFailure || !strings.Contains(r.stderr, `etcd denied write of prefix "/glb/"`) {
				t.Errorf("apply as reader: exit %d, stderr %q; want exit 1 naming the denied write", r.code, r.stderr)
			}
			if got := s.Get(t, "/glb/regions/eu-west/weight"); got != "43" {
				t.Errorf("weight %q after the reader's refused changes, want 43", got)
			}
		})
	}
}
