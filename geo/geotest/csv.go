package geotest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
)

// CSVHeader is the exact header a networks CSV must start with; checking it
// catches a reordered column before it silently swaps lat and lon.
const CSVHeader = "network,country,continent,subdivision,city,lat,lon"

// csvColumns is the number of columns in CSVHeader.
const csvColumns = 7

// ReadCSV parses and validates a whole networks CSV (the format of
// testdata/geoip/networks.csv) before anything is written, so one bad line
// gives an error naming the line rather than a partial database. lat and
// lon are both empty for a network without coordinates.
func ReadCSV(in io.Reader) ([]Row, error) {
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = csvColumns
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read csv header: %w", err)
	}
	if strings.Join(header, ",") != CSVHeader {
		return nil, fmt.Errorf("csv header %q, want %q", header, CSVHeader)
	}
	var rows []Row
	seen := map[netip.Prefix]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		r, err := parseRow(rec)
		if err != nil {
			return nil, fmt.Errorf("csv line %d: %w", line, err)
		}
		if seen[r.Network] {
			return nil, fmt.Errorf("csv line %d: duplicate network %s", line, r.Network)
		}
		seen[r.Network] = true
		rows = append(rows, r)
	}
}

func parseRow(rec []string) (Row, error) {
	p, err := netip.ParsePrefix(rec[0])
	if err != nil {
		return Row{}, fmt.Errorf("parse network %q: %w", rec[0], err)
	}
	// A prefix with host bits set is almost always a typo, and mmdbwriter
	// would silently mask it, so refuse it.
	if p != p.Masked() {
		return Row{}, fmt.Errorf("network %s has host bits set (want %s)", p, p.Masked())
	}
	r := Row{
		Network:     p,
		Country:     rec[1],
		Continent:   rec[2],
		Subdivision: rec[3],
		City:        rec[4],
	}
	if rec[5] == "" && rec[6] == "" {
		return r, nil
	}
	if r.Lat, err = strconv.ParseFloat(rec[5], 64); err != nil || r.Lat < -90 || r.Lat > 90 {
		return Row{}, fmt.Errorf("latitude %q is not a number in [-90, 90]", rec[5])
	}
	if r.Lon, err = strconv.ParseFloat(rec[6], 64); err != nil || r.Lon < -180 || r.Lon > 180 {
		return Row{}, fmt.Errorf("longitude %q is not a number in [-180, 180]", rec[6])
	}
	r.HasCoords = true
	return r, nil
}

// Move returns a copy of rows in which the row for network takes the
// place, country and continent of the row for to: the way a test makes a
// database in which an address has moved. It panics if either network is
// missing, which is a mistake in the test.
func Move(rows []Row, network, to netip.Prefix) []Row {
	i := slices.IndexFunc(rows, func(r Row) bool { return r.Network == network })
	j := slices.IndexFunc(rows, func(r Row) bool { return r.Network == to })
	if i < 0 || j < 0 {
		panic(fmt.Sprintf("geotest.Move: %s or %s is not in the rows", network, to))
	}
	out := slices.Clone(rows)
	moved := rows[j]
	moved.Network = network
	out[i] = moved
	return out
}

// continentName gives the English names MaxMind uses for its continent codes.
func continentName(code string) string {
	switch code {
	case "AF":
		return "Africa"
	case "AN":
		return "Antarctica"
	case "AS":
		return "Asia"
	case "EU":
		return "Europe"
	case "NA":
		return "North America"
	case "OC":
		return "Oceania"
	case "SA":
		return "South America"
	}
	return ""
}

// countryName covers the countries in the fixture; an unknown code simply
// gets no names map, which readers must tolerate anyway.
func countryName(code string) string {
	switch code {
	case "AU":
		return "Australia"
	case "BR":
		return "Brazil"
	case "CN":
		return "China"
	case "DE":
		return "Germany"
	case "GB":
		return "United Kingdom"
	case "IE":
		return "Ireland"
	case "JP":
		return "Japan"
	case "NL":
		return "Netherlands"
	case "RU":
		return "Russia"
	case "SE":
		return "Sweden"
	case "SG":
		return "Singapore"
	case "US":
		return "United States"
	case "ZA":
		return "South Africa"
	}
	return ""
}

// ReadCSVFile is ReadCSV of the file at path; errors name the path.
func ReadCSVFile(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open csv %q: %w", path, err)
	}
	defer f.Close()
	rows, err := ReadCSV(f)
	if err != nil {
		return nil, fmt.Errorf("csv %q: %w", path, err)
	}
	return rows, nil
}
