package main

import (
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	geoip2 "github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

// writeFlat writes a database in ip-location-db's flat layout.
func writeFlat(t *testing.T, path string, ipVersion int, nets map[string]mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "flat-city", IPVersion: ipVersion, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
}

func TestBuildFromFlat(t *testing.T) {
	dir := t.TempDir()
	v4, v6, out := filepath.Join(dir, "v4.mmdb"), filepath.Join(dir, "v6.mmdb"), filepath.Join(dir, "out.mmdb")
	writeFlat(t, v4, 4, map[string]mmdbtype.Map{
		"81.2.69.0/24": {"country_code": mmdbtype.String("GB"), "city": mmdbtype.String("London"),
			"latitude": mmdbtype.Float32(51.5), "longitude": mmdbtype.Float32(-0.1)},
	})
	writeFlat(t, v6, 6, map[string]mmdbtype.Map{
		"2a02:8000::/24": {"country_code": mmdbtype.String("JP"), "state1": mmdbtype.String("Tokyo"),
			"latitude": mmdbtype.Float32(35.7), "longitude": mmdbtype.Float32(139.7)},
	})
	if err := run([]string{"-from-flat", v4 + "," + v6, "-out", out}, io.Discard); err != nil {
		t.Fatal(err)
	}
	db, err := maxminddb.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		addr, country, continent, city string
		lat                            float64
		prefix                         int
	}{
		{"81.2.69.142", "GB", "EU", "London", 51.5, 24},
		{"2a02:8000::1", "JP", "AS", "", 35.7, 24},
	} {
		res := db.Lookup(netip.MustParseAddr(tc.addr))
		var rec geoip2.City
		if err := res.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if rec.Country.ISOCode != tc.country || rec.Continent.Code != tc.continent || rec.City.Names.English != tc.city {
			t.Errorf("%s: country %q continent %q city %q, want %q %q %q", tc.addr,
				rec.Country.ISOCode, rec.Continent.Code, rec.City.Names.English, tc.country, tc.continent, tc.city)
		}
		if rec.Location.Latitude == nil || *rec.Location.Latitude < tc.lat-0.01 || *rec.Location.Latitude > tc.lat+0.01 {
			t.Errorf("%s: latitude %v, want %v", tc.addr, rec.Location.Latitude, tc.lat)
		}
		if res.Prefix().Bits() != tc.prefix {
			t.Errorf("%s: network %s, want a /%d", tc.addr, res.Prefix(), tc.prefix)
		}
	}
}
