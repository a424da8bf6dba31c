package geo

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

// corruptSeeds is how many damaged copies of the fixture each section gets
// in TestVerifyFullAgainstReaderVerify.
const corruptSeeds = 400

// TestVerifyFullAgainstReaderVerify damages the fixture at random (a few
// bytes changed, in the search tree, the data section or the metadata)
// and checks that verifyFull rejects every copy maxminddb's Reader.Verify
// rejects: it replaced Reader.Verify before a reload's swap, so it must be
// at least as strict. Where it rejects a copy Reader.Verify passes, the
// test says so (stricter is allowed, and counted).
func TestVerifyFullAgainstReaderVerify(t *testing.T) {
	good, treeSize, dataStart := fixtureLayout(t)
	mdStart := bytes.LastIndex(good, metadataMarker)
	sections := []struct {
		name       string
		start, end int
	}{
		{"tree", 0, treeSize},
		{"separator", treeSize, dataStart},
		{"data", dataStart, mdStart},
		{"metadata", mdStart + len(metadataMarker), len(good)},
	}
	for _, sec := range sections {
		t.Run(sec.name, func(t *testing.T) {
			var opened, readerRejects, oursRejects, stricter int
			for seed := range uint64(corruptSeeds) {
				b := flipBytes(good, sec.start, sec.end, seed)
				r, err := maxminddb.OpenBytes(b)
				if err != nil {
					continue // Open refuses it before any verification
				}
				opened++
				theirs := safeVerify(r.Verify)
				ours := safeVerify(func() error { return verifyFull(r, b) })
				if ours != nil && bytes.Contains([]byte(ours.Error()), []byte("panic")) {
					t.Fatalf("seed %d: verifyFull panicked: %v", seed, ours)
				}
				if theirs != nil {
					readerRejects++
				}
				if ours != nil {
					oursRejects++
				}
				switch {
				case theirs != nil && ours == nil:
					t.Errorf("seed %d: Reader.Verify rejects (%v), verifyFull accepts", seed, theirs)
				case theirs == nil && ours != nil:
					stricter++
					t.Logf("seed %d: verifyFull rejects what Reader.Verify accepts: %v", seed, ours)
				}
			}
			t.Logf("%d damaged copies opened; Reader.Verify rejected %d, verifyFull %d (%d more)",
				opened, readerRejects, oursRejects, stricter)
			if readerRejects == 0 && sec.name != "metadata" {
				t.Error("Reader.Verify rejected no damaged copy: the damage does not exercise the check")
			}
		})
	}
}

// flipBytes returns a copy of good with one to four bytes in [start, end)
// changed, chosen by seed: for even seeds xor with a random non-zero byte,
// for odd ones one bit flipped (a size or a pointer off by a power of two).
func flipBytes(good []byte, start, end int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 19))
	b := bytes.Clone(good)
	for range 1 + rng.IntN(4) {
		x := byte(1 + rng.IntN(255))
		if seed%2 == 1 {
			x = 1 << rng.IntN(8)
		}
		b[start+rng.IntN(end-start)] ^= x
	}
	return b
}

// safeVerify runs verify with a panic turned into an error.
func safeVerify(verify func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return verify()
}

// TestVerifyFullRejects: damage of the kinds Reader.Verify checks for, made
// on purpose where random flips would rarely make it, is rejected by both.
func TestVerifyFullRejects(t *testing.T) {
	good, treeSize, dataStart := fixtureLayout(t)
	r, err := maxminddb.OpenBytes(good)
	if err != nil {
		t.Fatal(err)
	}
	recordSize := r.Metadata.RecordSize
	nodeCount := r.Metadata.NodeCount
	london := bytes.Index(good, []byte("London"))
	mdStart := bytes.LastIndex(good, metadataMarker)
	tests := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"a cycle in the tree", func(b []byte) []byte {
			// The root's child points back to the root.
			child := readNode(b, recordSize)[0]
			putRecord(b[child*(recordSize/4):], recordSize, 0, 0)
			return b
		}},
		{"a tree record past the data section", func(b []byte) []byte {
			putRecord(b, recordSize, 1, nodeCount+16+uint(mdStart-dataStart))
			return b
		}},
		{"a tree record into the separator", func(b []byte) []byte {
			putRecord(b, recordSize, 1, nodeCount+3)
			return b
		}},
		{"a tree record into the middle of a field", func(b []byte) []byte {
			putRecord(b, recordSize, 1, nodeCount+16+uint(london-dataStart)+2)
			return b
		}},
		{"a string that is not UTF-8", func(b []byte) []byte { copy(b[london:], "\xff\xfe"); return b }},
		{"garbage after the last value", func(b []byte) []byte {
			// Make the data section one byte longer by moving the metadata.
			return append(append(b[:mdStart:mdStart], 0x40), good[mdStart:]...) // an empty string
		}},
		{"a value nothing points to", func(b []byte) []byte {
			return append(append(b[:mdStart:mdStart], 0x41, 'x'), good[mdStart:]...)
		}},
		{"an unknown extended type", func(b []byte) []byte {
			return append(append(b[:mdStart:mdStart], 0x00, 0x20), good[mdStart:]...)
		}},
		{"the separator not zero", func(b []byte) []byte { b[treeSize+15] = 0x80; return b }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.damage(bytes.Clone(good))
			r, err := maxminddb.OpenBytes(b)
			if err != nil {
				t.Skipf("maxminddb refuses to open it (%v): nothing to verify", err)
			}
			if err := safeVerify(r.Verify); err == nil {
				t.Error("Reader.Verify accepts it; the case damages nothing it checks")
			}
			if err := safeVerify(func() error { return verifyFull(r, b) }); err == nil {
				t.Error("verifyFull accepts it")
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		if err := verifyFull(r, good); err != nil {
			t.Fatalf("verifyFull of the fixture: %v", err)
		}
	})
}

// putRecord sets record i (0 left, 1 right) of the node at the start of b.
func putRecord(b []byte, recordSize uint, i int, v uint) {
	switch recordSize {
	case 24:
		o := 3 * i
		b[o], b[o+1], b[o+2] = byte(v>>16), byte(v>>8), byte(v)
	case 28:
		if i == 0 {
			b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v)
			b[3] = b[3]&0x0f | byte(v>>20)&0xf0
		} else {
			b[4], b[5], b[6] = byte(v>>16), byte(v>>8), byte(v)
			b[3] = b[3]&0xf0 | byte(v>>24)&0x0f
		}
	default:
		o := 4 * i
		b[o], b[o+1], b[o+2], b[o+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
}

// TestVerifyFullLargeDB runs verifyFull and Reader.Verify on the database
// GLB_GEO_BENCH_DB names (a real City database, say): both must pass it,
// and a few damaged copies of it (as TestVerifyFullAgainstReaderVerify
// makes, a second each) that Reader.Verify rejects, verifyFull must too.
func TestVerifyFullLargeDB(t *testing.T) {
	data, r := largeDB(t)
	if err := verifyFull(r, data); err != nil {
		t.Errorf("verifyFull: %v", err)
	}
	if err := r.Verify(); err != nil {
		t.Errorf("Reader.Verify: %v", err)
	}
	treeSize := int(r.Metadata.NodeCount * r.Metadata.RecordSize / 4)
	mdStart := bytes.LastIndex(data, metadataMarker)
	for seed := range uint64(8) {
		start, end := 0, treeSize
		if seed%4 >= 2 {
			start, end = treeSize+16, mdStart
		}
		b := flipBytes(data, start, end, seed)
		r, err := maxminddb.OpenBytes(b)
		if err != nil {
			continue
		}
		theirs, ours := safeVerify(r.Verify), safeVerify(func() error { return verifyFull(r, b) })
		t.Logf("seed %d: Reader.Verify %v; verifyFull %v", seed, theirs, ours)
		if theirs != nil && ours == nil {
			t.Errorf("seed %d: Reader.Verify rejects (%v), verifyFull accepts", seed, theirs)
		}
	}
}
