package geotest_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/geo/geotest"
)

const fixtureCSV = "../../testdata/geoip/networks.csv"

// TestWriteFileRoundTrip writes the fixture's rows with another build time,
// opens the result with geo (which verifies the whole file) and looks up
// every row's network.
func TestWriteFileRoundTrip(t *testing.T) {
	rows, err := geotest.ReadCSVFile(fixtureCSV)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	epoch := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := (geotest.Options{BuildEpoch: epoch.Unix()}).WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory has %d entries after WriteFile, want only the database", len(entries))
	}
	d, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if got := d.BuildTime(); !got.Equal(epoch) {
		t.Errorf("build time %v, want %v", got, epoch)
	}
	for _, r := range rows {
		loc, network, found := d.Lookup(r.Network.Addr())
		if network != r.Network || found != r.HasCoords || loc.Country != r.Country || loc.Continent != r.Continent ||
			(found && (loc.Lat != r.Lat || loc.Lon != r.Lon)) {
			t.Errorf("%s: got %+v %s found=%v, want %+v", r.Network, loc, network, found, r)
		}
	}
}

// TestMove makes London take Sydney's place and checks only London moved.
func TestMove(t *testing.T) {
	rows, err := geotest.ReadCSVFile(fixtureCSV)
	if err != nil {
		t.Fatal(err)
	}
	london, sydney := netip.MustParsePrefix("81.2.69.0/24"), netip.MustParsePrefix("1.128.0.0/16")
	moved := geotest.Move(rows, london, sydney)
	var buf bytes.Buffer
	if err := geotest.Write(&buf, moved); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "moved.mmdb")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := geo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if loc, network, _ := d.Lookup(netip.MustParseAddr("81.2.69.1")); loc.Continent != "OC" || network != london {
		t.Errorf("moved London: %+v in %s, want Oceania in %s", loc, network, london)
	}
	if loc, _, _ := d.Lookup(netip.MustParseAddr("81.2.70.1")); loc.Continent != "EU" {
		t.Errorf("81.2.70.0/24 moved too: %+v", loc)
	}
	if rows[0].Continent != "EU" {
		t.Error("Move changed its input")
	}
}

// TestReadCSVRejects checks that each kind of bad line is refused with an
// error naming it, before anything is written.
func TestReadCSVRejects(t *testing.T) {
	const header = geotest.CSVHeader + "\n"
	tests := []struct {
		name, csv, wantErr string
	}{
		{"wrong header", "net,country,continent,subdivision,city,lat,lon\n", "header"},
		{"swapped columns", "network,country,continent,subdivision,city,lon,lat\n", "header"},
		{"bad network", header + "81.2.69.0/33,GB,EU,ENG,London,51.5,-0.1\n", "line 2"},
		{"host bits", header + "81.2.69.1/24,GB,EU,ENG,London,51.5,-0.1\n", "host bits"},
		{"bad latitude", header + "81.2.69.0/24,GB,EU,ENG,London,91,-0.1\n", "latitude"},
		{"bad longitude", header + "81.2.69.0/24,GB,EU,ENG,London,51.5,x\n", "longitude"},
		{"one coordinate", header + "81.2.69.0/24,GB,EU,ENG,London,51.5,\n", "longitude"},
		{"duplicate", header + "81.2.69.0/24,GB,EU,,,,\n81.2.69.0/24,GB,EU,,,,\n", "duplicate"},
		{"short row", header + "81.2.69.0/24,GB\n", "csv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := geotest.ReadCSV(strings.NewReader(tc.csv))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ReadCSV = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestWriteRejectsReserved: real databases leave private networks out, and
// so does Write unless IncludeReservedNetworks is set.
func TestWriteRejectsReserved(t *testing.T) {
	rows := []geotest.Row{{Network: netip.MustParsePrefix("10.0.0.0/8"), Country: "GB"}}
	var buf bytes.Buffer
	if err := geotest.Write(&buf, rows); err == nil || !strings.Contains(err.Error(), "10.0.0.0/8") {
		t.Errorf("Write of a reserved network = %v, want an error naming it", err)
	}
	if err := (geotest.Options{IncludeReservedNetworks: true}).Write(&buf, rows); err != nil {
		t.Errorf("with IncludeReservedNetworks: %v", err)
	}
}

// TestWriteFileFailureLeavesNothing: a failed write leaves neither a
// temporary file nor a database behind.
func TestWriteFileFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "city.mmdb")
	rows := []geotest.Row{{Network: netip.MustParsePrefix("10.0.0.0/8")}} // reserved: Write fails
	if err := (geotest.Options{}).WriteFile(path, rows); err == nil {
		t.Fatal("WriteFile succeeded, want error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("directory holds %d entries after a failed write", len(entries))
	}
}
