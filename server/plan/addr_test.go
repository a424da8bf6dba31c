package plan

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// An Addr's wire form is what the DNS library packs for its record, owned
// by the root, without the owner: the fast path writes it after a pointer
// to the question name.
func TestAddrWire(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ttl  uint32
	}{
		{"192.0.2.10", 30},
		{"0.0.0.0", 0},
		{"255.255.255.255", 1<<32 - 1},
		{"2001:db8::1", 300},
		{"::ffff:192.0.2.1", 60}, // a mapped address is answered as AAAA, as configured
	} {
		a := newAddr(netip.MustParseAddr(tc.addr), 3, tc.ttl)
		rr := dns.Copy(a.RR)
		rr.Header().Name = "."
		buf := make([]byte, 64)
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			t.Fatalf("%s: pack: %v", tc.addr, err)
		}
		if want := buf[1:n]; !bytes.Equal(a.Wire(), want) {
			t.Errorf("%s ttl %d: wire %x, want %x", tc.addr, tc.ttl, a.Wire(), want)
		}
		if a.pos != 3 {
			t.Errorf("%s: pos %d, want 3", tc.addr, a.pos)
		}
	}
}
