package plan

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// NegWire is a zone's negative SOA in wire form after its owner, made
// once per configuration so that the fast path writes a denial by copying
// it. Its owner is a pointer to the apex where the question holds it, and
// an MNAME or RNAME under the apex (ns1.<zone>, hostmaster.<zone>) ends in
// the same pointer, as the general path compresses them: Wire holds zeros
// there, at ApexAt, for the writer to fill in.
type NegWire struct {
	// Wire is type, class, TTL, data length and data.
	Wire []byte
	// ApexAt are the offsets in Wire of the pointers to the apex, 0 for
	// none (the type is at 0, so no pointer is).
	ApexAt [2]int
}

// negWire returns the negative SOA of the zone at apex for the fast path;
// its Wire is nil when it does not pack (the fast path then declines).
func negWire(apex string, soa dns.SOA) NegWire {
	full, err := PackAfterOwner(&soa) // a copy: packing writes the header's length
	if err != nil || len(full) < 10+20 {
		return NegWire{}
	}
	w := NegWire{Wire: append([]byte(nil), full[:10]...)} // type, class, TTL, data length
	for i, name := range []string{soa.Ns, soa.Mbox} {
		labels, underApex, ok := namePart(apex, name)
		if !ok {
			return NegWire{}
		}
		w.Wire = append(w.Wire, labels...)
		if underApex {
			w.ApexAt[i] = len(w.Wire)
			w.Wire = append(w.Wire, 0, 0)
		}
	}
	w.Wire = append(w.Wire, full[len(full)-20:]...) // serial, refresh, retry, expire, minimum
	binary.BigEndian.PutUint16(w.Wire[8:], uint16(len(w.Wire)-10))
	return w
}

// namePart returns name in wire form up to the apex (its labels before
// it, to be followed by a pointer) when it is at or under the apex, else
// the whole name, uncompressed.
func namePart(apex, name string) (b []byte, underApex bool, ok bool) {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		return nil, false, false
	}
	if apex == "." || !dns.IsSubDomain(apex, name) {
		return buf[:n], false, true
	}
	// The apex's labels end the name, whatever their case: keep the ones
	// before them.
	off := 0
	for range dns.CountLabel(name) - dns.CountLabel(apex) {
		off += 1 + int(buf[off])
	}
	return buf[:off], true, true
}

// PackAfterOwner returns rr in wire form without its owner name (type,
// class, TTL, data length and data), its names uncompressed. rr must be
// the caller's own: packing writes its data length.
func PackAfterOwner(rr dns.RR) ([]byte, error) {
	buf := make([]byte, dns.Len(rr)+16)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, err
	}
	off := 0
	for off < n && buf[off] != 0 {
		off += int(buf[off]) + 1
	}
	return buf[off+1 : n : n], nil
}
