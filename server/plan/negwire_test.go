package plan

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestNegWire: a zone's negative SOA, written after a question for a name
// of the zone as the fast path writes it (owner and the ends of MNAME and
// RNAME under the apex pointing at the apex in the question), reads back
// as the same record, and is as short as those pointers make it.
func TestNegWire(t *testing.T) {
	const apex = "gslb.example.test."
	apexLen := len(apex) + 1 // in wire form
	for _, tc := range []struct {
		ns, mbox string
		saved    int // bytes the pointers save over the names in full
	}{
		{"ns1.gslb.example.test.", "hostmaster.gslb.example.test.", 2 * (apexLen - 2)},
		{"ns1.gslb.example.test.", "hostmaster.example.test.", apexLen - 2},
		{"gslb.example.test.", "hostmaster.example.net.", apexLen - 2},
		{"ns1.example.net.", "hostmaster.example.net.", 0},
		{"ns.xgslb.example.test.", "a.b.gslb.example.test.", apexLen - 2}, // xgslb is no label of the apex
		{"NS1.GSLB.Example.TEST.", "hostmaster.gslb.example.test.", 2 * (apexLen - 2)},
	} {
		soa := dns.SOA{Hdr: dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 30},
			Ns: tc.ns, Mbox: tc.mbox, Serial: 7, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 30}
		w := negWire(apex, soa)
		if w.Wire == nil {
			t.Fatalf("%s %s: did not pack", tc.ns, tc.mbox)
		}
		full, err := PackAfterOwner(&soa)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(full) - len(w.Wire); got != tc.saved {
			t.Errorf("%s %s: %d bytes shorter than in full, want %d", tc.ns, tc.mbox, got, tc.saved)
		}

		// A reply: the header, the question x.<apex> TXT, the SOA.
		q := new(dns.Msg)
		q.SetQuestion("x."+apex, dns.TypeTXT)
		pkt, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		pkt[2] |= 0x80                              // QR
		binary.BigEndian.PutUint16(pkt[8:], 1)      // NSCOUNT
		ptr := uint16(0xc000 | (12 + len("x") + 1)) // the apex in the question
		pkt = binary.BigEndian.AppendUint16(pkt, ptr)
		at := len(pkt)
		pkt = append(pkt, w.Wire...)
		for _, p := range w.ApexAt {
			if p > 0 {
				binary.BigEndian.PutUint16(pkt[at+p:], ptr)
			}
		}
		m := new(dns.Msg)
		if err := m.Unpack(pkt); err != nil {
			t.Fatalf("%s %s: %v", tc.ns, tc.mbox, err)
		}
		if len(m.Ns) != 1 {
			t.Fatalf("%s %s: authority %v", tc.ns, tc.mbox, m.Ns)
		}
		if got, want := strings.ToLower(m.Ns[0].String()), strings.ToLower(soa.String()); got != want {
			t.Errorf("read back %q, want %q", got, want)
		}
	}
}
