// Package dnswire reads and writes the DNS wire format where the query
// path needs it without the DNS library: the header, names, the
// exact-sections check, EDNS client subnet (one strict parser for every
// path), truncation and the last-resort SERVFAIL. It allocates nothing;
// it knows nothing of zones, plans or sockets.
package dnswire

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// ServFail is the reply of last resort: the query's ID and SERVFAIL.
func ServFail(dst, pkt []byte) ([]byte, bool) {
	dh, ok := HeaderOf(pkt)
	if !ok {
		return dst, false
	}
	var b [12]byte
	binary.BigEndian.PutUint16(b[0:], dh.ID)
	binary.BigEndian.PutUint16(b[2:], FlagQR|dh.Flags&(0xf<<11|FlagRD)|dns.RcodeServerFailure)
	return append(dst, b[:]...), true
}

// DNS header flag bits.
const (
	FlagQR = 1 << 15 // a response
	FlagAA = 1 << 10 // authoritative answer
	FlagTC = 1 << 9  // truncated
	FlagRD = 1 << 8  // recursion desired
	FlagCD = 1 << 4  // checking disabled
)

// Header is a DNS message header.
type Header struct {
	ID, Flags, QD, AN, NS, AR uint16
}

// HeaderOf reads the header of pkt; false when pkt is shorter than one.
func HeaderOf(pkt []byte) (Header, bool) {
	if len(pkt) < 12 {
		return Header{}, false
	}
	u := func(i int) uint16 { return binary.BigEndian.Uint16(pkt[i:]) }
	return Header{u(0), u(2), u(4), u(6), u(8), u(10)}, true
}

// ExactSections reports whether the sections of pkt hold exactly the
// records its header counts, each complete, and nothing after them. Names
// are only skipped (a pointer ends a name); Unpack has checked them.
func ExactSections(pkt []byte, dh Header) bool {
	off, ok := 12, true
	for range dh.QD {
		if off, ok = SkipName(pkt, off); !ok || off+4 > len(pkt) {
			return false
		}
		off += 4
	}
	for range int(dh.AN) + int(dh.NS) + int(dh.AR) {
		if off, ok = SkipName(pkt, off); !ok || off+10 > len(pkt) {
			return false
		}
		off += 10 + int(binary.BigEndian.Uint16(pkt[off+8:]))
		if off > len(pkt) {
			return false
		}
	}
	return off == len(pkt)
}

// AppendRRHeader appends a record's fixed fields after its owner name:
// type, class IN, TTL and data length.
func AppendRRHeader(dst []byte, t uint16, ttl uint32, rdlen uint16) []byte {
	dst = binary.BigEndian.AppendUint16(dst, t)
	dst = binary.BigEndian.AppendUint16(dst, dns.ClassINET)
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	return binary.BigEndian.AppendUint16(dst, rdlen)
}
