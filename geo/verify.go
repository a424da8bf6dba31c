package geo

import (
	"bytes"
	"fmt"
	"runtime"

	"github.com/oschwald/maxminddb-golang/v2"
)

// verifyFull checks every byte of the database that r reads from data, as
// strictly as maxminddb's Reader.Verify, without its cost: Reader.Verify
// decodes every record into maps and keeps every record offset in a map
// (0.6-0.8 s and 380 MB allocated for a GeoLite2-City file), which was most
// of a reload's wait. This walks the same structure in place and keeps
// what it must remember in bitsets, one bit per byte of the data section:
//
//   - the metadata: the fields Reader.Verify requires, and every value of
//     the section well formed (as the data section below);
//   - the search tree, from the root as Reader.Verify walks it: every record
//     a node, the empty marker or a pointer into the data section; no node
//     reached twice on one path (a cycle), no path deeper than 128 bits;
//   - the separator of 16 zero bytes;
//   - the data section, front to back: every value's control byte, size
//     and bounds, UTF-8 in every string, map keys strings, no pointer to a
//     pointer, every pointer at the start of a field, every top-level value
//     pointed to by the tree and every tree pointer at the start of a field,
//     nothing left over at the end; each record's expansion through its
//     pointers bounded as the decoder bounds it (depth and size).
//
// The tree and the data section are walked by two goroutines: on an idle
// machine that nearly halves the wait. Both step aside every millisecond
// or so of work (runtime.Gosched), as the partition walk does: with both
// processors of a two-core machine busy verifying, the UDP readers would
// otherwise wait for a time slice (10 ms) to answer during a reload.
func verifyFull(r *maxminddb.Reader, data []byte) error {
	md := r.Metadata
	l, err := layoutOf(r, data)
	if err != nil {
		return err
	}
	if err := verifyMetadata(r, data[l.mdStart+len(metadataMarker):]); err != nil {
		return err
	}
	if !allZero(data[l.treeSize : l.treeSize+16]) {
		return fmt.Errorf("no data section separator after the search tree: %w", errCorrupt)
	}
	ds := data[l.treeSize+16 : l.mdStart]
	tree := treeWalk{data: data, nodeCount: md.NodeCount, recordSize: md.RecordSize, nodeBytes: md.RecordSize / 4,
		dataSize: uint(len(ds)), states: make([]uint8, md.NodeCount), targets: newBitset(uint(len(ds)))}
	treeErr := make(chan error, 1)
	go func() {
		defer func() {
			// A damaged file must cost a rejected load, not the process;
			// the walk is bounds-checked, so this is only a safety net.
			if p := recover(); p != nil {
				treeErr <- fmt.Errorf("search tree: panic: %v: %w", p, errCorrupt)
			}
		}()
		treeErr <- tree.walk(md.IPVersion)
	}()
	s := newSection(ds, true)
	dataErr := s.walk()
	if err := <-treeErr; err != nil {
		return err
	}
	if dataErr != nil {
		return dataErr
	}
	if off, ok := s.tops.subsetOf(tree.targets); !ok {
		return fmt.Errorf("data section: a value at offset %d that the search tree does not point to: %w", off, errCorrupt)
	}
	if off, ok := tree.targets.subsetOf(s.starts); !ok {
		return fmt.Errorf("search tree points into the middle of a field (data offset %d): %w", off, errCorrupt)
	}
	if off, ok := s.pointed.subsetOf(s.starts); !ok {
		return fmt.Errorf("data section: a pointer to offset %d, not the start of a field: %w", off, errCorrupt)
	}
	return nil
}

// layout is where the sections of a database file are.
type layout struct {
	treeSize uint // bytes of the search tree, where the separator starts
	mdStart  int  // where the metadata marker starts, where the data section ends
}

// layoutOf checks the format version, the record size and that the tree,
// the separator and the metadata fit the file, in that order.
func layoutOf(r *maxminddb.Reader, data []byte) (layout, error) {
	md := r.Metadata
	if md.BinaryFormatMajorVersion != 2 {
		return layout{}, fmt.Errorf("binary format version %d, want 2: %w", md.BinaryFormatMajorVersion, errCorrupt)
	}
	if md.RecordSize != 24 && md.RecordSize != 28 && md.RecordSize != 32 {
		return layout{}, fmt.Errorf("record size %d: %w", md.RecordSize, errCorrupt)
	}
	nodeBytes := md.RecordSize / 4 // two records a node
	mdStart := bytes.LastIndex(data, metadataMarker)
	if mdStart < 0 || md.NodeCount == 0 || md.NodeCount > uint(mdStart)/nodeBytes {
		return layout{}, fmt.Errorf("search tree of %d nodes does not fit the file: %w", md.NodeCount, errCorrupt)
	}
	treeSize := md.NodeCount * nodeBytes
	if treeSize+16 > uint(mdStart) {
		return layout{}, fmt.Errorf("no data section after the search tree: %w", errCorrupt)
	}
	return layout{treeSize: treeSize, mdStart: mdStart}, nil
}

// verifyMetadata checks the metadata fields that Reader.Verify requires
// (OpenBytes decoded them) and the values of the metadata section b.
func verifyMetadata(r *maxminddb.Reader, b []byte) error {
	md := r.Metadata
	switch {
	case md.BinaryFormatMinorVersion != 0:
		return fmt.Errorf("metadata: binary format minor version %d, want 0: %w", md.BinaryFormatMinorVersion, errCorrupt)
	case md.DatabaseType == "":
		return fmt.Errorf("metadata: no database_type: %w", errCorrupt)
	case len(md.Description) == 0:
		return fmt.Errorf("metadata: no description: %w", errCorrupt)
	case md.IPVersion != 4 && md.IPVersion != 6:
		return fmt.Errorf("metadata: ip_version %d: %w", md.IPVersion, errCorrupt)
	}
	// One expansion budget for the whole section, as the decoder gives it,
	// and no top-level value needs the tree to point to it.
	s := newSection(b, false)
	s.budget()
	if err := s.walk(); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if off, ok := s.pointed.subsetOf(s.starts); !ok {
		return fmt.Errorf("metadata: a pointer to offset %d, not the start of a field: %w", off, errCorrupt)
	}
	return nil
}

// treeWalk walks the search tree from the root as Reader.Verify does:
// depth first, each node once (states remembers the height below it, or
// that it is on the current path), every data pointer set in targets.
type treeWalk struct {
	data       []byte
	nodeCount  uint
	recordSize uint
	nodeBytes  uint // recordSize / 4: two records a node
	dataSize   uint
	states     []uint8 // 0 not reached, onPath, else the height of the node's subtree
	targets    bitset
	visited    uint
}

// verifyYieldNodes and verifyYieldBytes are how much of the tree and of the
// data section the verification walks between stepping aside: about a
// millisecond of work each.
const (
	verifyYieldNodes = 1 << 15
	verifyYieldBytes = 1 << 17
)

// onPath marks a node on the path being walked: reaching it again is a cycle.
const onPath = 255

func (w *treeWalk) walk(ipVersion uint) error {
	depth := uint(0)
	if ipVersion == 4 {
		depth = 96 // an IPv4 tree's paths are 32 bits
	}
	h, err := w.node(0, depth)
	if err != nil {
		return err
	}
	if depth+uint(h) > 128 {
		return fmt.Errorf("search tree: a path longer than 128 bits: %w", errCorrupt)
	}
	return nil
}

// node walks the subtree at node n, depth bits below the root, and returns
// its height.
func (w *treeWalk) node(n, depth uint) (uint8, error) {
	if depth >= 128 {
		return 0, fmt.Errorf("search tree: node %d at bit depth %d: %w", n, depth, errCorrupt)
	}
	switch st := w.states[n]; st {
	case onPath:
		return 0, fmt.Errorf("search tree: a cycle at node %d: %w", n, errCorrupt)
	case 0:
	default:
		return st, nil
	}
	w.states[n] = onPath
	if w.visited++; w.visited%verifyYieldNodes == 0 {
		runtime.Gosched()
	}
	rec := readNode(w.data[n*w.nodeBytes:], w.recordSize)
	hl, err := w.record(n, rec[0], depth)
	if err != nil {
		return 0, err
	}
	hr, err := w.record(n, rec[1], depth)
	if err != nil {
		return 0, err
	}
	h := max(hl, hr)
	if h == 128 {
		return 0, fmt.Errorf("search tree: a path longer than 128 bits: %w", errCorrupt)
	}
	w.states[n] = h + 1
	return h + 1, nil
}

// record checks a record v of node n, depth bits below the root, and
// returns the height of what it points to: 0 for data or nothing.
func (w *treeWalk) record(n, v, depth uint) (uint8, error) {
	switch {
	case v < w.nodeCount:
		return w.node(v, depth+1)
	case v == w.nodeCount: // the empty marker
	case v < w.nodeCount+16 || v-w.nodeCount-16 >= w.dataSize:
		return 0, fmt.Errorf("search tree: node %d points outside the data section: %w", n, errCorrupt)
	default:
		w.targets.set(v - w.nodeCount - 16)
	}
	return 0, nil
}

// bitset is one bit per byte offset of a section.
type bitset []uint64

func newBitset(n uint) bitset { return make(bitset, n/64+1) }

func (b bitset) set(i uint)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i uint) bool { return b[i/64]&(1<<(i%64)) != 0 }

// subsetOf returns the first offset set in b and not in o, and false, if
// there is one.
func (b bitset) subsetOf(o bitset) (uint, bool) {
	for i, w := range b {
		if extra := w &^ o[i]; extra != 0 {
			for j := uint(0); j < 64; j++ {
				if extra&(1<<j) != 0 {
					return uint(i)*64 + j, false
				}
			}
		}
	}
	return 0, true
}
