package store

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

const otherProber = "probe-2" // prober B; testProber is A

// testPasswords gives every user of the test a password of its own.
func testPasswords(probers ...string) map[string]string {
	pw := map[string]string{ReaderRole: "reader-pw", OperatorRole: "operator-pw"}
	for _, p := range probers {
		pw[ProberRole(p)] = p + "-pw"
	}
	return pw
}

// rolesOf reads every glb role's permissions and every glb user's roles.
func rolesOf(t *testing.T, c *clientv3.Client) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	roles, err := c.RoleList(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles.Roles {
		resp, err := c.RoleGet(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.Perm {
			out["role "+r] = append(out["role "+r], Permission{accessOf(p.PermType), string(p.Key), string(p.RangeEnd)}.String())
		}
		slices.Sort(out["role "+r])
	}
	users, err := c.UserList(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users.Users {
		resp, err := c.UserGet(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		out["user "+u] = append([]string{}, resp.Roles...)
	}
	return out
}

// TestApplyRBACIdempotent applies the roles twice (the second run changes
// nothing), then changes them behind glb's back: a third run puts back
// exactly what was changed.
func TestApplyRBACIdempotent(t *testing.T) {
	_, c := seeded(t)
	adm := NewAdmin(c, testPrefix)
	cfg := RBACConfig{Probers: []string{testProber, otherProber}, Passwords: testPasswords(testProber)}

	first, err := adm.ApplyRBAC(t.Context(), cfg)
	if err != nil {
		t.Fatalf("first ApplyRBAC: %v", err)
	}
	want := map[string][]string{
		"role glb-reader": {"read --prefix /glb-keys/", "read --prefix /glb/"},
		"role glb-operator": {"read --prefix /glb/", "readwrite --prefix /glb-keys/public/", "readwrite --prefix /glb/nets/",
			"readwrite --prefix /glb/regions/", "readwrite --prefix /glb/zones/", "write --prefix /glb-keys/private/"},
		"role glb-prober-probe-1": {"read --prefix /glb/regions/", "write --prefix /glb/health/probe-1/", "write /glb/probers/probe-1"},
		"role glb-prober-probe-2": {"read --prefix /glb/regions/", "write --prefix /glb/health/probe-2/", "write /glb/probers/probe-2"},
		"user glb-reader":         {"glb-reader"},
		"user glb-operator":       {"glb-operator"},
		"user glb-prober-probe-1": {"glb-prober-probe-1"},
		"user glb-prober-probe-2": {"glb-prober-probe-2"},
	}
	if got := rolesOf(t, c); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("after the first run:\n got %v\nwant %v", got, want)
	}
	// 4 roles created, 14 grants, 4 users created, 4 roles bound.
	if len(first.Changes) != 26 {
		t.Errorf("first run: %d changes, want 26: %q", len(first.Changes), first.Changes)
	}
	if !slices.Contains(first.Changes, "user glb-prober-probe-2: created without a password (it logs in with a client certificate whose CN is glb-prober-probe-2)") {
		t.Errorf("first run does not say probe-2's user has no password: %q", first.Changes)
	}

	second, err := adm.ApplyRBAC(t.Context(), cfg)
	if err != nil || len(second.Changes) != 0 {
		t.Fatalf("second ApplyRBAC = %q, %v; want no changes", second.Changes, err)
	}
	if len(second.Notes) != 3 || !strings.Contains(second.Notes[0], "password is left as it is") {
		t.Errorf("second run notes = %q, want one per user with a password", second.Notes)
	}

	// Someone widens a prober's role and gives the reader the operator's.
	if _, err := c.RoleGrantPermission(t.Context(), ProberRole(testProber), testPrefix, clientv3.GetPrefixRangeEnd(testPrefix),
		clientv3.PermissionType(clientv3.PermReadWrite)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UserGrantRole(t.Context(), ReaderRole, OperatorRole); err != nil {
		t.Fatal(err)
	}
	third, err := adm.ApplyRBAC(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := []string{"role glb-prober-probe-1: revoked readwrite --prefix /glb/", "user glb-reader: revoked role glb-operator"}
	if !slices.Equal(slices.Sorted(slices.Values(third.Changes)), wantChanges) {
		t.Errorf("third run = %q, want %q", third.Changes, wantChanges)
	}
	if got := rolesOf(t, c); !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("after the third run:\n got %v\nwant %v", got, want)
	}
}

// TestApplyRBACRefuses checks the inputs refused before anything is
// written.
func TestApplyRBACRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  RBACConfig
		want string
	}{
		{"prober id that is a region id", RBACConfig{Probers: []string{"p1", "eu-west"}}, `prober id "eu-west" is also a region id`},
		{"bad prober id", RBACConfig{Probers: []string{"FRA"}}, "prober id"},
		{"password for an unknown user", RBACConfig{Probers: []string{"p1"}, Passwords: map[string]string{"glb-prober-p2": "x"}},
			`password given for user "glb-prober-p2"`},
	}
	_, c := seeded(t)
	adm := NewAdmin(c, testPrefix)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adm.ApplyRBAC(t.Context(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ApplyRBAC = %v, want an error with %q", err, tc.want)
			}
			if got := rolesOf(t, c); len(got) != 0 {
				t.Errorf("refused ApplyRBAC wrote %v", got)
			}
		})
	}
}

// rbacEtcd starts etcd with the test configuration, the roles and users
// for probers A and B, and password authentication on.
func rbacEtcd(t *testing.T) *etcdtest.Server {
	t.Helper()
	s, c := seeded(t)
	if _, err := NewAdmin(c, testPrefix).ApplyRBAC(t.Context(), RBACConfig{
		Probers: []string{testProber, otherProber}, Passwords: testPasswords(testProber, otherProber),
	}); err != nil {
		t.Fatal(err)
	}
	s.EnableAuth(t, "root-pw")
	return s
}

// asUser returns a client logged in as one of the test's users.
func asUser(t *testing.T, s *etcdtest.Server, user string) *clientv3.Client {
	return s.UserClient(t, user, testPasswords(testProber, otherProber)[user])
}

// TestRBACEnforced runs each credential against etcd with auth on and
// checks what it may and may not do.
func TestRBACEnforced(t *testing.T) {
	s := rbacEtcd(t)
	region := `{"lat":1,"lon":2,"addrs":["192.0.2.99"]}`
	health := `{"up":true,"time":"2026-01-01T00:00:00Z"}`
	put := func(key, value string) func(context.Context, *clientv3.Client) error {
		return func(ctx context.Context, c *clientv3.Client) error {
			_, err := c.Put(ctx, key, value)
			return err
		}
	}
	get := func(key string, opts ...clientv3.OpOption) func(context.Context, *clientv3.Client) error {
		return func(ctx context.Context, c *clientv3.Client) error {
			_, err := c.Get(ctx, key, opts...)
			return err
		}
	}
	// putLeased writes under a lease of the user's own, as probers do.
	putLeased := func(key, value string) func(context.Context, *clientv3.Client) error {
		return func(ctx context.Context, c *clientv3.Client) error {
			l, err := c.Grant(ctx, 10)
			if err != nil {
				return err
			}
			_, err = c.Put(ctx, key, value, clientv3.WithLease(l.ID))
			return err
		}
	}
	// applyWeight changes a weight as glbctl apply does: read, then write
	// in a transaction guarded by compares, which need read permission.
	applyWeight := func(w string) func(context.Context, *clientv3.Client) error {
		return func(ctx context.Context, c *clientv3.Client) error {
			adm := NewAdmin(c, testPrefix)
			cur, err := adm.ReadConfig(ctx)
			if err != nil {
				return err
			}
			return adm.ApplyConfig(ctx, cur, []Change{{Op: ChangeUpdate, Key: schema.WeightKey(testPrefix, "eu-west"), New: w}})
		}
	}
	prefix := clientv3.WithPrefix()
	ownHealth := schema.HealthKey(testPrefix, "eu-west", "192.0.2.10", testProber)
	tests := []struct {
		user   string
		what   string
		op     func(context.Context, *clientv3.Client) error
		denied bool
	}{
		{ReaderRole, "read the whole prefix", get(testPrefix, prefix), false},
		{ReaderRole, "write a region", put(schema.RegionKey(testPrefix, "new"), region), true},
		{ReaderRole, "write a weight", put(schema.WeightKey(testPrefix, "eu-west"), "0"), true},
		{ReaderRole, "write a health key", put(ownHealth, health), true},

		{OperatorRole, "read the whole prefix", get(testPrefix, prefix), false},
		{OperatorRole, "write a region", put(schema.RegionKey(testPrefix, "new"), region), false},
		{OperatorRole, "write a weight", put(schema.WeightKey(testPrefix, "eu-west"), "10"), false},
		{OperatorRole, "write a name", put(schema.NameKey(testPrefix, "gslb.example.test", "api"), `{"regions":["eu-west"]}`), false},
		{OperatorRole, "apply a change as glbctl apply does", applyWeight("20"), false},
		{OperatorRole, "write a health key", put(ownHealth, health), true},
		{OperatorRole, "write a prober registration", put(schema.ProberKey(testPrefix, testProber), `{"lat":1,"lon":2}`), true},

		{ProberRole(testProber), "read the regions", get(testPrefix+"regions/", prefix), false},
		{ProberRole(testProber), "write its registration under a lease", putLeased(schema.ProberKey(testPrefix, testProber), `{"lat":1,"lon":2}`), false},
		{ProberRole(testProber), "write its health key under a lease", putLeased(ownHealth, health), false},
		{ProberRole(testProber), "read the whole prefix", get(testPrefix, prefix), true},
		{ProberRole(testProber), "write a region", put(schema.RegionKey(testPrefix, "eu-west"), region), true},
		{ProberRole(testProber), "write a weight", put(schema.WeightKey(testPrefix, "eu-west"), "0"), true},
		{ProberRole(testProber), "apply a change as glbctl apply does", applyWeight("0"), true},
		{ProberRole(testProber), "write prober B's health key", putLeased(schema.HealthKey(testPrefix, "eu-west", "192.0.2.10", otherProber), health), true},
		{ProberRole(testProber), "write prober B's registration", putLeased(schema.ProberKey(testPrefix, otherProber), `{"lat":1,"lon":2}`), true},
		{ProberRole(testProber), "write B's vote in the legacy layout", putLeased(schema.LegacyHealthKey(testPrefix, "eu-west", "192.0.2.10", otherProber), health), true},
		{ProberRole(testProber), "write a key sharing its id's first characters", put(testPrefix+"health/"+testProber+"0/eu-west/192.0.2.10", health), true},
	}
	clients := map[string]*clientv3.Client{}
	for _, tc := range tests {
		if clients[tc.user] == nil {
			clients[tc.user] = asUser(t, s, tc.user)
		}
	}
	for _, tc := range tests {
		t.Run(tc.user+" "+tc.what, func(t *testing.T) {
			c := clients[tc.user]
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := tc.op(ctx, c)
			if got := errors.Is(err, rpctypes.ErrPermissionDenied); got != tc.denied {
				t.Fatalf("err = %v; want denied %v", err, tc.denied)
			}
			if !tc.denied && err != nil {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
