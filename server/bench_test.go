package server

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/server/plan"
)

// BenchmarkSelect measures the pure geo plan over the dev regions.
func BenchmarkSelect(b *testing.B) {
	h, _ := newTestHandler(b, nil)
	snap := h.snap.Load()
	g := snap.Config.Zones[testZone].Nodes["www."+testZone].GSLB
	loc, _, _ := openTestDB(b).Lookup(mustAddr("81.2.69.1"))
	b.ReportAllocs()
	for b.Loop() {
		if p := g.Plan(dns.TypeA, loc, true, snap.Health); p.NTier == 0 {
			b.Fatal("no region")
		}
	}
}

// BenchmarkScopeBuild measures building the ECS scope table of www (A) over
// the whole GeoIP partition. GLB_BENCH_DB names a bigger database to use
// (e.g. one of a million networks from cmd/mkmmdb -random).
func BenchmarkScopeBuild(b *testing.B) {
	h, _ := newTestHandler(b, nil)
	db := openTestDB(b)
	if path := os.Getenv("GLB_BENCH_DB"); path != "" {
		var err error
		if db, err = geo.Open(path); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	part, err := db.Partition()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(part.Ranges()), "ranges")
	b.Logf("partition of %d ranges, %d locations: %s", part.Ranges(), len(part.Locs), time.Since(start))
	snap := h.snap.Load()
	g := snap.Config.Zones[testZone].Nodes["www."+testZone].GSLB
	var sb plan.ScopeBuilder // reused, as the worker does
	b.ReportAllocs()
	for b.Loop() {
		t := sb.Build(part, g, dns.TypeA, snap.Health)
		if len(t.V4) == 0 {
			b.Fatal("no runs")
		}
	}
}

// benchQuery is a query the handler benchmarks answer.
type benchQuery struct {
	name string
	q    *dns.Msg
}

func benchQueries() []benchQuery {
	return []benchQuery{
		{"fast_A_ECS_London", mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")},
		{"fast_AAAA_ECS_Tokyo", mkQuery("www."+testZone, dns.TypeAAAA, "2001:218:1::/48")},
		{"fast_A_noEDNS", mkQuery("www."+testZone, dns.TypeA, "")},
		{"fast_A_mixed_case", mkQuery("wWw."+strings.ToUpper(testZone), dns.TypeA, "")},
		{"neg_NXDOMAIN", mkQuery("nope."+testZone, dns.TypeA, "")},
		{"neg_NXDOMAIN_AAAA_ECS_London", mkQuery("nope."+testZone, dns.TypeAAAA, "81.2.69.0/24")},
		{"neg_NODATA_TXT_www", mkQuery("www."+testZone, dns.TypeTXT, "")},
		{"neg_NODATA_AAAA_ECS_mail", mkQuery("mail."+testZone, dns.TypeAAAA, "81.2.69.0/24")},
		{"general_MX", mkQuery(testZone, dns.TypeMX, "")},
	}
}

// benchSetup returns a handler of the dev configuration with real
// randomness, bc's packet, the client and a reply buffer, and turns on
// allocation reporting.
func benchSetup(b *testing.B, bc benchQuery) (*Handler, []byte, netip.AddrPort, []byte) {
	h, _ := newTestHandler(b, nil)
	h.intn, h.randSet = rand.IntN, false // as glbd draws: readers with their own PCG
	pkt, err := bc.q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	return h, pkt, netip.MustParseAddrPort("127.0.0.1:5300"), make([]byte, 0, 1024)
}

// BenchmarkAnswerPacket measures the whole handler from request bytes to
// reply bytes, as the UDP loop calls it.
func BenchmarkAnswerPacket(b *testing.B) {
	for _, bc := range benchQueries() {
		b.Run(bc.name, func(b *testing.B) {
			h, pkt, remote, out := benchSetup(b, bc)
			for b.Loop() {
				if _, ok := h.AnswerPacket(out[:0], pkt, remote, false); !ok {
					b.Fatal("no reply")
				}
			}
		})
	}
}

// BenchmarkAnswerDatagram is BenchmarkAnswerPacket as a UDP reader calls
// the handler: a batch of 8 datagrams read at one time, AnswerDatagram for
// each, Tally and Answered once per batch, so one clock reading per batch.
func BenchmarkAnswerDatagram(b *testing.B) {
	const batch = 8
	for _, bc := range benchQueries() {
		b.Run(bc.name, func(b *testing.B) {
			h, pkt, remote, out := benchSetup(b, bc)
			r := h.Batches()
			var read time.Time
			i := 0
			for b.Loop() {
				if i%batch == 0 {
					read = r.Now()
				}
				if _, ok := r.AnswerDatagram(out[:0], pkt, remote, read); !ok {
					b.Fatal("no reply")
				}
				if i++; i%batch == 0 {
					r.Tally()
					r.Answered(batch, read)
				}
			}
		})
	}
}
