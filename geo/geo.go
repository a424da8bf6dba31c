// Package geo maps client addresses to locations using a MaxMind-format
// City database (GeoIP2/GeoLite2 City, DB-IP City Lite, or glb's generated
// test databases). It is the only package in glb that reads .mmdb files.
//
// Lookups sit on the DNS query path, so a DB holds its reader in an
// atomic.Pointer: Lookup takes no lock and does no I/O, and Reload builds and
// validates a new reader off the path, then swaps it in.
package geo

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// ErrNotCity is returned (wrapped) by Open and Reload when the file is a
// valid MaxMind DB but not a City database, so it has no coordinates to
// rank regions by.
var ErrNotCity = errors.New("geo: not a City database")

// ErrClosed is returned by Reload after Close.
var ErrClosed = errors.New("geo: database closed")

// Location is what glb needs to know about a client.
type Location struct {
	Lat, Lon    float64 // degrees
	Country     string  // ISO 3166-1 alpha-2, upper case, "" if unknown
	Continent   string  // two-letter continent code (EU, NA, SA, AS, AF, OC, AN), "" if unknown
	Subdivision string  // ISO code of the first subdivision, "" if unknown
}

// DB is a City database opened from a file. It is safe for concurrent use:
// any number of Lookups may run while one goroutine calls Reload.
//
// Retired readers are never closed explicitly. Reload only swaps the pointer;
// a Lookup that loaded the old reader just before the swap keeps it
// reachable, and a runtime cleanup registered on the Reader (openReader)
// unmaps the file once the Reader is unreachable. The garbage collector thus
// tracks exactly when the last Lookup is done, which no grace timer can
// promise, and the Lookup path needs no lock or reference count. The cost is
// that an old mapping lives until the next GC cycles after its last use: a
// few tens of MB of page cache for a while after a reload.
type DB struct {
	path   string
	reader atomic.Pointer[mappedReader] // nil after Close
	// partition caches Partition for the reader in use.
	partition atomic.Pointer[partitionCache]
	records   sync.Pool
}

// Open memory-maps the City database at path and checks that it is usable:
// the file exists, its database_type contains "City" (GeoIP2-City,
// GeoLite2-City, DBIP-City-Lite, GLB-Test-City, ...), and its structure
// passes a quick check (check.go: the metadata, the sizes of its sections,
// a sample of the tree and of the records). The full verification, which
// reads the whole file, is left to Verify, so that a server can answer
// meanwhile. Errors name the path.
func Open(path string) (*DB, error) {
	mr, err := openReader("open", path)
	if err != nil {
		return nil, err
	}
	d := &DB{path: path}
	d.records.New = func() any { return new(record) }
	d.reader.Store(mr)
	return d, nil
}

// mappedReader is a reader with the mapping of its file. The mapping
// holds no reference to the reader, so the reader's cleanup can run.
type mappedReader struct {
	r *maxminddb.Reader
	m *mapping
	// verified is set once the full verification passed: at once for a reload's
	// reader, by DB.Verify for Open's.
	verified atomic.Bool
}

// openReader maps, opens and validates one reader; Open and Reload share
// it so a reload applies the checks the first open did, and more: op
// ("open" or "reload") leads the error text, and a reload verifies the
// whole file before it is used, where Open only checks its structure.
func openReader(op, path string) (*mappedReader, error) {
	m, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s geoip db %q: %w", op, path, err)
	}
	r, err := maxminddb.OpenBytes(m.data)
	if err != nil {
		m.unmap()
		return nil, fmt.Errorf("%s geoip db %q: %w", op, path, err)
	}
	full := op != "open"
	if err := validate(r, m.data, full); err != nil {
		m.unmap() // never published, so nothing can be reading it
		return nil, fmt.Errorf("%s geoip db %q: %w", op, path, err)
	}
	runtime.AddCleanup(r, (*mapping).unmap, m)
	mr := &mappedReader{r: r, m: m}
	mr.verified.Store(full)
	m.trim() // Verify read every page, the quick check every page of the tree
	return mr, nil
}

// validate rejects databases glb cannot use. maxminddb.Open reads only the
// metadata, so a file cut short or damaged inside the tree or data section
// would otherwise open cleanly and fail later on the query path. With full,
// verifyFull walks the whole file once, off the query path, to catch that
// here (as strict as maxminddb's Reader.Verify: 0.15-0.3 s for a
// GeoLite2-City file where Reader.Verify took 0.8 s); without, quickCheck
// samples it (a few milliseconds).
func validate(r *maxminddb.Reader, data []byte, full bool) error {
	t := r.Metadata.DatabaseType
	// Substring, not an allow-list: vendors add City variants
	// (GeoIP2-City-Europe, DBIP-City-Lite, ...) and all share the schema.
	if !strings.Contains(t, "City") {
		return fmt.Errorf("database type %q: %w", t, ErrNotCity)
	}
	if r.Metadata.IPVersion != 6 {
		// An IPv4-only tree cannot place IPv6 clients (maxminddb returns an
		// error for them); every City database published today is an IPv6
		// tree with IPv4 aliases.
		return fmt.Errorf("database type %q has ip_version %d, want 6: %w", t, r.Metadata.IPVersion, ErrNotCity)
	}
	if !full {
		if err := quickCheck(r, data); err != nil {
			return fmt.Errorf("check database: %w", err)
		}
		return nil
	}
	if err := verifyFull(r, data); err != nil {
		return fmt.Errorf("verify database: %w", err)
	}
	return nil
}

// Verify fully verifies the database in use (verifyFull: every tree node
// and every record), if that has not been done: Open only
// checks the structure, so that the server answers while this runs. A
// reloaded database was verified before it was swapped in. On error the
// database stays in use (there is nothing else to answer from); the caller
// reports it. The file's pages read here are given back afterwards.
func (d *DB) Verify() (err error) {
	mr := d.reader.Load()
	if mr == nil {
		return fmt.Errorf("verify geoip db %q: %w", d.path, ErrClosed)
	}
	if mr.verified.Load() {
		return nil
	}
	defer func() {
		// A damaged file must cost a failed verification, not the process.
		if p := recover(); p != nil {
			err = fmt.Errorf("verify geoip db %q: panic: %v", d.path, p)
		}
	}()
	if err := verifyFull(mr.r, mr.m.data); err != nil {
		return fmt.Errorf("verify geoip db %q: %w", d.path, err)
	}
	mr.verified.Store(true)
	mr.m.trim()
	return nil
}

// Verified reports whether the database in use passed the full
// verification (Verify, or the one a reload does).
func (d *DB) Verified() bool {
	mr := d.reader.Load()
	return mr != nil && mr.verified.Load()
}

// Path returns the file the DB was opened from and reloads from.
func (d *DB) Path() string { return d.path }

// Reload opens the file at Path again and, if it passes the same checks as
// Open, swaps it in. On error the current reader stays in service, so a bad
// or half-copied file never takes lookups down.
//
// Install a new database by writing it elsewhere and renaming it over Path
// (as geoipupdate does). Rewriting the file in place changes the bytes under
// the current mapping, and truncating it makes lookups fault.
func (d *DB) Reload() error {
	if d.reader.Load() == nil {
		return fmt.Errorf("reload geoip db %q: %w", d.path, ErrClosed)
	}
	mr, err := openReader("reload", d.path)
	if err != nil {
		return err
	}
	// CompareAndSwap rather than Store so that a Close racing with this
	// Reload wins: the new reader is dropped instead of resurrecting the DB.
	// The loop only repeats when another Reload swapped in between.
	for {
		old := d.reader.Load()
		if old == nil {
			mr.m.unmap() // never published
			return fmt.Errorf("reload geoip db %q: %w", d.path, ErrClosed)
		}
		if d.reader.CompareAndSwap(old, mr) {
			break
		}
	}
	// The old reader is deliberately not closed; see the DB doc comment.
	return nil
}

// TrimPages gives the pages of the database file that lookups have read
// back to the kernel: they leave the process's resident memory and stay in
// the page cache, so the next lookup that needs one maps it again without
// I/O. The server calls it once its ECS scope tables are in: until then
// every query looks its client up, and the queries of those seconds touch
// tens of MB of a large tree that the tables make needless.
func (d *DB) TrimPages() {
	if mr := d.reader.Load(); mr != nil {
		mr.m.trim()
	}
}

// Loaded reports whether the DB has a database to look up in: true from
// Open until Close.
func (d *DB) Loaded() bool { return d.reader.Load() != nil }

// BuildTime returns the build_epoch from the current database's metadata,
// the zero Time after Close.
func (d *DB) BuildTime() time.Time {
	mr := d.reader.Load()
	if mr == nil {
		return time.Time{}
	}
	return mr.r.Metadata.BuildTime()
}

// Close unmaps the current database. Unlike Reload, it unmaps at once, so it
// must not run concurrently with Lookup; call it after the server has
// stopped. Lookups after Close report nothing found. Close is idempotent.
func (d *DB) Close() error {
	mr := d.reader.Swap(nil)
	if mr == nil {
		return nil
	}
	err := mr.r.Close()
	mr.m.unmap()
	if err != nil {
		return fmt.Errorf("close geoip db %q: %w", d.path, err)
	}
	return nil
}
