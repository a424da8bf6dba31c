package plan

import "github.com/miekg/dns"

// negWire returns the negative SOA packed after its owner name, made once
// per configuration so that the fast path writes a denial by copying it;
// nil when it does not pack (the fast path then declines).
func negWire(soa dns.SOA) []byte {
	w, err := PackAfterOwner(&soa) // a copy: packing writes the header's length
	if err != nil {
		return nil
	}
	return w
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
