package geo

import (
	"fmt"
	"runtime"
	"unicode/utf8"
)

// The MaxMind DB data types (the specification's type numbers; 0 marks an
// extended type, whose number less 7 is in the next byte).
const (
	kindExtended = iota
	kindPointer
	kindString
	kindFloat64
	kindBytes
	kindUint16
	kindUint32
	kindMap
	kindInt32
	kindUint64
	kindUint128
	kindArray
	kindContainer // the data cache container: never in a database file
	kindEndMarker // never in a database file either
	kindBool
	kindFloat32
)

// The decoder's limits on one record, which Reader.Verify enforces:
// nesting (containers and pointers followed) and what decoding the record
// with its pointers followed would produce: containerBudget entries (a map
// entry counts twice) and payloadBudget bytes of strings and bytes.
const (
	maxDataDepth    = 512
	containerBudget = 2<<20>>6 + 1
	payloadBudget   = 2 << 20
)

// section walks a data or metadata section in place: nothing it does
// allocates but its bitsets.
type section struct {
	b       []byte
	starts  bitset // the first byte of every field, nested ones and map keys too
	pointed bitset // the target of every pointer
	tops    bitset // the first byte of every top-level value
	perTop  bool   // a fresh budget for each top-level value (the data section)

	containers, payload uint // budget left
}

func newSection(b []byte, perTop bool) *section {
	n := uint(len(b))
	return &section{b: b, starts: newBitset(n), pointed: newBitset(n), tops: newBitset(n), perTop: perTop}
}

func (s *section) budget() { s.containers, s.payload = containerBudget, payloadBudget }

// walk checks the values of the section one after the other to its end.
func (s *section) walk() error {
	for off := uint(0); off < uint(len(s.b)); {
		s.tops.set(off)
		if s.perTop {
			s.budget()
		}
		next, err := s.value(off, 0, true, false)
		if err != nil {
			return err
		}
		if off/verifyYieldBytes != next/verifyYieldBytes {
			runtime.Gosched() // see verifyFull
		}
		off = next
	}
	return nil
}

func (s *section) corrupt(off uint, format string, args ...any) error {
	return fmt.Errorf("data at offset %d: %s: %w", off, fmt.Sprintf(format, args...), errCorrupt)
}

// ctrl decodes the control byte (and extended type and size bytes) at off:
// the value's type, its size and where its payload starts.
func (s *section) ctrl(off uint) (kind, size, payload uint, err error) {
	n := uint(len(s.b))
	if off >= n {
		return 0, 0, 0, s.corrupt(off, "past the end of the section")
	}
	c := s.b[off]
	kind, size, payload = uint(c>>5), uint(c&0x1f), off+1
	if kind == kindExtended {
		if payload >= n {
			return 0, 0, 0, s.corrupt(off, "extended type past the end of the section")
		}
		t := uint(s.b[payload])
		if t == 0 || t+7 > kindFloat32 {
			return 0, 0, 0, s.corrupt(off, "unknown type %d", t+7)
		}
		kind = t + 7
		payload++
	}
	if size < 29 || kind == kindPointer { // a pointer's size bits are its width and address
		return kind, size, payload, nil
	}
	extra := size - 28 // 29: one more size byte, 30: two, 31: three
	if payload+extra > n {
		return 0, 0, 0, s.corrupt(off, "size past the end of the section")
	}
	v := uint(0)
	for _, c := range s.b[payload : payload+extra] {
		v = v<<8 | uint(c)
	}
	size = v + [...]uint{29, 285, 65821}[extra-1]
	return kind, size, payload + extra, nil
}

// pointer decodes the pointer whose size bits are size and whose address
// starts at p, and returns its target and the offset after it.
func (s *section) pointer(off, size, p uint) (target, next uint, err error) {
	width := (size>>3)&3 + 1
	if p+width > uint(len(s.b)) {
		return 0, 0, s.corrupt(off, "pointer past the end of the section")
	}
	v := size & 7
	if width == 4 {
		v = 0
	}
	for _, c := range s.b[p : p+width] {
		v = v<<8 | uint(c)
	}
	return v + [...]uint{0, 2048, 526336, 0}[width-1], p + width, nil
}

// value checks the value at off, depth levels down, and returns the offset
// after it. With mark, it is part of the section's front-to-back walk: its
// fields are marked as starts, its pointers as pointed to, its strings
// checked for UTF-8. Without, it is what a pointer points to, followed only
// to charge the budget and depth as decoding would (its bytes are checked
// where the walk meets them). key: it is a map key, which must be a string.
func (s *section) value(off, depth uint, mark, key bool) (uint, error) {
	if depth > maxDataDepth {
		return 0, s.corrupt(off, "nested deeper than %d", maxDataDepth)
	}
	if mark {
		s.starts.set(off)
	}
	kind, size, p, err := s.ctrl(off)
	if err != nil {
		return 0, err
	}
	if kind == kindPointer {
		target, next, err := s.pointer(off, size, p)
		if err != nil {
			return 0, err
		}
		tk, tsize, tp, err := s.ctrl(target)
		switch {
		case err != nil:
			return 0, err
		case tk == kindPointer:
			return 0, s.corrupt(off, "a pointer to a pointer")
		case key && tk != kindString:
			return 0, s.corrupt(off, "a map key of type %d", tk)
		}
		if mark {
			s.pointed.set(target)
		}
		switch tk {
		case kindMap, kindArray:
			_, err = s.value(target, depth+1, false, false)
		case kindString, kindBytes:
			err = s.charge(target, tp, tsize)
		}
		return next, err
	}
	if key && kind != kindString {
		return 0, s.corrupt(off, "a map key of type %d", kind)
	}
	switch kind {
	case kindString, kindBytes:
		if err := s.charge(off, p, size); err != nil {
			return 0, err
		}
		if mark && kind == kindString && !utf8.Valid(s.b[p:p+size]) {
			return 0, s.corrupt(off, "a string that is not UTF-8")
		}
		return p + size, nil
	case kindMap, kindArray:
		return s.container(off, kind, size, p, depth, mark)
	case kindBool:
		if size > 1 {
			return 0, s.corrupt(off, "a bool of size %d", size)
		}
		return p, nil
	}
	var ok bool
	switch kind {
	case kindFloat64:
		ok = size == 8
	case kindFloat32:
		ok = size == 4
	case kindUint16:
		ok = size <= 2
	case kindUint32, kindInt32:
		ok = size <= 4
	case kindUint64:
		ok = size <= 8
	case kindUint128:
		ok = size <= 16
	default: // the cache container, the end marker
		return 0, s.corrupt(off, "type %d in a database", kind)
	}
	if !ok {
		return 0, s.corrupt(off, "type %d of size %d", kind, size)
	}
	if p+size > uint(len(s.b)) {
		return 0, s.corrupt(off, "past the end of the section")
	}
	return p + size, nil
}

// charge checks that the size bytes of a string or bytes value at p fit
// the section and the payload budget.
func (s *section) charge(off, p, size uint) error {
	if p+size > uint(len(s.b)) {
		return s.corrupt(off, "past the end of the section")
	}
	if size > s.payload {
		return s.corrupt(off, "more than %d bytes of strings in a record", payloadBudget)
	}
	s.payload -= size
	return nil
}

// container checks the entries of a map or array of size entries (size
// pairs for a map) starting at p.
func (s *section) container(off, kind, size, p, depth uint, mark bool) (uint, error) {
	cost := size
	if kind == kindMap {
		cost *= 2
	}
	// Every value takes a byte at least, and the decoder refuses a record
	// that would expand to more than its budget of entries.
	if cost > uint(len(s.b))-p || cost >= s.containers {
		return 0, s.corrupt(off, "a container of %d entries", size)
	}
	s.containers -= cost
	var err error
	for range size {
		if kind == kindMap {
			if p, err = s.value(p, depth+1, mark, true); err != nil {
				return 0, err
			}
		}
		if p, err = s.value(p, depth+1, mark, false); err != nil {
			return 0, err
		}
	}
	return p, nil
}
