package store

import (
	"errors"
	"maps"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestKeysPrefix(t *testing.T) {
	for prefix, want := range map[string]string{
		"/glb/":         "/glb-keys/",
		"/apps/glb/":    "/apps/glb-keys/",
		"/":             "/glb-keys/",
		"/glb-staging/": "/glb-staging-keys/",
	} {
		got := KeysPrefix(prefix)
		if got != want {
			t.Errorf("KeysPrefix(%q) = %q, want %q", prefix, got, want)
		}
		// Never inside the configuration's range, which export and
		// the operator's read cover.
		if prefix != "/" && strings.HasPrefix(got, prefix) {
			t.Errorf("KeysPrefix(%q) = %q lies under the prefix", prefix, got)
		}
	}
}

// TestZoneKeys writes a zone's keys, reads them back with and without
// the private ones, and checks that a write based on a stale read is
// refused with ErrConflict and writes nothing.
func TestZoneKeys(t *testing.T) {
	_, c := seeded(t)
	adm := NewAdmin(c, testPrefix)
	const zone = "gslb.example.test"
	if zk, err := adm.ReadZoneKeys(t.Context(), zone, true); err != nil || zk.Public != nil || zk.ModRevision != 0 || len(zk.Private) != 0 {
		t.Fatalf("no keys yet: %+v, %v", zk, err)
	}
	if err := adm.WriteZoneKeys(t.Context(), zone, 0, []byte("v1"), map[uint16]string{1: "p1", 2: "p2"}, nil); err != nil {
		t.Fatal(err)
	}
	zk, err := adm.ReadZoneKeys(t.Context(), zone, true)
	if err != nil || string(zk.Public) != "v1" || !maps.Equal(zk.Private, map[uint16]string{1: "p1", 2: "p2"}) {
		t.Fatalf("after the write: %+v, %v", zk, err)
	}
	if pub, err := adm.ReadZoneKeys(t.Context(), zone, false); err != nil || pub.Private != nil || pub.ModRevision != zk.ModRevision {
		t.Errorf("public read: %+v, %v; want no private keys", pub, err)
	}
	// Another zone whose name extends this one's is not read with it.
	if err := adm.WriteZoneKeys(t.Context(), zone+".more", 0, []byte("x"), map[uint16]string{9: "p9"}, nil); err != nil {
		t.Fatal(err)
	}

	if err := adm.WriteZoneKeys(t.Context(), zone, zk.ModRevision, []byte("v2"), map[uint16]string{3: "p3"}, []uint16{1}); err != nil {
		t.Fatal(err)
	}
	err = adm.WriteZoneKeys(t.Context(), zone, zk.ModRevision, []byte("stale"), map[uint16]string{4: "p4"}, []uint16{2})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("write on a stale read: %v; want ErrConflict", err)
	}
	zk, _ = adm.ReadZoneKeys(t.Context(), zone, true)
	if string(zk.Public) != "v2" || !maps.Equal(zk.Private, map[uint16]string{2: "p2", 3: "p3"}) {
		t.Errorf("after a refused write: %s %v; want v2 and private keys 2, 3", zk.Public, zk.Private)
	}
	resp, err := c.Get(t.Context(), "/glb-keys/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 5 {
		t.Errorf("keys under /glb-keys/: %d, %v; want 5", resp.Count, err)
	}
}
