package store

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/glb-dns/glb/store/schema"
)

// TestRBACProberAndReader runs glb's own parts with the least-privilege
// credentials: prober A publishes through a Publisher and watches the
// regions, glbd's watcher as reader sees A's per-prober reports beside a
// legacy prober's, and A's clean stop revokes its lease, which needs write
// permission on every key under it.
func TestRBACProberAndReader(t *testing.T) {
	s := rbacEtcd(t)
	reader := newWatcher(t, asUser(t, s, ReaderRole), nil)
	prober := asUser(t, s, ProberRole(testProber))
	regions := newWatcher(t, prober, func(w *Watcher) { w.WatchOnly("regions/") })

	// An old prober, not yet upgraded, writes the legacy layout (in a real
	// upgrade before auth is on; root stands in for it here), and A has a
	// legacy leftover that its new report must override.
	s.Put(t, schema.ProberKey(testPrefix, "old-1"), `{"lat":1,"lon":2}`)
	s.Put(t, schema.LegacyHealthKey(testPrefix, "eu-west", "192.0.2.10", "old-1"), `{"up":false,"time":"2026-01-01T00:00:00Z"}`)
	s.Put(t, schema.LegacyHealthKey(testPrefix, "eu-west", "192.0.2.10", testProber), `{"up":false,"time":"2026-01-01T00:00:00Z"}`)

	tp := startPublisher(t, prober, 5*time.Second, nil)
	if err := tp.Publish(t.Context(), "eu-west", "192.0.2.10", report(true)); err != nil {
		t.Fatal(err)
	}
	// A's registration and its report are separate puts, and A's legacy
	// leftover already gives it a (down) vote, so the reader may see A
	// registered before its report: wait for the report's up vote itself.
	// Were the legacy key to win the merge, this wait fails.
	st := reader.rec.waitFor(t, 10*time.Second, "A's per-prober report", func(st *schema.State) bool {
		r := st.Health["eu-west"]["192.0.2.10"][testProber]
		return r != nil && r.Up && st.Probers[testProber] != nil
	})
	votes := map[string]bool{}
	for p, r := range st.Health["eu-west"]["192.0.2.10"] {
		votes[p] = r.Up
	}
	if want := map[string]bool{testProber: true, "old-1": false}; !maps.Equal(votes, want) {
		t.Errorf("reader's votes on 192.0.2.10 = %v, want %v", votes, want)
	}
	if v := s.Get(t, schema.HealthKey(testPrefix, "eu-west", "192.0.2.10", testProber)); !strings.Contains(v, `"up":true`) {
		t.Errorf("A's per-prober key = %q", v)
	}

	if st := regions.rec.waitFor(t, 5*time.Second, "regions", func(st *schema.State) bool { return len(st.Regions) == 3 }); len(st.Zones) != 0 {
		t.Errorf("prober's watcher saw zones %v; it watches the regions only", st.Zones)
	}

	tp.wait(t)
	for _, k := range []string{schema.ProberKey(testPrefix, testProber), schema.HealthKey(testPrefix, "eu-west", "192.0.2.10", testProber)} {
		if v := s.Get(t, k); v != "" {
			t.Errorf("%s = %q after A stopped: its lease was not revoked", k, v)
		}
	}
}

// TestRBACReaderRefused runs operator tools' writes as the reader: each is
// refused, and nothing is written.
func TestRBACReaderRefused(t *testing.T) {
	s := rbacEtcd(t)
	root := s.UserClient(t, "root", "root-pw")
	adm := NewAdmin(asUser(t, s, ReaderRole), testPrefix)
	rolesBefore := rolesOf(t, root)
	configBefore, err := NewAdmin(root, testPrefix).ReadConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	_, err = adm.ApplyRBAC(t.Context(), RBACConfig{Probers: []string{testProber, "new-1"}})
	if !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Errorf("ApplyRBAC as reader = %v, want permission denied", err)
	}
	cur, err := adm.ReadConfig(t.Context())
	if err != nil {
		t.Fatalf("reader cannot read the configuration: %v", err)
	}
	err = adm.ApplyConfig(t.Context(), cur, []Change{{Op: ChangeUpdate, Key: schema.WeightKey(testPrefix, "eu-west"), New: "0"}})
	if !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Errorf("ApplyConfig as reader = %v, want permission denied", err)
	}

	if got := rolesOf(t, root); !maps.EqualFunc(got, rolesBefore, func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }) {
		t.Errorf("roles changed by refused ApplyRBAC:\n got %v\nwant %v", got, rolesBefore)
	}
	after, err := NewAdmin(root, testPrefix).ReadConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if after.Revision != configBefore.Revision || !maps.Equal(after.Values, configBefore.Values) {
		t.Errorf("configuration changed by refused writes: revision %d -> %d", configBefore.Revision, after.Revision)
	}
}
