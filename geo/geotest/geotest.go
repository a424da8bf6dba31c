// Package geotest writes small GeoIP2-City-format databases, so that tests
// anywhere in glb (and cmd/mkmmdb, which builds the checked-in fixture) can
// make the database they need instead of downloading one.
//
// A database is a list of Rows, read from the fixture's CSV with ReadCSV or
// built in code, written with Write (or Options.Write for another build
// time or type). The output depends only on the rows and the options: the
// same input always gives the same bytes.
package geotest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Defaults of Options.
const (
	// DefaultBuildEpoch is the metadata build_epoch, 2026-01-01T00:00:00Z.
	// mmdbwriter defaults it to time.Now, which would make every run give
	// different bytes; pinning it makes the checked-in fixture reproducible.
	DefaultBuildEpoch = 1767225600
	// DefaultDatabaseType contains "City", so geo.Open accepts it, but is
	// not a MaxMind name, so nobody mistakes a test file for real data.
	DefaultDatabaseType = "GLB-Test-City"
	// DefaultDescription is the metadata description (Verify requires one).
	DefaultDescription = "glb test City database written by geo/geotest"
)

// Row is one network of a database and what is known about it. Empty
// strings are left out of the record, as in MaxMind's databases.
type Row struct {
	Network     netip.Prefix // no host bits set
	Country     string       // ISO 3166-1 alpha-2 -> country.iso_code (+ names.en for known codes)
	Continent   string       // two-letter code -> continent.code (+ names.en)
	Subdivision string       // -> subdivisions[0].iso_code
	City        string       // -> city.names.en
	HasCoords   bool         // write location.latitude/longitude
	Lat, Lon    float64      // degrees, when HasCoords
}

// Options are a database's metadata. Zero fields take the defaults above.
type Options struct {
	BuildEpoch   int64  // Unix seconds; 0 means DefaultBuildEpoch
	DatabaseType string // "" means DefaultDatabaseType
	Description  string // "" means DefaultDescription
	// IncludeReservedNetworks allows private, loopback and documentation
	// networks, which mmdbwriter refuses by default (as real databases
	// leave them out).
	IncludeReservedNetworks bool
}

// Write writes rows as a City database with the default Options.
func Write(w io.Writer, rows []Row) error { return Options{}.Write(w, rows) }

// Write writes rows as a City database with the options o.
func (o Options) Write(w io.Writer, rows []Row) error {
	t, err := o.NewTree()
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := t.Insert(r); err != nil {
			return err
		}
	}
	return t.Write(w)
}

// WriteFile writes rows to path the way a database must be installed under
// a reader that reloads it (see Install).
func (o Options) WriteFile(path string, rows []Row) error {
	return Install(path, func(w io.Writer) error { return o.Write(w, rows) })
}

// Install writes a database with write into a temporary file in path's
// directory and renames it over path, so the path never names a
// half-written file.
func Install(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".geotest-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %q: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod %q: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %q to %q: %w", tmp.Name(), path, err)
	}
	return nil
}

// Tree is a database being built, for writers that insert rows one at a
// time (cmd/mkmmdb's random mode inserts a million).
type Tree struct {
	t *mmdbwriter.Tree
}

// NewTree returns an empty IPv6 City tree with IPv4 aliases, laid out as
// MaxMind builds its databases.
func (o Options) NewTree() (*Tree, error) {
	if o.BuildEpoch == 0 {
		o.BuildEpoch = DefaultBuildEpoch
	}
	if o.DatabaseType == "" {
		o.DatabaseType = DefaultDatabaseType
	}
	if o.Description == "" {
		o.Description = DefaultDescription
	}
	t, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:   o.BuildEpoch,
		DatabaseType: o.DatabaseType,
		Description:  map[string]string{"en": o.Description},
		Languages:    []string{"en"},
		// IPv6 tree with the default IPv4 aliases (::ffff:0:0/96, 2001::/32
		// and 2002::/16 point at ::/96), as MaxMind builds its databases.
		IPVersion:               6,
		RecordSize:              28,
		IncludeReservedNetworks: o.IncludeReservedNetworks,
	})
	if err != nil {
		return nil, fmt.Errorf("create mmdb tree: %w", err)
	}
	return &Tree{t: t}, nil
}

// Insert adds one row. Inserting into an IPv4 alias (2001::/32, 2002::/16)
// or, without IncludeReservedNetworks, a reserved network is an error.
func (t *Tree) Insert(r Row) error {
	if err := t.t.Insert(ipNet(r.Network), r.record()); err != nil {
		return fmt.Errorf("insert network %s: %w", r.Network, err)
	}
	return nil
}

// Write writes the database to w.
func (t *Tree) Write(w io.Writer) error {
	if _, err := t.t.WriteTo(w); err != nil {
		return fmt.Errorf("write mmdb: %w", err)
	}
	return nil
}

// record lays the row out as a GeoIP2 City record. Empty fields are left
// out rather than written as "", so a reader's "absent" and the fixture's
// "absent" look the same.
func (r Row) record() mmdbtype.Map {
	m := mmdbtype.Map{}
	if r.Continent != "" {
		c := mmdbtype.Map{"code": mmdbtype.String(r.Continent)}
		if name := continentName(r.Continent); name != "" {
			c["names"] = mmdbtype.Map{"en": mmdbtype.String(name)}
		}
		m["continent"] = c
	}
	if r.Country != "" {
		c := mmdbtype.Map{"iso_code": mmdbtype.String(r.Country)}
		if name := countryName(r.Country); name != "" {
			c["names"] = mmdbtype.Map{"en": mmdbtype.String(name)}
		}
		m["country"] = c
	}
	if r.Subdivision != "" {
		m["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String(r.Subdivision)}}
	}
	if r.City != "" {
		m["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(r.City)}}
	}
	if r.HasCoords {
		m["location"] = mmdbtype.Map{
			"latitude":  mmdbtype.Float64(r.Lat),
			"longitude": mmdbtype.Float64(r.Lon),
		}
	}
	return m
}

// ipNet converts p for mmdbwriter. An IPv4 prefix keeps its 4-byte form so
// mmdbwriter places it under ::/96, the subtree the IPv4 aliases point to.
func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{
		IP:   p.Addr().AsSlice(),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}
}
