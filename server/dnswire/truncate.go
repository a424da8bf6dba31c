package dnswire

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// CopyQuestion copies the question name (lower-cased) and type of reply b
// into dst and returns how many bytes it wrote.
func CopyQuestion(dst, b []byte) int {
	off := 12
	for off < len(b) {
		l := int(b[off])
		if l == 0 || l > 63 {
			break
		}
		off += 1 + l
	}
	n := copy(dst, b[12:min(off+3, len(b))]) // the name, its root label, the type
	// Only the name is folded: the type's bytes are a number, and folding
	// them would give HTTPS (65, 'A') the key of type 97 ('a').
	for i, c := range dst[:min(n, off-12)] {
		if c >= 'A' && c <= 'Z' { // length bytes are at most 63, never letters
			dst[i] = c + 'a' - 'A'
		}
	}
	return n
}

// TruncateReply cuts reply b in place to its header and question, keeps
// the OPT record (with its options, a cookie among them), and sets TC.
func TruncateReply(b []byte) ([]byte, bool) {
	h, ok := HeaderOf(b)
	if !ok || h.QD != 1 {
		return nil, false
	}
	off, ok := SkipName(b, 12)
	if !ok || off+4 > len(b) {
		return nil, false
	}
	qEnd := off + 4
	off = qEnd
	optStart, optEnd := -1, -1
	for i := 0; i < int(h.AN)+int(h.NS)+int(h.AR); i++ {
		start := off
		if off, ok = SkipName(b, off); !ok || off+10 > len(b) {
			return nil, false
		}
		t := binary.BigEndian.Uint16(b[off:])
		off += 10 + int(binary.BigEndian.Uint16(b[off+8:]))
		if off > len(b) {
			return nil, false
		}
		if i >= int(h.AN)+int(h.NS) && t == dns.TypeOPT {
			optStart, optEnd = start, off
		}
	}
	n, ar := qEnd, uint16(0)
	if optStart >= 0 {
		n += copy(b[qEnd:], b[optStart:optEnd])
		ar = 1
	}
	binary.BigEndian.PutUint16(b[2:], h.Flags|FlagTC)
	binary.BigEndian.PutUint16(b[6:], 0)
	binary.BigEndian.PutUint16(b[8:], 0)
	binary.BigEndian.PutUint16(b[10:], ar)
	return b[:n], true
}

// SkipName returns the offset just past the (possibly compressed) name at
// off.
func SkipName(b []byte, off int) (int, bool) {
	for off < len(b) {
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xc0 == 0xc0:
			return off + 2, off+2 <= len(b)
		case l > 63:
			return 0, false
		}
		off += 1 + l
	}
	return 0, false
}
