package dnswire

// Names in the form a query carries them: labels of 1 to 63 bytes, each
// after its length byte, no compression pointer, the root label (a zero
// byte) last. The query path looks owners up in this form, straight from
// the packet (plan.Snapshot.LookupWire); these helpers are for the names
// that do not match as they came.

// MaxName is the longest name in wire form (RFC 1035 section 3.1).
const MaxName = 255

// plainByte maps a byte of a label to its lower-case form, or to 0 for one
// that owner names never have: they are letters, digits, '-' and '_'
// (schema.CheckDomain), so a name with any other byte (which would also
// need escaping in presentation form) has no owner, and the general path
// answers it.
var plainByte = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			t[c] = byte(c)
		case c >= 'A' && c <= 'Z':
			t[c] = byte(c) + 'a' - 'A'
		}
	}
	return t
}()

// NameCase says what CheckName found in a name.
type NameCase uint8

const (
	NameLower NameCase = 0 // letters, digits, '-' and '_', all lower case
	NameUpper NameCase = 1 // the same, with upper-case letters
	NameOdd   NameCase = 2 // a byte owner names never have, or not a whole uncompressed name
)

// CheckName reads wire, a name in wire form, without copying it.
func CheckName(wire []byte) NameCase {
	var found NameCase
	for off := 0; off < len(wire); {
		l := int(wire[off])
		off++
		if l == 0 {
			if off != len(wire) || found&NameOdd != 0 {
				return NameOdd
			}
			return found
		}
		if l > 63 || off+l > len(wire) {
			return NameOdd
		}
		for _, c := range wire[off : off+l] {
			found |= byteCase[c]
		}
		off += l
	}
	return NameOdd
}

// byteCase is what CheckName finds in each byte: NameLower, NameUpper or
// NameOdd, as bits to OR together (NameOdd with NameUpper is odd).
var byteCase = func() (t [256]NameCase) {
	for c := range 256 {
		switch lc := plainByte[c]; {
		case lc == 0:
			t[c] = NameOdd
		case lc != byte(c):
			t[c] = NameUpper
		}
	}
	return t
}()

// AppendLower appends wire, a name in wire form that CheckName does not
// find odd, lower-cased.
func AppendLower(dst, wire []byte) []byte {
	for off := 0; off < len(wire); {
		l := int(wire[off])
		dst = append(dst, wire[off])
		off++
		end := min(off+l, len(wire))
		for _, c := range wire[off:end] {
			dst = append(dst, plainByte[c])
		}
		off = end
	}
	return dst
}

// AppendPresentation appends the presentation form of wire, a name in wire
// form that CheckName does not find odd, lower-cased and with the trailing dot:
// each label followed by a dot where the wire form has it after its length
// byte.
func AppendPresentation(dst, wire []byte) []byte {
	for off := 0; off < len(wire) && wire[off] != 0; {
		end := min(off+1+int(wire[off]), len(wire))
		for _, c := range wire[off+1 : end] {
			dst = append(dst, plainByte[c])
		}
		dst = append(dst, '.')
		off = end
	}
	return dst
}
