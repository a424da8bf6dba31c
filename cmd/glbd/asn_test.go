package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo/geotest"
)

// TestASNPinsWithSIGHUP: glbd -geoip-asn pins London's 81.2.69.0/24 by
// its AS (a collection in etcd lists AS64500), keeps the database in use
// when a corrupt file is installed and SIGHUP asks for it (counted in
// glb_geoip_asn_reloads_total), and follows a good new database on the
// next SIGHUP, which moves the network to another AS.
func TestASNPinsWithSIGHUP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	install := func(asn uint32) {
		t.Helper()
		if err := (geotest.Options{}).WriteASNFile(path, []geotest.ASNRow{{Network: netip.MustParsePrefix("81.2.68.0/22"), ASN: asn, Org: "Example ISP"}}); err != nil {
			t.Fatal(err)
		}
	}
	install(64500)
	srv := seededEtcd(t)
	hup := make(chan os.Signal, 1)
	r := launch(t, Config{Etcd: srv.Endpoints(), GeoIPASN: path}, func(a *app) { a.hup = hup }) // GeoIPPoll 0: only SIGHUP
	t.Cleanup(func() { r.stop(t) })
	waitReady(t, r.a)

	c := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, "/glb/zones/gslb.example.test/names/www")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("read www: %v", err)
	}
	var www map[string]any
	if err := json.Unmarshal(resp.Kvs[0].Value, &www); err != nil {
		t.Fatal(err)
	}
	www["pins"] = map[string]any{"isp/aaisp": []string{"us-east"}}
	doc, _ := json.Marshal(www)
	if _, err := c.Put(ctx, "/glb/nets/isp", `{"aaisp": ["AS64500"]}`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "/glb/zones/gslb.example.test/names/www", string(doc)); err != nil {
		t.Fatal(err)
	}
	london := func() string { return addrs(ask(t, "udp", r.a.dnsAddr(), "www."+zone, dns.TypeA, londonECS)) }
	usEast := func() bool { return strings.HasPrefix(london(), "192.0.2.1") }
	waitFor(t, 5*time.Second, "London pinned to us-east by its AS", usEast)

	if err := os.WriteFile(path+".tmp", []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	waitFor(t, 5*time.Second, "the corrupt file refused", func() bool {
		return strings.Contains(scrape(t, r.a), `glb_geoip_asn_reloads_total{result="error"} 1`)
	})
	if !usEast() {
		t.Errorf("after a refused ASN database: %s, want the pin of the database in use", london())
	}

	install(64501)
	hup <- syscall.SIGHUP
	waitFor(t, 5*time.Second, "London back to GeoIP after the network moved to another AS", func() bool { return london() == londonEU })
	if m := scrape(t, r.a); !strings.Contains(m, `glb_geoip_asn_reloads_total{result="ok"} 1`) {
		t.Error(`glb_geoip_asn_reloads_total{result="ok"} is not 1`)
	}
}
