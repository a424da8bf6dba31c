package geo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// ErrNotASN is returned (wrapped) by OpenASN and ASNDB.Reload when the
// file is a valid MaxMind DB but not an autonomous-system database.
var ErrNotASN = errors.New("geo: not an ASN database")

// ASNDB is an autonomous-system database (GeoLite2-ASN, DB-IP ASN Lite,
// or one built by cmd/mkmmdb -asn-csv): it maps an address to the number
// and organisation of the AS that announces it. glb reads it to pin
// clients by ASN (a network collection's location may list "AS64500").
//
// Unlike the City database it is not consulted per query. Pins are
// resolved when a snapshot is built: an ASN becomes the networks the
// database gives it, and the query path searches those with the CIDR
// pins, allocation-free. So the table a DB holds is an index by ASN,
// built once per load, and swapped whole on Reload.
type ASNDB struct {
	path  string
	table atomic.Pointer[ASNTable] // nil after Close
}

// ASNTable is one loaded version of an ASN database. It never changes.
type ASNTable struct {
	r     *maxminddb.Reader // Lookup (explain); the file's bytes, read whole
	asns  []uint32          // distinct ASNs, ascending
	start []uint32          // nets[start[i]:start[i+1]] are asns[i]'s networks, in address order
	nets  []asnNet
}

// asnNet is a network as numbers: 24 bytes and no pointers (a
// netip.Prefix is 32 with one), so a 700,000-network table is 17 MB the
// garbage collector does not scan.
type asnNet struct {
	first Addr128
	bits  uint8
	v4    bool
}

func (n asnNet) prefix() netip.Prefix {
	if n.v4 {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n.first.Lo >> 24), byte(n.first.Lo >> 16), byte(n.first.Lo >> 8), byte(n.first.Lo)}), int(n.bits))
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], n.first.Hi)
	binary.BigEndian.PutUint64(b[8:], n.first.Lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), int(n.bits))
}

// asnRecord is the part of a record glb reads. GeoLite2-ASN and DB-IP
// ASN Lite share these names.
type asnRecord struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

// OpenASN reads the ASN database at path, checks it (type, tree, data)
// and indexes its networks by ASN. Errors name the path.
func OpenASN(path string) (*ASNDB, error) {
	t, err := loadASN("open", path)
	if err != nil {
		return nil, err
	}
	d := &ASNDB{path: path}
	d.table.Store(t)
	return d, nil
}

// loadASN maps and indexes one version of the file. Mapped as the City
// database is (openReader), for the same reason: the walk reads every
// page once, and trimming gives them back, so the file costs page cache,
// not heap; explain's lookups map the few pages they read again. So it
// must be installed as the City database is, by a rename over the path.
func loadASN(op, path string) (*ASNTable, error) {
	m, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s geoip asn db %q: %w", op, path, err)
	}
	r, err := maxminddb.OpenBytes(m.data)
	if err == nil {
		var t *ASNTable
		if t, err = indexASN(r); err == nil {
			runtime.AddCleanup(r, (*mapping).unmap, m)
			m.trim()
			return t, nil
		}
	}
	m.unmap() // never published
	return nil, fmt.Errorf("%s geoip asn db %q: %w", op, path, err)
}

// indexASN validates r and builds its index by ASN.
func indexASN(r *maxminddb.Reader) (*ASNTable, error) {
	if typ := r.Metadata.DatabaseType; !strings.Contains(typ, "ASN") {
		return nil, fmt.Errorf("database type %q: %w", typ, ErrNotASN)
	}
	if err := r.Verify(); err != nil {
		return nil, fmt.Errorf("verify database: %w", err)
	}
	type entry struct {
		asn uint32
		net asnNet
	}
	var all []entry
	byOffset := map[uintptr]uint32{} // networks share records: decode each once
	n := 0
	for res := range r.Networks() {
		if n++; n%yieldEvery == 0 {
			runtime.Gosched() // see yieldEvery: the walk must not starve the UDP readers
		}
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("walk asn networks: %w", err)
		}
		asn, ok := byOffset[res.Offset()]
		if !ok {
			var rec asnRecord
			if err := res.Decode(&rec); err != nil {
				return nil, fmt.Errorf("decode asn record for %s: %w", res.Prefix(), err)
			}
			asn = rec.ASN
			byOffset[res.Offset()] = asn
		}
		if asn == 0 {
			continue // a record without a number pins nothing
		}
		pfx := res.Prefix()
		if a := pfx.Addr(); a.Is4In6() {
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
		first, _, v4 := prefixBounds(pfx)
		all = append(all, entry{asn, asnNet{first, uint8(pfx.Bits()), v4}})
	}
	// The walk is in address order; a stable sort by ASN keeps it within
	// each ASN.
	slices.SortStableFunc(all, func(a, b entry) int { return int(int64(a.asn) - int64(b.asn)) })
	t := &ASNTable{r: r, nets: make([]asnNet, len(all))}
	for i, e := range all {
		if i == 0 || e.asn != all[i-1].asn {
			t.asns = append(t.asns, e.asn)
			t.start = append(t.start, uint32(i))
		}
		t.nets[i] = e.net
	}
	t.start = append(t.start, uint32(len(all)))
	return t, nil
}

// Path returns the file the DB was opened from and reloads from.
func (d *ASNDB) Path() string { return d.path }

// Verify is nothing to do: an ASN database is small, so every load
// verifies it in full before it is used (see indexASN).
func (d *ASNDB) Verify() error { return nil }

// Verified is always true, for the same reason.
func (d *ASNDB) Verified() bool { return true }

// Table returns the version in use; nil for a nil DB or after Close, so
// callers without an ASN database need no special case.
func (d *ASNDB) Table() *ASNTable {
	if d == nil {
		return nil
	}
	return d.table.Load()
}

// Reload reads the file again and, if it passes the checks OpenASN makes,
// swaps it in; on error the version in use stays.
func (d *ASNDB) Reload() error {
	if d.table.Load() == nil {
		return fmt.Errorf("reload geoip asn db %q: %w", d.path, ErrClosed)
	}
	t, err := loadASN("reload", d.path)
	if err != nil {
		return err
	}
	for {
		old := d.table.Load()
		if old == nil {
			return fmt.Errorf("reload geoip asn db %q: %w", d.path, ErrClosed)
		}
		if d.table.CompareAndSwap(old, t) {
			return nil
		}
	}
}

// BuildTime returns the build_epoch of the version in use; the zero Time
// after Close.
func (d *ASNDB) BuildTime() time.Time {
	if t := d.Table(); t != nil {
		return t.r.Metadata.BuildTime()
	}
	return time.Time{}
}

// Close drops the table. Idempotent.
func (d *ASNDB) Close() error {
	d.table.Store(nil)
	return nil
}

// Networks returns the networks the database gives asn, in address order
// (IPv4 ones in IPv4 form); none for an ASN it does not list.
func (t *ASNTable) Networks(asn uint32) []netip.Prefix {
	if t == nil {
		return nil
	}
	i, ok := slices.BinarySearch(t.asns, asn)
	if !ok {
		return nil
	}
	nets := t.nets[t.start[i]:t.start[i+1]]
	out := make([]netip.Prefix, len(nets))
	for j, n := range nets {
		out[j] = n.prefix()
	}
	return out
}

// Len is the number of networks with an ASN.
func (t *ASNTable) Len() int { return len(t.nets) }

// ASNs is the number of distinct ASNs.
func (t *ASNTable) ASNs() int { return len(t.asns) }

// LookupASN returns the ASN and organisation of ip and the database
// network that holds it; ok is false when the database has no number for
// it. For explain and tools, not the query path (it allocates).
func (t *ASNTable) LookupASN(ip netip.Addr) (asn uint32, org string, network netip.Prefix, ok bool) {
	if t == nil || !ip.IsValid() {
		return 0, "", netip.Prefix{}, false
	}
	ip = ip.Unmap().WithZone("")
	res := t.r.Lookup(ip)
	network = res.Prefix()
	if a := network.Addr(); a.Is4In6() {
		network = netip.PrefixFrom(a.Unmap(), network.Bits()-96)
	}
	var rec asnRecord
	if !res.Found() || res.Decode(&rec) != nil || rec.ASN == 0 {
		return 0, "", network, false
	}
	return rec.ASN, rec.Org, network, true
}
