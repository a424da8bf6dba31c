package main

import (
	"strings"
	"testing"

	"github.com/glb-dns/glb/store"
)

// asEtcdUser makes the rbac command log in as user for the rest of the
// test. (glbctl's own credential flags are added elsewhere; this seam is
// what the command connects through.)
func asEtcdUser(t *testing.T, s *etcdFixture, user, password string) {
	t.Helper()
	c := s.UserClient(t, user, password)
	rbacAdmin = func(a *app) (*store.Admin, func(), error) { return store.NewAdmin(c, a.g.prefix), func() {}, nil }
	t.Cleanup(func() { rbacAdmin = (*app).admin })
}

// TestRBACApply runs 'glbctl rbac apply' twice (the second run changes
// nothing and says so), turns auth on, and logs in with the passwords the
// file set: a prober's user may write its own health keys only, and the
// reader running the command is refused with nothing written.
func TestRBACApply(t *testing.T) {
	s, env := devEtcd(t)
	pw := writeFile(t, "passwords", "# glb's etcd users\nglb-reader:r-secret\n\nglb-prober-fra-1:f:secret\r\n")
	args := []string{"rbac", "apply", "--prober", "fra-1", "--prober", "iad-1,fra-1", "--password-file", pw}

	first := ctl(t, env, args...)
	if first.code != exitOK {
		t.Fatalf("first run: exit %d, stderr %s", first.code, first.stderr)
	}
	for _, want := range []string{
		"role glb-reader: created",
		"role glb-prober-fra-1: granted write --prefix /glb/health/fra-1/",
		"role glb-prober-iad-1: granted read --prefix /glb/regions/",
		"user glb-prober-fra-1: created with the password from the password file",
		"user glb-prober-iad-1: created without a password",
		"etcdctl auth enable",
	} {
		if !strings.Contains(first.stdout, want) {
			t.Errorf("first run's output lacks %q:\n%s", want, first.stdout)
		}
	}
	if strings.Contains(first.stdout, "secret") {
		t.Errorf("output shows a password:\n%s", first.stdout)
	}

	second := ctl(t, env, args...)
	if second.code != exitOK || !strings.Contains(second.stdout, "nothing to change") || strings.Contains(second.stdout, ": created") {
		t.Fatalf("second run: exit %d, stdout:\n%s\nstderr %s", second.code, second.stdout, second.stderr)
	}

	s.EnableAuth(t, "root-pw")
	// The password is everything after the first ':', the \r dropped.
	prober := s.UserClient(t, "glb-prober-fra-1", "f:secret")
	if _, err := prober.Put(t.Context(), "/glb/health/fra-1/eu-west/198.51.100.10", `{"up":true,"time":"2026-01-01T00:00:00Z"}`); err != nil {
		t.Errorf("fra-1 writing its own health key: %v", err)
	}
	if _, err := prober.Put(t.Context(), "/glb/health/iad-1/eu-west/198.51.100.10", `{"up":true,"time":"2026-01-01T00:00:00Z"}`); err == nil {
		t.Error("fra-1 wrote iad-1's health key")
	}

	asEtcdUser(t, s, "root", "root-pw")
	if r := ctl(t, env, args...); r.code != exitOK || !strings.Contains(r.stdout, "authentication is on") {
		t.Errorf("run as root with auth on: exit %d, stdout:\n%s", r.code, r.stdout)
	}

	before := s.Get(t, "/glb/regions/eu-west/weight") + "|" + strings.Join(roleNames(t, s), ",")
	asEtcdUser(t, s, "glb-reader", "r-secret")
	r := ctl(t, env, "rbac", "apply", "--prober", "fra-1", "--prober", "new-1")
	if r.code != exitFailure || !strings.Contains(r.stderr, "permission denied") || !strings.Contains(r.stderr, "root role") {
		t.Errorf("run as reader: exit %d, stderr %q; want 1 and a permission denied naming the root role", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("run as reader printed changes:\n%s", r.stdout)
	}
	if after := s.Get(t, "/glb/regions/eu-west/weight") + "|" + strings.Join(roleNames(t, s), ","); after != before {
		t.Errorf("refused run changed etcd: %s -> %s", before, after)
	}
}

func roleNames(t *testing.T, s *etcdFixture) []string {
	t.Helper()
	resp, err := s.UserClient(t, "root", "root-pw").RoleList(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Roles
}

// TestRBACApplyBadInput checks command lines and password files refused
// before etcd is asked anything.
func TestRBACApplyBadInput(t *testing.T) {
	tests := []struct {
		name     string
		pwFile   string // written to a file and passed as --password-file, if set
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no subcommand", "", []string{"rbac"}, exitUsage, "want 'rbac apply'"},
		{"unknown subcommand", "", []string{"rbac", "delete"}, exitUsage, "want 'rbac apply'"},
		{"line without a colon", "glb-reader\n", nil, exitUsage, "passwords:1: want user:password"},
		{"empty password", "# c\nglb-reader:\n", nil, exitUsage, "passwords:2: empty password for glb-reader"},
		{"user twice", "glb-reader:a\nglb-reader:b\n", nil, exitUsage, "passwords:2: second password for glb-reader"},
		{"missing file", "", []string{"rbac", "apply", "--password-file", "/nonexistent/pw"}, exitUsage, "read password file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.pwFile != "" {
				args = []string{"rbac", "apply", "--prober", "p1", "--password-file", writeFile(t, "passwords", tc.pwFile)}
			}
			// No etcd listens here: a run that got as far as asking
			// would fail differently.
			r := ctl(t, map[string]string{"ETCDCTL_ENDPOINTS": "127.0.0.1:1"}, args...)
			if r.code != tc.wantCode || !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}
