package geo

import (
	"math"
	"net/netip"
)

// record is the slice of a GeoIP2 City record that glb uses. Decoding into
// it rather than geoip2.City skips the localized name maps, which are most
// of a record's bytes and would be nearly all of the allocations per query.
// Records are pooled per DB: the decoder takes an interface, so a record on
// the stack would escape and cost an allocation per query, and a pooled one
// keeps its Subdivisions backing array across decodes.
type record struct {
	Location struct {
		// NaN until decoded: the decoder leaves absent keys untouched, and
		// 0,0 is a real place (in the Gulf of Guinea), so zero cannot mean
		// "no coordinates".
		Latitude  float64 `maxminddb:"latitude"`
		Longitude float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Subdivisions []subdivision `maxminddb:"subdivisions"`
}

type subdivision struct {
	ISOCode string `maxminddb:"iso_code"`
}

// reset readies r for a decode: empty, with absent coordinates (NaN), and
// the subdivisions' array kept for reuse.
func (r *record) reset() {
	*r = record{Subdivisions: r.Subdivisions[:0]}
	r.Location.Latitude, r.Location.Longitude = math.NaN(), math.NaN()
}

// location is what Lookup reports for a decoded r: its Location, and
// whether it has coordinates (without, Lat and Lon are 0). The partition
// uses it too, so a range's location is exactly what a query from inside
// it sees.
func (r *record) location() (Location, bool) {
	loc := Location{
		Lat:       r.Location.Latitude,
		Lon:       r.Location.Longitude,
		Country:   r.Country.ISOCode,
		Continent: r.Continent.Code,
	}
	if len(r.Subdivisions) > 0 {
		loc.Subdivision = r.Subdivisions[0].ISOCode
	}
	found := !math.IsNaN(loc.Lat) && !math.IsNaN(loc.Lon)
	if !found {
		loc.Lat, loc.Lon = 0, 0
	}
	return loc, found
}

// Lookup returns the location of ip, the network of the database entry that
// decided the answer, and whether that entry has coordinates.
//
// The network is valid for every valid ip, found or not: when nothing
// matched it is the empty part of the tree the search ended in, so it can
// serve as the ECS scope of a non-geo answer too. IPv4 addresses, including
// IPv4-mapped IPv6 ones, get IPv4 networks. found is false when the entry
// has no coordinates; loc then still carries whatever country, continent
// and subdivision the entry has, with Lat and Lon zero. An invalid ip gives
// a zero Location, the zero Prefix and false.
func (d *DB) Lookup(ip netip.Addr) (loc Location, network netip.Prefix, found bool) {
	if !ip.IsValid() {
		return Location{}, netip.Prefix{}, false
	}
	// ::ffff:a.b.c.d would otherwise be reported as a ::ffff:0:0/96-based
	// prefix, which an ECS reply for an IPv4 client must not carry.
	ip = ip.Unmap().WithZone("")
	mr := d.reader.Load()
	if mr == nil {
		return Location{}, wholeFamily(ip), false
	}
	res := mr.r.Lookup(ip)
	network = res.Prefix()
	if !network.IsValid() || network.Addr().Is4() != ip.Is4() {
		// A tree with no IPv4 subtree ends above ::/96; then nothing in the
		// IPv4 space has data and the whole family is the honest scope.
		network = wholeFamily(ip)
	}
	if !res.Found() {
		return Location{}, network, false
	}
	rec := d.records.Get().(*record)
	defer d.records.Put(rec)
	rec.reset()
	// A record that does not decode is treated as unknown: the query path
	// answers from its fallback rather than failing. Open's Verify makes
	// this unreachable for the files we accept.
	if err := res.Decode(rec); err != nil {
		return Location{}, network, false
	}
	loc, found = rec.location()
	return loc, network, found
}

// wholeFamily is 0.0.0.0/0 or ::/0, matching ip's family.
func wholeFamily(ip netip.Addr) netip.Prefix {
	p, _ := ip.Prefix(0)
	return p
}
