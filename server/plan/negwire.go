package plan

import (
	"strings"

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
	var w NegWire
	hdr, err := PackAfterOwner(&soa) // a copy: packing writes the header's length
	if err != nil || len(hdr) < 10 {
		return NegWire{}
	}
	w.Wire = append(w.Wire, hdr[:10]...) // type, class, TTL, data length
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
	var tail [20]byte // serial, refresh, retry, expire, minimum
	for i, v := range []uint32{soa.Serial, soa.Refresh, soa.Retry, soa.Expire, soa.Minttl} {
		tail[4*i], tail[4*i+1], tail[4*i+2], tail[4*i+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
	w.Wire = append(w.Wire, tail[:]...)
	rdlen := len(w.Wire) - 10
	if rdlen > 0xffff {
		return NegWire{}
	}
	w.Wire[8], w.Wire[9] = byte(rdlen>>8), byte(rdlen)
	return w
}

// namePart returns name in wire form up to the apex (its labels before
// it, to be followed by a pointer) when it is at or under the apex, else
// the whole name, uncompressed.
func namePart(apex, name string) (b []byte, underApex bool, ok bool) {
	full := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(name), full, 0, nil, false)
	if err != nil {
		return nil, false, false
	}
	full = full[:n]
	if apex == "." || !dns.IsSubDomain(apex, name) {
		return full, false, true
	}
	// The apex's labels end the name, whatever their case: cut them off.
	a := make([]byte, 256)
	an, err := dns.PackDomainName(dns.Fqdn(strings.ToLower(apex)), a, 0, nil, false)
	if err != nil || an > n {
		return nil, false, false
	}
	return full[:n-an], true, true
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
