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

// fuzzSeeds are well-formed queries of every shape the fast path takes;
// the malformed kinds the hardening issue lists are the files under
// testdata/fuzz/FuzzAnswerPacket (corpus_test.go writes them).
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	r := rand.New(rand.NewPCG(21, 22))
	for range 40 {
		seeds = append(seeds, randomQuery(r))
	}
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
