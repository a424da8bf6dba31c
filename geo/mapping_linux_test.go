package geo

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// residentKB is the Rss of the mapping that starts at data[0], from
// /proc/self/smaps.
func residentKB(t *testing.T, data []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&data[0])))
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, start) {
			in = true
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no mapping at %s in /proc/self/smaps", start)
	return 0
}

// TestMappingTrimmed: the pages Open's Verify and the partition walk read
// are given back, lookups fault in only what they read and still answer
// the same.
func TestMappingTrimmed(t *testing.T) {
	d, err := Open(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	data := d.reader.Load().m.data
	if kb := residentKB(t, data); kb != 0 {
		t.Errorf("after Open: %d kB of the database resident, want 0 (Verify's pages given back)", kb)
	}
	london := netip.MustParseAddr("81.2.69.1")
	before, _, found := d.Lookup(london)
	if !found {
		t.Fatal("no location for 81.2.69.1")
	}
	if kb := residentKB(t, data); kb == 0 {
		t.Error("after a lookup: nothing resident; the test cannot see trimming")
	}
	if _, err := d.Partition(); err != nil {
		t.Fatal(err)
	}
	if kb := residentKB(t, data); kb != 0 {
		t.Errorf("after the partition walk: %d kB resident, want 0", kb)
	}
	if after, _, _ := d.Lookup(london); after != before {
		t.Errorf("lookup after trimming = %+v, want %+v", after, before)
	}
	if kb := residentKB(t, data); kb == 0 {
		t.Fatal("after a lookup: nothing resident; the test cannot see TrimPages")
	}
	d.TrimPages()
	if kb := residentKB(t, data); kb != 0 {
		t.Errorf("after TrimPages: %d kB resident, want 0", kb)
	}
	if after, _, _ := d.Lookup(london); after != before {
		t.Errorf("lookup after TrimPages = %+v, want %+v", after, before)
	}
}
