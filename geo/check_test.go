package geo

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fixtureLayout returns the test database and where its sections are.
func fixtureLayout(t *testing.T) (good []byte, treeSize, dataStart int) {
	t.Helper()
	good, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	r, err := maxminddb.OpenBytes(good)
	if err != nil {
		t.Fatal(err)
	}
	treeSize = int(r.Metadata.NodeCount * r.Metadata.RecordSize / 4)
	return good, treeSize, treeSize + 16
}

// damaged returns a copy of good with f applied.
func damaged(good []byte, f func(b []byte)) []byte {
	b := bytes.Clone(good)
	f(b)
	return b
}

func fill(b []byte, c byte) {
	for i := range b {
		b[i] = c
	}
}

// TestOpenQuickCheck: Open no longer reads the whole file, so its quick
// check must still turn away what a damaged file usually is, and leave to
// Verify only what it cannot see without reading everything (here a
// string that is not UTF-8, which Reader.Verify rejects and lookups never
// look at). What Open passes, Verify still judges, and a reload (which
// verifies fully before the swap) refuses.
func TestOpenQuickCheck(t *testing.T) {
	good, treeSize, dataStart := fixtureLayout(t)
	london := bytes.Index(good, []byte("London"))
	if london < dataStart {
		t.Fatalf("London at %d, want it in the data section (from %d)", london, dataStart)
	}
	tests := []struct {
		name       string
		file       []byte
		openOK     bool // Open (the quick check) accepts it
		verifiedOK bool // and the full verification too
	}{
		{"good", good, true, true},
		{"truncated inside the data section", good[:dataStart+40], false, false},
		{"truncated inside the tree", good[:treeSize/2], false, false},
		{"garbage in the middle of the tree", damaged(good, func(b []byte) { fill(b[treeSize/2:treeSize/2+12], 0xff) }), false, false},
		{"garbage over the last tree node", damaged(good, func(b []byte) { fill(b[treeSize-6:treeSize], 0xee) }), false, false},
		{"separator not zero", damaged(good, func(b []byte) { b[treeSize+5] = 1 }), false, false},
		{"garbage in the data section", damaged(good, func(b []byte) { fill(b[dataStart:dataStart+24], 0xff) }), false, false},
		{"garbage in a record's middle", damaged(good, func(b []byte) { fill(b[london-8:london+6], 0xff) }), false, false},
		{"a name that is not UTF-8", damaged(good, func(b []byte) { copy(b[london:], "\xff\xfe") }), true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "city.mmdb")
			write(t, path, tc.file)
			d, err := Open(path)
			if !tc.openOK {
				if err == nil {
					_ = d.Close()
					t.Fatal("Open succeeded, want an error")
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the path", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer d.Close()
			if d.Verified() {
				t.Error("Verified before Verify, want false: Open only checks the structure")
			}
			// Open's database answers before it is verified.
			if loc, _, found := d.Lookup(netip.MustParseAddr("81.2.69.142")); !found || loc.Country != "GB" {
				t.Errorf("Lookup before Verify = %+v, %v; want GB", loc, found)
			}
			err = d.Verify()
			if tc.verifiedOK != (err == nil) || d.Verified() != tc.verifiedOK {
				t.Fatalf("Verify = %v, Verified %v; want ok %v", err, d.Verified(), tc.verifiedOK)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("Verify error %q does not name the path", err)
			}
			// A reload verifies the whole file before it swaps.
			if err := d.Reload(); (err == nil) != tc.verifiedOK {
				t.Errorf("Reload of the same file = %v, want ok %v", err, tc.verifiedOK)
			}
			if !tc.verifiedOK && d.Verified() {
				t.Error("a refused reload marked the database verified")
			}
		})
	}
}

// TestReloadVerifiesBeforeSwap: a new file that only a full verification
// catches never replaces a good database, and the good one stays verified.
func TestReloadVerifiesBeforeSwap(t *testing.T) {
	good, _, _ := fixtureLayout(t)
	path := filepath.Join(t.TempDir(), "city.mmdb")
	write(t, path, good)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Verify(); err != nil {
		t.Fatal(err)
	}
	london := bytes.Index(good, []byte("London"))
	replaceFile(t, path, damaged(good, func(b []byte) { copy(b[london:], "\xff\xfe") }))
	if err := d.Reload(); err == nil || !strings.Contains(err.Error(), "verify") {
		t.Fatalf("Reload of a file that fails verification = %v, want a verify error", err)
	}
	if !d.Verified() {
		t.Error("after the refused reload, the database in use is no longer verified")
	}
	if loc, _, found := d.Lookup(netip.MustParseAddr("81.2.69.142")); !found || loc.Country != "GB" {
		t.Errorf("after the refused reload, Lookup = %+v, %v; want the old answer", loc, found)
	}
}

// TestReloaderVerify: the Reloader reports the background verification of
// the opened database (glb_geoip_verified, Verification), and a later good
// reload clears a failure.
func TestReloaderVerify(t *testing.T) {
	good, _, _ := fixtureLayout(t)
	london := bytes.Index(good, []byte("London"))
	bad := damaged(good, func(b []byte) { copy(b[london:], "\xff\xfe") })
	for _, tc := range []struct {
		name string
		file []byte
		ok   bool
	}{{"good", good, true}, {"fails verification", bad, false}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "city.mmdb")
			write(t, path, tc.file)
			d, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			m := NewMetrics(prometheus.NewRegistry())
			r := NewReloader(d, ReloaderConfig{Metrics: m})
			if done, err := r.Verification(); done || err != nil || testutil.ToFloat64(m.verified) != 0 {
				t.Fatalf("before Verify: %v, %v, gauge %v; want pending", done, err, testutil.ToFloat64(m.verified))
			}
			err = r.Verify()
			done, verr := r.Verification()
			if (err == nil) != tc.ok || done != tc.ok || (verr == nil) != tc.ok || testutil.ToFloat64(m.verified) != b2f(tc.ok) {
				t.Fatalf("Verify = %v; Verification %v, %v; gauge %v; want ok %v", err, done, verr, testutil.ToFloat64(m.verified), tc.ok)
			}
			// A reload of a good file clears a failure.
			replaceFile(t, path, good)
			if err := r.Reload(); err != nil {
				t.Fatal(err)
			}
			if done, err := r.Verification(); !done || err != nil || testutil.ToFloat64(m.verified) != 1 {
				t.Errorf("after a good reload: %v, %v, gauge %v; want verified", done, err, testutil.ToFloat64(m.verified))
			}
		})
	}
}
