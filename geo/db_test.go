package geo

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenErrors(t *testing.T) {
	good, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	// Keep the metadata (at the end) but overwrite the search tree and data
	// section, so only a check of those notices.
	damaged := append([]byte(nil), good...)
	for i := range len(damaged) / 2 {
		damaged[i] = 0xff
	}

	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr error // checked with errors.Is when set
	}{
		{"missing file", func(*testing.T, string) {}, os.ErrNotExist},
		{"empty file", func(t *testing.T, p string) { write(t, p, nil) }, nil},
		{"random bytes", func(t *testing.T, p string) { write(t, p, random) }, nil},
		{"truncated", func(t *testing.T, p string) { write(t, p, good[:len(good)/2]) }, nil},
		{"metadata only", func(t *testing.T, p string) { write(t, p, good[len(good)-300:]) }, nil},
		{"damaged tree and data", func(t *testing.T, p string) { write(t, p, damaged) }, nil},
		{"asn database", func(t *testing.T, p string) {
			writeDB(t, p, "GeoLite2-ASN", 1, []cityEntry{{"81.2.69.0/24", "GB", 51.5, -0.1}})
		}, ErrNotCity},
		{"country database", func(t *testing.T, p string) {
			writeDB(t, p, "GeoLite2-Country", 1, []cityEntry{{"81.2.69.0/24", "GB", 51.5, -0.1}})
		}, ErrNotCity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.mmdb")
			tc.setup(t, path)
			d, err := Open(path)
			if err == nil {
				_ = d.Close()
				t.Fatal("Open succeeded, want error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path %q", err, path)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %q is not %v", err, tc.wantErr)
			}
		})
	}
}

func TestOpenAcceptsCityTypes(t *testing.T) {
	for _, dbType := range []string{"GeoIP2-City", "GeoLite2-City", "DBIP-City-Lite", "GLB-Test-City"} {
		t.Run(dbType, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "city.mmdb")
			writeDB(t, path, dbType, 1, []cityEntry{{"81.2.69.0/24", "GB", 51.5, -0.1}})
			d, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			_ = d.Close()
		})
	}
}

func TestReloadKeepsOldOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	good, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, good)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })

	london := netip.MustParseAddr("81.2.69.142")
	for _, bad := range [][]byte{[]byte("not a database"), good[:len(good)/3]} {
		replaceFile(t, path, bad)
		err := d.Reload()
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("Reload of corrupt file = %v, want error naming %q", err, path)
		}
		if loc, _, found := d.Lookup(london); !found || loc.Country != "GB" {
			t.Errorf("after failed Reload, Lookup = %+v, %v; want the old answer", loc, found)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Reload of removed file = %v, want ErrNotExist", err)
	}
	if _, _, found := d.Lookup(london); !found {
		t.Error("after failed Reload of removed file, Lookup found nothing")
	}
}

func TestReloadSwaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	good, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, good)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	before := d.BuildTime()

	// The new database moves 81.2.69.0/24 to Tokyo inside a wider /16.
	next := filepath.Join(t.TempDir(), "next.mmdb")
	writeDB(t, next, "GeoIP2-City", 1800000000, []cityEntry{{"81.2.0.0/16", "JP", 35.6895, 139.6917}})
	data, err := os.ReadFile(next)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, path, data)
	if err := d.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}

	loc, network, found := d.Lookup(netip.MustParseAddr("81.2.69.142"))
	if !found || loc.Country != "JP" || network != netip.MustParsePrefix("81.2.0.0/16") {
		t.Errorf("after Reload, Lookup = %+v, %s, %v; want JP, 81.2.0.0/16, true", loc, network, found)
	}
	if got := d.BuildTime(); got.Equal(before) || got.Unix() != 1800000000 {
		t.Errorf("after Reload, BuildTime = %v, want the new database's", got)
	}
}

// TestConcurrentLookupAndReload runs Lookups on several goroutines while
// the main goroutine reloads between two databases and forces collections,
// which is when retired readers get unmapped. Run it with -race: a reader
// unmapped under a running Lookup would fault, and a non-atomic swap would
// be reported as a race.
func TestConcurrentLookupAndReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "city.mmdb")
	fixture, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	writeDB(t, filepath.Join(dir, "alt.mmdb"), "GeoIP2-City", 2, []cityEntry{{"81.2.0.0/16", "JP", 35.6895, 139.6917}})
	alt, err := os.ReadFile(filepath.Join(dir, "alt.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, fixture)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })

	var addrs []netip.Addr
	for _, tc := range lookupCases() {
		addrs = append(addrs, tc.addr)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				addr := addrs[i%len(addrs)]
				loc, network, found := d.Lookup(addr)
				// Either database may answer, but never garbage.
				if !network.Contains(addr.Unmap().WithZone("")) {
					t.Errorf("Lookup(%s) network %s does not contain it", addr, network)
					return
				}
				if found && len(loc.Country) != 2 {
					t.Errorf("Lookup(%s) = %+v, want a two-letter country", addr, loc)
					return
				}
			}
		})
	}
	for i := range 200 {
		data := fixture
		if i%2 == 0 {
			data = alt
		}
		replaceFile(t, path, data)
		if err := d.Reload(); err != nil {
			t.Errorf("Reload %d: %v", i, err)
			break
		}
		if i%20 == 0 {
			runtime.GC() // run the cleanups that unmap retired readers
		}
	}
	close(stop)
	wg.Wait()
}

// TestReloadReleasesRetiredReaders checks the other half of the reload
// design: retired readers are not closed by Reload, so something else must
// unmap them or every reload would leak a mapping. That something is the
// cleanup maxminddb-golang attaches to each Reader; if a dependency update
// drops it, this test fails rather than glbd slowly leaking address space.
func TestReloadReleasesRetiredReaders(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skipf("no /proc/self/maps to count mappings: %v", err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	fixture, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, fixture)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	const reloads = 20
	for range reloads {
		replaceFile(t, path, fixture)
		if err := d.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	// Cleanups run on a separate goroutine after the cycle that finds the
	// Reader unreachable, so give them a few cycles.
	var n int
	for range 50 {
		runtime.GC()
		n = countMappings(t, path)
		if n <= 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n > 1 {
		t.Errorf("%d mappings of %s remain after %d reloads and GC, want 1 (the current reader)", n, path, reloads)
	}
}

// countMappings counts the memory mappings of path, including those of
// files since renamed over, which the kernel marks "(deleted)".
func countMappings(t *testing.T, path string) int {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(maps)) {
		if strings.Contains(line, path) {
			n++
		}
	}
	return n
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
