package geotest

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// DefaultASNDatabaseType is the database_type of ASN databases written
// here: it contains "ASN", so geo.OpenASN accepts it, and is not a MaxMind
// name.
const DefaultASNDatabaseType = "GLB-Test-ASN"

// ASNRow is one network of an ASN database.
type ASNRow struct {
	Network netip.Prefix // no host bits set
	ASN     uint32       // -> autonomous_system_number
	Org     string       // -> autonomous_system_organization, left out when ""
}

// ASNTree is an ASN database being built, a row at a time.
type ASNTree struct{ t *Tree }

// NewASNTree returns an empty IPv6 ASN tree with IPv4 aliases, laid out as
// GeoLite2-ASN is; the database type defaults to DefaultASNDatabaseType.
func (o Options) NewASNTree() (*ASNTree, error) {
	if o.DatabaseType == "" {
		o.DatabaseType = DefaultASNDatabaseType
	}
	t, err := o.NewTree()
	if err != nil {
		return nil, err
	}
	return &ASNTree{t: t}, nil
}

// Insert adds one row; the same restrictions as Tree.Insert apply.
func (t *ASNTree) Insert(r ASNRow) error {
	rec := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(r.ASN)}
	if r.Org != "" {
		rec["autonomous_system_organization"] = mmdbtype.String(r.Org)
	}
	if err := t.t.t.Insert(ipNet(r.Network), rec); err != nil {
		return fmt.Errorf("insert network %s: %w", r.Network, err)
	}
	return nil
}

// Write writes the database to w.
func (t *ASNTree) Write(w io.Writer) error { return t.t.Write(w) }

// WriteASN writes rows as an ASN database with the options o.
func (o Options) WriteASN(w io.Writer, rows []ASNRow) error {
	t, err := o.NewASNTree()
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

// WriteASNFile writes rows to path as Install does.
func (o Options) WriteASNFile(path string, rows []ASNRow) error {
	return Install(path, func(w io.Writer) error { return o.WriteASN(w, rows) })
}
