package geo

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// What Open checks before the database serves, instead of the full
// verification (verify.go), which reads every tree node and every record:
// 0.2-0.3 s for a GeoLite2-City file (maxminddb's Reader.Verify, which it
// replaced, took 0.8 s and made 380 MB of garbage, the whole wait before
// glbd's first answer). The quick check costs a few milliseconds and catches
// what a damaged or half-copied file usually is: cut short (the metadata at
// the end is gone), not a database, or garbage over a stretch of the tree or
// the data section (the samples below land in it). The full verification
// still runs, in the background after Open (DB.Verify), and before a reload
// swaps a new file in.
const (
	// sampleNodes is how many tree nodes, evenly spread, have both their
	// records checked: every node of a tree this small or smaller.
	sampleNodes = 1 << 16
	// sampleRecords is how many distinct data records those nodes point
	// to are decoded in full.
	sampleRecords = 1 << 12
)

// metadataMarker starts the metadata section at the end of every MaxMind
// DB file (the specification's "\xAB\xCD\xEFMaxMind.com").
var metadataMarker = []byte("\xAB\xCD\xEFMaxMind.com")

// errCorrupt is wrapped by the quick check's errors.
var errCorrupt = errors.New("database is corrupt")

// quickCheck checks the structure of the database that r reads from data:
// the metadata, the sizes of the tree and data section against the file,
// the separator between them, sampleNodes nodes of the tree (each record a
// node, the empty marker or a pointer into the data section), up to
// sampleRecords of the records they point to (decoded in full), and
// lookups of a few well-known addresses from the root down.
func quickCheck(r *maxminddb.Reader, data []byte) error {
	md := r.Metadata
	if md.BinaryFormatMajorVersion != 2 {
		return fmt.Errorf("binary format version %d, want 2: %w", md.BinaryFormatMajorVersion, errCorrupt)
	}
	nodeBytes := md.RecordSize / 4 // bytes per node: two records
	if md.RecordSize != 24 && md.RecordSize != 28 && md.RecordSize != 32 {
		return fmt.Errorf("record size %d: %w", md.RecordSize, errCorrupt)
	}
	mdStart := bytes.LastIndex(data, metadataMarker)
	if mdStart < 0 || md.NodeCount == 0 || md.NodeCount > uint(mdStart)/nodeBytes {
		return fmt.Errorf("search tree of %d nodes does not fit the file: %w", md.NodeCount, errCorrupt)
	}
	treeSize := md.NodeCount * nodeBytes
	if treeSize+16 > uint(mdStart) {
		return fmt.Errorf("no data section after the search tree: %w", errCorrupt)
	}
	if !allZero(data[treeSize : treeSize+16]) {
		return fmt.Errorf("no data section separator after the search tree: %w", errCorrupt)
	}
	dataSize := uint(mdStart) - treeSize - 16
	stride := max(1, md.NodeCount/sampleNodes)
	offsets := make(map[uint]struct{}, min(sampleRecords, md.NodeCount))
	for n := uint(0); n < md.NodeCount; n += stride {
		for _, v := range readNode(data[n*nodeBytes:], md.RecordSize) {
			switch {
			case v <= md.NodeCount: // a node, or the empty marker
			case v < md.NodeCount+16 || v-md.NodeCount-16 >= dataSize:
				return fmt.Errorf("tree node %d points outside the data section: %w", n, errCorrupt)
			case len(offsets) < sampleRecords:
				offsets[v-md.NodeCount-16] = struct{}{}
			}
		}
	}
	var v any
	for off := range offsets {
		if err := r.LookupOffset(uintptr(off)).Decode(&v); err != nil {
			return fmt.Errorf("record at data offset %d: %w", off, err)
		}
	}
	for _, a := range probeAddrs {
		res := r.Lookup(a)
		if err := res.Err(); err != nil {
			return fmt.Errorf("lookup %s: %w", a, err)
		}
		if res.Found() {
			if err := res.Decode(&v); err != nil {
				return fmt.Errorf("lookup %s: %w", a, err)
			}
		}
	}
	return nil
}

// probeAddrs are looked up from the root by quickCheck: the paths to them
// run through the busiest parts of a City tree.
var probeAddrs = []netip.Addr{
	netip.MustParseAddr("1.1.1.1"),
	netip.MustParseAddr("8.8.8.8"),
	netip.MustParseAddr("81.2.69.142"),
	netip.MustParseAddr("203.0.113.1"),
	netip.MustParseAddr("2001:4860:4860::8888"),
	netip.MustParseAddr("2a02:c7f::1"),
}

// readNode returns the two records of the node at the start of b.
func readNode(b []byte, recordSize uint) [2]uint {
	switch recordSize {
	case 24:
		return [2]uint{uint(b[0])<<16 | uint(b[1])<<8 | uint(b[2]), uint(b[3])<<16 | uint(b[4])<<8 | uint(b[5])}
	case 28:
		return [2]uint{
			uint(b[3]&0xf0)<<20 | uint(b[0])<<16 | uint(b[1])<<8 | uint(b[2]),
			uint(b[3]&0x0f)<<24 | uint(b[4])<<16 | uint(b[5])<<8 | uint(b[6]),
		}
	default: // 32
		return [2]uint{
			uint(b[0])<<24 | uint(b[1])<<16 | uint(b[2])<<8 | uint(b[3]),
			uint(b[4])<<24 | uint(b[5])<<16 | uint(b[6])<<8 | uint(b[7]),
		}
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
