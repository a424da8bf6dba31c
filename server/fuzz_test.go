package server

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fuzzSeeds are packets worth starting from: well-formed queries of every
// shape the fast path takes, and the malformed kinds the hardening issue
// lists. They also run as plain tests.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	r := rand.New(rand.NewPCG(21, 22))
	for range 40 {
		seeds = append(seeds, randomQuery(r))
	}
	base := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")
	wire, _ := base.Pack()
	mut := func(f func(b []byte) []byte) {
		b := append([]byte(nil), wire...)
		seeds = append(seeds, f(b))
	}
	ecsAt := len(wire) - 7                                                         // family(2) source(1) scope(1) address(3)
	mut(func(b []byte) []byte { b[ecsAt+1] = 3; return b })                        // ECS family 3
	mut(func(b []byte) []byte { b[ecsAt+2] = 33; return b })                       // IPv4 source prefix 33
	mut(func(b []byte) []byte { b[len(b)-1] |= 1; return b })                      // address bits beyond the prefix
	mut(func(b []byte) []byte { b[ecsAt+3] = 24; return b })                       // scope set in a query
	mut(func(b []byte) []byte { binary.BigEndian.PutUint16(b[4:], 3); return b })  // question count lies
	mut(func(b []byte) []byte { binary.BigEndian.PutUint16(b[10:], 9); return b }) // additional count lies
	mut(func(b []byte) []byte { b[12] = 0xc0; b[13] = 12; return b })              // name is a pointer to itself: a loop
	mut(func(b []byte) []byte { b[12] = 0xc0; b[13] = 0xff; return b })            // pointer past the end
	mut(func(b []byte) []byte { return b[:len(b)-3] })                             // cut inside the OPT
	mut(func(b []byte) []byte { return append(b, b[len(b)-19:]...) })              // a second OPT record
	mut(func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], 1); return b })  // the OPT counted as an answer
	v1 := mkQuery("www."+testZone, dns.TypeA, "")
	v1.SetEdns0(1232, false)
	v1.IsEdns0().SetVersion(1) // BADVERS
	w1, _ := v1.Pack()
	seeds = append(seeds, w1, []byte{}, []byte{0}, make([]byte, 12))
	return seeds
}

// FuzzAnswerPacket feeds raw bytes to the whole handler: it must never
// panic (a recovered panic counts too), and any reply must parse, be a
// response and carry the query's ID.
func FuzzAnswerPacket(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	h := NewHandler(Options{Geo: openTestDB(f), Metrics: NewMetrics(prometheus.NewRegistry())})
	applyNow(h, devState(f, nil))
	remote := netip.MustParseAddrPort("192.0.2.1:5353")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, tcp := range []bool{false, true} {
			before := testutil.ToFloat64(h.metrics.panics)
			reply, ok := h.AnswerPacket(nil, pkt, remote, tcp)
			if testutil.ToFloat64(h.metrics.panics) != before {
				t.Fatalf("the handler panicked on % x", pkt)
			}
			if !ok {
				continue
			}
			m := new(dns.Msg)
			if err := m.Unpack(reply); err != nil {
				t.Fatalf("reply does not parse (%v): % x -> % x", err, pkt, reply)
			}
			if !m.Response || len(pkt) < 2 || m.Id != binary.BigEndian.Uint16(pkt) {
				t.Fatalf("reply QR=%v id=%d for query % x", m.Response, m.Id, pkt)
			}
			if !tcp && len(reply) > 65535 {
				t.Fatalf("reply of %d bytes", len(reply))
			}
		}
	})
}

// FuzzParseECS checks the strict ECS option parser of the fast path: it
// never panics, and what it accepts has no bits beyond the source prefix.
func FuzzParseECS(f *testing.F) {
	for _, s := range [][]byte{
		{0, 1, 24, 0, 81, 2, 69}, {0, 2, 48, 0, 0x2a, 0x02, 0xcf, 0x40, 0, 0}, {0, 1, 0, 0}, {0, 0, 0, 0},
		{0, 3, 24, 0, 1, 2, 3}, {0, 1, 33, 0, 1, 2, 3, 4, 5}, {0, 1, 24, 0, 81, 2, 69, 5}, {0, 1, 24, 8, 81, 2, 69},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fq fastQuery
		if !fq.parseECS(b) {
			return
		}
		cs := fq.ecs
		if cs.addr.IsValid() && netip.PrefixFrom(cs.addr, int(cs.source)).Masked().Addr() != cs.addr {
			t.Fatalf("accepted %x with bits beyond /%d", b, cs.source)
		}
	})
}
