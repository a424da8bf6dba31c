package server

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"
)

// asnPinQueries are queries for p from clients pinned by ASN, by CIDR and
// not pinned, with the ASN database of asn_test.go.
func asnPinQueries(tb testing.TB) [][]byte {
	tb.Helper()
	var pkts [][]byte
	for _, ecs := range []string{"81.2.68.5/32", "81.2.69.200/32", "81.2.70.7/32", "81.2.69.0/24"} {
		pkt, err := mkQuery("p."+testZone, dns.TypeA, ecs).Pack()
		if err != nil {
			tb.Fatal(err)
		}
		pkts = append(pkts, pkt)
	}
	return pkts
}

// TestASNPinFastPathAllocs holds the fast path at 0 allocs for clients
// pinned by ASN (and their unpinned neighbours).
func TestASNPinFastPathAllocs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	writeASNFile(t, path, asnRows)
	h, _ := asnHandler(t, path)
	pkts := asnPinQueries(t)
	remote := netip.MustParseAddrPort("127.0.0.1:5300")
	out := make([]byte, 0, 1024)
	i := 0
	allocs := testing.AllocsPerRun(500, func() {
		if _, ok := h.AnswerPacket(out[:0], pkts[i%len(pkts)], remote, false); !ok {
			t.Fatal("no reply")
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocs per query with ASN pins, want 0", allocs)
	}
}

// BenchmarkAnswerPacketASNPin measures the fast path for p's clients,
// pinned by ASN, by CIDR and not pinned, in turn.
func BenchmarkAnswerPacketASNPin(b *testing.B) {
	path := filepath.Join(b.TempDir(), "asn.mmdb")
	writeASNFile(b, path, asnRows)
	h, _ := asnHandler(b, path)
	pkts := asnPinQueries(b)
	remote := netip.MustParseAddrPort("127.0.0.1:5300")
	out := make([]byte, 0, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := h.AnswerPacket(out[:0], pkts[i%len(pkts)], remote, false); !ok {
			b.Fatal("no reply")
		}
		i++
	}
}
