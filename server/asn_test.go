package server

import (
	"math/rand/v2"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/geo/geotest"
	"github.com/glb-dns/glb/server/explain"
)

// asnRows: the test City database puts 81.2.68.0/22 in London; the ASN
// database gives 81.2.68.0/23 to AS64500 (pinned) and 81.2.70.0/23 to
// AS64501 (not pinned).
var asnRows = []geotest.ASNRow{
	{Network: netip.MustParsePrefix("81.2.68.0/24"), ASN: 64500, Org: "Example ISP"},
	{Network: netip.MustParsePrefix("81.2.69.0/24"), ASN: 64500, Org: "Example ISP"},
	{Network: netip.MustParsePrefix("81.2.70.0/23"), ASN: 64501, Org: "Other ISP"},
	{Network: netip.MustParsePrefix("2001:db8:100::/48"), ASN: 64500, Org: "Example ISP"},
}

// asnEdits pins the ISP's AS to eu-central and an office CIDR inside it
// to eu-west; q is p without pins.
var asnEdits = map[string]any{
	"nets/corp": map[string]any{"isp": []string{"AS64500"}, "office": []string{"81.2.69.128/25"}},
	"zones/gslb.example.test/names/p": map[string]any{"regions": []string{"us-east", "eu-west", "eu-central"},
		"pins": map[string]any{"corp/isp": []string{"eu-central"}, "corp/office": []string{"eu-west"}}},
	"zones/gslb.example.test/names/q": map[string]any{"regions": []string{"us-east", "eu-west", "eu-central"}},
}

// asnHandler serves asnEdits with the ASN database at path (none if "").
func asnHandler(t testing.TB, path string) (*Handler, *geo.ASNDB) {
	t.Helper()
	var db *geo.ASNDB
	if path != "" {
		var err error
		if db, err = geo.OpenASN(path); err != nil {
			t.Fatal(err)
		}
	}
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry()), Rand: func(int) int { return 0 }, ASN: db})
	applyNow(h, devState(t, asnEdits))
	return h, db
}

func writeASNFile(t testing.TB, path string, rows []geotest.ASNRow) {
	t.Helper()
	if err := (geotest.Options{IncludeReservedNetworks: true}).WriteASNFile(path, rows); err != nil {
		t.Fatal(err)
	}
}

// TestASNPins: over UDP and TCP, a client in the pinned AS gets the pin's
// region whatever GeoIP says, a CIDR pin inside the AS wins, a client of
// another AS keeps GeoIP, and scopes never leave the client's AS range;
// without an ASN database, and after a reload that moves a network to
// another AS, the ASN no longer pins it.
func TestASNPins(t *testing.T) {
	const euWest, euCentral = "198.51.100.10,198.51.100.11", "198.51.100.20"
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	writeASNFile(t, path, asnRows)
	h, db := asnHandler(t, path)
	noDB, _ := asnHandler(t, "")
	addr, noDBAddr := startServer(t, h), startServer(t, noDB)
	check := func(t *testing.T, addr, ecs string, qtype uint16, want string, scopeOK func(int) bool) {
		t.Helper()
		if want == "as q" {
			want = answerAddrs(exchange(t, "udp", addr, mkQuery("q."+testZone, qtype, ecs)))
		}
		for _, network := range []string{"udp", "tcp"} {
			m := exchange(t, network, addr, mkQuery("p."+testZone, qtype, ecs))
			if got, s := answerAddrs(m), replyScope(m); got != want || !scopeOK(s) {
				t.Errorf("%s %s: answer %q scope /%d, want %q", network, ecs, got, s, want)
			}
		}
	}
	is := func(n int) func(int) bool { return func(s int) bool { return s == n } }
	atLeast := func(n int) func(int) bool { return func(s int) bool { return s >= n } }
	for _, tc := range []struct {
		name  string
		ecs   string
		qtype uint16
		want  string
		scope func(int) bool
	}{
		{"in the AS, GeoIP London", "81.2.68.5/32", dns.TypeA, euCentral, is(24)}, // 81.2.68.0-81.2.69.127: /24 around .68
		{"in the AS, below the office", "81.2.69.5/32", dns.TypeA, euCentral, is(25)},
		{"the office CIDR inside the AS wins", "81.2.69.200/32", dns.TypeA, euWest, is(25)},
		{"another AS keeps GeoIP, its scope clear of the pinned AS", "81.2.70.7/32", dns.TypeA, "as q", atLeast(23)},
		{"the AS over IPv6", "2001:db8:100::1/128", dns.TypeAAAA, "2001:db8:4::20", is(48)},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, addr, tc.ecs, tc.qtype, tc.want, tc.scope) })
	}
	t.Run("no ASN database: the ASN pins nothing, the CIDR still does", func(t *testing.T) {
		check(t, noDBAddr, "81.2.68.5/32", dns.TypeA, "as q", atLeast(1))
		check(t, noDBAddr, "81.2.69.200/32", dns.TypeA, euWest, is(25))
	})
	t.Run("glb_server_asn_pins_unresolved counts the names whose ASNs pin nothing", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			h    *Handler
			want float64
		}{{"with the database", h, 0}, {"without", noDB, 1}} {
			if got := testutil.ToFloat64(tc.h.metrics.asnUnresolved); got != tc.want {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	})
	t.Run("reload moves 81.2.68.0/24 to another AS", func(t *testing.T) {
		moved := append([]geotest.ASNRow{{Network: netip.MustParsePrefix("81.2.68.0/24"), ASN: 64501}}, asnRows[1:]...)
		writeASNFile(t, path, moved)
		r := geo.NewReloader(db, geo.ReloaderConfig{OnReload: h.ASNReloaded})
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
		check(t, addr, "81.2.68.5/32", dns.TypeA, "as q", atLeast(24))
		check(t, addr, "81.2.69.5/32", dns.TypeA, euCentral, is(25))
	})
}

// TestASNPinScopeTruth: every sampled address inside the scope of an
// answer gets the same answer, around the pinned AS's edges.
func TestASNPinScopeTruth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	writeASNFile(t, path, asnRows)
	h, _ := asnHandler(t, path)
	rng := rand.New(rand.NewPCG(18, 6))
	checked := 0
	for _, c := range []string{"81.2.67.255", "81.2.68.0", "81.2.68.200", "81.2.69.127", "81.2.69.128", "81.2.69.255", "81.2.70.0", "81.2.0.1", "81.0.0.1"} {
		a := netip.MustParseAddr(c)
		ask1 := func(x netip.Addr) (string, int) {
			m := ask(t, h, "127.0.0.1", mkQuery("p."+testZone, dns.TypeA, netip.PrefixFrom(x, 32).String()))
			return answerAddrs(m), replyScope(m)
		}
		want, scope := ask1(a)
		p := netip.PrefixFrom(a, scope).Masked()
		sample := []netip.Addr{p.Addr(), lastIn(p)}
		for range 64 {
			sample = append(sample, randomIn(rng, p))
		}
		for _, x := range sample {
			if got, _ := ask1(x); got != want {
				t.Errorf("%s got %q with scope /%d, but %s inside %s gets %q", c, want, scope, x, p, got)
				break
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

// TestASNPinExplainHTTP: /explain says a pin matched by ASN, with the
// database's record, and by CIDR for the office.
func TestASNPinExplainHTTP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	writeASNFile(t, path, asnRows)
	h, _ := asnHandler(t, path)
	srv := httptest.NewServer(h.ExplainHTTP())
	defer srv.Close()
	get := func(client string) explain.Explanation {
		t.Helper()
		var ex explain.Explanation
		if code := getJSON(t, srv, "/explain?name=p.gslb.example.test&client="+client+"&ecs=32", &ex); code != 200 {
			t.Fatalf("status %d", code)
		}
		return ex
	}
	ex := get("81.2.68.5")
	if p := ex.Pin; p == nil || p.Key != "corp/isp" || p.By != "asn" || p.ASN == nil ||
		*p.ASN != (explain.ASN{Number: "AS64500", Org: "Example ISP", Network: "81.2.68.0/23"}) || len(p.ASNs) != 1 || p.Nets == nil || ex.Chosen != "eu-central" {
		t.Errorf("81.2.68.5: pin %+v, chosen %q", ex.Pin, ex.Chosen)
	}
	ex = get("81.2.69.200")
	if p := ex.Pin; p == nil || p.Key != "corp/office" || p.By != "cidr" || p.ASN != nil || ex.Chosen != "eu-west" {
		t.Errorf("81.2.69.200: pin %+v, chosen %q", ex.Pin, ex.Chosen)
	}
}
