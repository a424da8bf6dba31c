package main

import (
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/etcdtest"
)

// seedKeys makes the keys of the seed's signed zone, as dev mode and
// glbctl dnssec keygen do, so that glbd serves it signed.
func seedKeys(t *testing.T, srv *etcdtest.Server) {
	t.Helper()
	ks, private, err := dnssec.MakeKeys(strings.TrimSuffix(zone, "."), dnssec.AlgECDSAP256, false, dnssec.DefaultDNSKEYTTL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ks.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.NewAdmin(srv.Client(t), "/glb/").WriteZoneKeys(t.Context(), strings.TrimSuffix(zone, "."), 0, b, private, nil); err != nil {
		t.Fatal(err)
	}
}
