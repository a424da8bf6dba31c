package main

import (
	"log/slog"
	"maps"
	"net"
	"os"
	"testing"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema/yamlconf"
)

// TestDevSeedIsTheDocument: glbd -dev starts with exactly the keys that
// glbctl apply writes from the same file (yamlconf.Load's keys), all in
// one transaction.
func TestDevSeedIsTheDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	seed, _ := freePortSeed(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	etcdAddr := ln.Addr().String()
	ln.Close()
	startApp(t, Config{Dev: true, DevEtcd: etcdAddr, DevSeed: seed, DevProber: "50.11,8.68"})

	raw, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := yamlconf.Load(seed, raw, "/glb/")
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.NewClient(store.Config{Endpoints: []string{"http://" + etcdAddr}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	snap, err := store.NewAdmin(c, "/glb/").ReadConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := conf.KVs(); len(want) != 17 || !maps.Equal(snap.Values, want) {
		t.Errorf("dev mode seeded\n%v\nglbctl apply writes\n%v", snap.Values, want)
	}
	revs := map[int64]bool{}
	for _, r := range snap.ModRevisions {
		revs[r] = true
	}
	if len(revs) != 1 {
		t.Errorf("seeded at %d revisions, want one transaction", len(revs))
	}
}
