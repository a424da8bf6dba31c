package server

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkAnswerPacketShedding is the fast path while eu-west sheds half
// its clients (load 0.875 between its watermarks 0.8..0.95): the per-query
// cost of load-aware steering, which must stay at 0 allocs/op.
func BenchmarkAnswerPacketShedding(b *testing.B) {
	for _, bc := range []struct {
		name string
		ecs  string
	}{{"London_kept_or_shed", "81.2.69.0/24"}, {"Tokyo_not_shedding", "175.16.199.0/24"}} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := newTestHandler(b, map[string]any{"regions/eu-west/load": "0.875", "regions/eu-central/load": "0.3"})
			h.intn = rand.IntN
			pkt, err := mkQuery("www."+testZone, dns.TypeA, bc.ecs).Pack()
			if err != nil {
				b.Fatal(err)
			}
			remote := netip.MustParseAddrPort("127.0.0.1:5300")
			out := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := h.AnswerPacket(out[:0], pkt, remote, false); !ok {
					b.Fatal("no reply")
				}
			}
		})
	}
}

// TestShedFastPathAllocs holds the shedding fast path at 0 allocs.
func TestShedFastPathAllocs(t *testing.T) {
	h, _ := newTestHandler(t, map[string]any{"regions/eu-west/load": "0.875"})
	if !h.snap.Load().Health.Shedding {
		t.Fatal("eu-west does not shed at 0.875")
	}
	// Many London subnets, so both the kept and the shed branch run.
	var pkts [][]byte
	for i := range 64 {
		pkt, err := mkQuery("www."+testZone, dns.TypeA, netip.AddrFrom4([4]byte{81, 2, 69, byte(i)}).String()+"/32").Pack()
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, pkt)
	}
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
		t.Errorf("%v allocs per query while shedding, want 0", allocs)
	}
}
