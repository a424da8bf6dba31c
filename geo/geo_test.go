package geo

import (
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

// fixturePath is the database generated from testdata/geoip/networks.csv by
// cmd/mkmmdb; see testdata/geoip/README.md.
const fixturePath = "../testdata/geoip/glb-test-city.mmdb"

func openFixture(tb testing.TB) *DB {
	tb.Helper()
	d, err := Open(fixturePath)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

type lookupCase struct {
	name    string
	addr    netip.Addr
	network string // "" = only check that the network is valid and contains addr
	found   bool
	loc     Location
}

// lookupCases covers every row of networks.csv, the IPv4 aliases, and
// addresses the fixture leaves unmapped. BenchmarkLookup reuses it.
func lookupCases() []lookupCase {
	a := netip.MustParseAddr
	london := Location{Lat: 51.5142, Lon: -0.0931, Country: "GB", Continent: "EU", Subdivision: "ENG"}
	frankfurt := Location{Lat: 50.1109, Lon: 8.6821, Country: "DE", Continent: "EU", Subdivision: "HE"}
	tokyo := Location{Lat: 35.6895, Lon: 139.6917, Country: "JP", Continent: "AS", Subdivision: "13"}
	ashburn := Location{Lat: 39.0437, Lon: -77.4875, Country: "US", Continent: "NA", Subdivision: "VA"}
	sydney := Location{Lat: -33.8688, Lon: 151.2093, Country: "AU", Continent: "OC", Subdivision: "NSW"}
	saoPaulo := Location{Lat: -23.5475, Lon: -46.6361, Country: "BR", Continent: "SA", Subdivision: "SP"}
	johannesburg := Location{Lat: -26.2023, Lon: 28.0436, Country: "ZA", Continent: "AF", Subdivision: "GP"}
	return []lookupCase{
		{"london", a("81.2.69.142"), "81.2.69.0/24", true, london},
		{"london ipv4-mapped", a("::ffff:81.2.69.142"), "81.2.69.0/24", true, london},
		{"london 6to4 alias", a("2002:5102:4500::1"), "2002:5102:4500::/40", true, london},
		{"london teredo alias", a("2001:0:5102:4500::1"), "2001:0:5102:4500::/56", true, london},
		{"london adjacent same data", a("81.2.70.1"), "81.2.70.0/24", true, london},
		{"glasgow adjacent other data", a("81.2.71.200"), "81.2.71.0/24", true,
			Location{Lat: 55.8642, Lon: -4.2518, Country: "GB", Continent: "EU", Subdivision: "SCT"}},
		{"boxford", a("2.125.160.216"), "2.125.160.0/19", true,
			Location{Lat: 51.75, Lon: -1.25, Country: "GB", Continent: "EU", Subdivision: "ENG"}},
		{"linkoping", a("89.160.20.112"), "89.160.20.0/24", true,
			Location{Lat: 58.4167, Lon: 15.6167, Country: "SE", Continent: "EU", Subdivision: "E"}},
		{"frankfurt ipv4", a("91.198.174.192"), "91.198.174.0/24", true, frankfurt},
		{"moscow", a("77.88.55.60"), "77.88.0.0/18", true,
			Location{Lat: 55.7558, Lon: 37.6173, Country: "RU", Continent: "EU", Subdivision: "MOW"}},
		{"milton", a("216.160.83.56"), "216.160.83.0/24", true,
			Location{Lat: 47.2513, Lon: -122.3149, Country: "US", Continent: "NA", Subdivision: "WA"}},
		{"ashburn ipv4", a("67.43.156.1"), "67.43.156.0/24", true, ashburn},
		{"changchun", a("175.16.199.1"), "175.16.199.0/24", true,
			Location{Lat: 43.88, Lon: 125.3228, Country: "CN", Continent: "AS", Subdivision: "JL"}},
		{"singapore no subdivision", a("202.196.224.1"), "202.196.224.0/24", true,
			Location{Lat: 1.2897, Lon: 103.8501, Country: "SG", Continent: "AS"}},
		{"tokyo ipv4", a("133.242.1.1"), "133.242.0.0/16", true, tokyo},
		{"sydney ipv4", a("1.128.0.1"), "1.128.0.0/16", true, sydney},
		{"sao paulo ipv4", a("200.160.7.1"), "200.160.0.0/20", true, saoPaulo},
		{"johannesburg ipv4", a("41.0.1.1"), "41.0.0.0/16", true, johannesburg},
		{"frankfurt ipv6", a("2a02:cf40::1"), "2a02:cf40::/29", true, frankfurt},
		{"dublin ipv6", a("2a03:2880:f10c::1"), "2a03:2880::/32", true,
			Location{Lat: 53.3331, Lon: -6.2489, Country: "IE", Continent: "EU", Subdivision: "L"}},
		{"tokyo ipv6", a("2001:218::1"), "2001:218::/32", true, tokyo},
		{"ashburn ipv6", a("2600:1f18::1"), "2600:1f18::/32", true, ashburn},
		{"sao paulo ipv6", a("2804:14c::1"), "2804:14c::/32", true, saoPaulo},
		{"johannesburg ipv6", a("2c0f:f248::1"), "2c0f:f248::/32", true, johannesburg},
		{"sydney ipv6", a("2401:db00::1"), "2401:db00::/32", true, sydney},
		{"ipv6 zone ignored", a("2401:db00::1%eth0"), "2401:db00::/32", true, sydney},

		{"no coordinates", a("185.100.3.4"), "185.100.0.0/16", false, Location{Country: "NL", Continent: "EU"}},
		{"documentation range", a("203.0.113.7"), "203.0.113.0/24", false, Location{}},
		{"private", a("10.1.2.3"), "10.0.0.0/8", false, Location{}},
		{"loopback ipv6", a("::1"), "", false, Location{}},
		{"unmapped ipv4", a("8.8.8.8"), "", false, Location{}},
		{"unmapped ipv6", a("2a00::1"), "", false, Location{}},
		{"unmapped ipv4-mapped", a("::ffff:8.8.8.8"), "", false, Location{}},
	}
}

func TestLookup(t *testing.T) {
	d := openFixture(t)
	for _, tc := range lookupCases() {
		t.Run(tc.name, func(t *testing.T) {
			loc, network, found := d.Lookup(tc.addr)
			if found != tc.found {
				t.Errorf("found = %v, want %v", found, tc.found)
			}
			if loc != tc.loc {
				t.Errorf("location = %+v, want %+v", loc, tc.loc)
			}
			checkNetwork(t, tc.addr, network)
			if tc.network != "" && network != netip.MustParsePrefix(tc.network) {
				t.Errorf("network = %s, want %s", network, tc.network)
			}
		})
	}
}

// checkNetwork asserts what every Lookup must give, found or not: a valid
// prefix of the address's own family (after unmapping) that contains it.
func checkNetwork(t *testing.T, addr netip.Addr, network netip.Prefix) {
	t.Helper()
	ip := addr.Unmap().WithZone("")
	if !network.IsValid() {
		t.Fatalf("network %v is not valid", network)
	}
	if network.Addr().Is4() != ip.Is4() {
		t.Errorf("network %s is not in the family of %s", network, ip)
	}
	if !network.Contains(ip) {
		t.Errorf("network %s does not contain %s", network, ip)
	}
	if network != network.Masked() {
		t.Errorf("network %s has host bits set", network)
	}
}

func TestLookupInvalidAddr(t *testing.T) {
	d := openFixture(t)
	loc, network, found := d.Lookup(netip.Addr{})
	if loc != (Location{}) || network != (netip.Prefix{}) || found {
		t.Errorf("Lookup(invalid) = %+v, %v, %v; want zero values", loc, network, found)
	}
}

func TestMetadata(t *testing.T) {
	d := openFixture(t)
	if got := d.Path(); got != fixturePath {
		t.Errorf("Path() = %q, want %q", got, fixturePath)
	}
	// cmd/mkmmdb pins build_epoch so the fixture is reproducible.
	if got, want := d.BuildTime(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("BuildTime() = %v, want %v", got, want)
	}
}

func TestClose(t *testing.T) {
	d, err := Open(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := d.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	addr := netip.MustParseAddr("81.2.69.142")
	loc, network, found := d.Lookup(addr)
	if found || loc != (Location{}) || network != netip.MustParsePrefix("0.0.0.0/0") {
		t.Errorf("Lookup after Close = %+v, %v, %v; want nothing, 0.0.0.0/0", loc, network, found)
	}
	if !d.BuildTime().IsZero() {
		t.Errorf("BuildTime after Close = %v, want zero", d.BuildTime())
	}
	if err := d.Reload(); err == nil {
		t.Error("Reload after Close succeeded, want error")
	}
}

// TestMatchesGeoIP2 decodes every fixture record with geoip2-golang's City
// model as well, so the field paths in record (and the layout cmd/mkmmdb
// writes) are checked against the library that defines the GeoIP2 schema.
func TestMatchesGeoIP2(t *testing.T) {
	d := openFixture(t)
	r, err := maxminddb.Open(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	for _, tc := range lookupCases() {
		t.Run(tc.name, func(t *testing.T) {
			var city geoip2.City
			if err := r.Lookup(tc.addr.Unmap()).Decode(&city); err != nil {
				t.Fatalf("decode as geoip2.City: %v", err)
			}
			want := Location{
				Country:   city.Country.ISOCode,
				Continent: city.Continent.Code,
			}
			if len(city.Subdivisions) > 0 {
				want.Subdivision = city.Subdivisions[0].ISOCode
			}
			if city.Location.HasCoordinates() {
				want.Lat, want.Lon = *city.Location.Latitude, *city.Location.Longitude
			}
			loc, _, found := d.Lookup(tc.addr)
			if loc != want || found != city.Location.HasCoordinates() {
				t.Errorf("geo: %+v found=%v; geoip2: %+v found=%v", loc, found, want, city.Location.HasCoordinates())
			}
			if tc.found && city.City.Names.English == "" {
				t.Error("record has no city.names.en")
			}
		})
	}
}

// cityEntry is one network of a database written by writeDB.
type cityEntry struct {
	network  string
	country  string
	lat, lon float64
}

// writeDB writes a minimal database of the given type, so tests can make
// databases that differ from the fixture without another checked-in file.
func writeDB(t *testing.T, path, dbType string, epoch int64, entries []cityEntry) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		Description:  map[string]string{"en": "geo test database"}, // Verify requires one
		BuildEpoch:   epoch,
		RecordSize:   24,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		_, n, err := net.ParseCIDR(e.network)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String(e.country)},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(e.lat), "longitude": mmdbtype.Float64(e.lon)},
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// replaceFile installs data at path the way database updaters (and glb's
// operators) must: write a new file, then rename it over the old one.
// Rewriting in place would change the bytes under the current mapping.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".new-"+filepath.Base(path))
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func approx(a, b, tolerance float64) bool { return math.Abs(a-b) <= tolerance }
