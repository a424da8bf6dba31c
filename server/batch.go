package server

import (
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/plan"
)

// BatchAnswerer answers the datagrams of one UDP reader, batch by batch:
// for each batch the reader reads the clock once (Now), answers every
// datagram with that time (AnswerDatagram), calls Tally before it sends
// the replies and Answered after. Only that reader uses it.
//
// It is an alias of an interface literal spelled as transport's
// BatchAnswerer is: the two are one type, so *Handler is a
// transport.PacketAnswerer without this package importing transport
// (whose tests import this one).
type BatchAnswerer = interface {
	Now() time.Time
	AnswerDatagram(dst, pkt []byte, remote netip.AddrPort, read time.Time) ([]byte, bool)
	Tally()
	Answered(n int, read time.Time)
}

// Batches returns the BatchAnswerer of one UDP reader: the handler's
// pipeline, with two things of the reader's own that no other reader
// touches, so that neither costs an atomic operation or a shared cache
// line per query (BenchmarkAnswerDatagram: about 28 of 160 ns):
//
//   - randomness for the draw: a PCG seeded from math/rand/v2, where the
//     global source costs about 3.5 ns a number; Options.Rand, when set,
//     is used as it is;
//   - the counts of fast-path answers, added to the shared counters once
//     per batch (Tally) instead of once per query.
func (h *Handler) Batches() BatchAnswerer {
	r := &reader{h: h, intn: h.intn}
	if !h.randSet {
		r.rng.Seed(rand.Uint64(), rand.Uint64())
		r.intn = r.pcgIntN
	}
	return r
}

// reader is the BatchAnswerer of one UDP reader.
type reader struct {
	h     *Handler
	intn  func(int) int // the draw's randomness: [0,n)
	rng   rand.PCG
	tally tally
	clock batchClock // with the real clock; else h.now
}

// Now reads the handler's clock, once per batch.
func (r *reader) Now() time.Time {
	if r.h.realClock {
		return r.clock.now()
	}
	return r.h.now()
}

// batchClock is the real clock as a reader reads it. time.Now reads both
// the wall clock and the monotonic clock (two vDSO calls), time.Since the
// monotonic one alone. At a paced rate a batch holds one or two queries,
// and those calls, cold after the kernel's receive path, showed as about
// 1 % of glbd's profile (deploy/loadtest/README.md). So a reader reads the
// wall clock at most once a second and advances that reading by the
// monotonic clock in between: a step of the wall clock shows within a
// second, which signatures (valid for hours), cookies (RFC 9018 allows
// five minutes) and rate limiting (monotonic windows) all allow.
type batchClock struct {
	wall time.Time // the last time.Now, with its monotonic reading
}

// batchClockAnchor bounds how long a wall-clock reading is advanced by
// the monotonic clock before it is read again.
const batchClockAnchor = time.Second

func (c *batchClock) now() time.Time {
	// A zero wall has no monotonic reading: Since is then huge, and the
	// first call reads the wall clock.
	d := time.Since(c.wall)
	if d >= batchClockAnchor {
		c.wall = time.Now()
		return c.wall
	}
	return c.wall.Add(d)
}

// AnswerDatagram is AnswerPacket for one UDP datagram of a batch read at
// read: that time is what a reply's signatures, cookie and rate limit go
// by, and the time to answer is counted by Answered, per batch.
func (r *reader) AnswerDatagram(dst, pkt []byte, remote netip.AddrPort, read time.Time) ([]byte, bool) {
	return r.h.answerFrom(dst, pkt, remote, false, r, read)
}

// Tally adds the batch's counts to the shared counters. The reader calls
// it before sending the replies, so a client that has its reply finds it
// counted.
func (r *reader) Tally() { r.tally.flush(r.h) }

// Answered counts n replies of a batch read at read as sent now, in
// glb_dns_request_duration_seconds.
func (r *reader) Answered(n int, read time.Time) {
	r.h.metrics.duration.ObserveN(r.h.since(read).Seconds(), n)
}

// pcgIntN returns a number in [0,n) from the reader's PCG, by Lemire's
// multiply-high: its bias, n/2^64, is nothing for the weights and address
// counts drawn among.
func (r *reader) pcgIntN(n int) int {
	hi, _ := bits.Mul64(r.rng.Uint64(), uint64(n))
	return int(hi)
}

// tally holds the counts of a batch's fast-path GSLB answers, and of ECS
// present or absent, until flush adds them to the shared counters. A batch
// holds few distinct series (a name, the regions drawn, A or AAAA), so a
// short list searched in order does; a full one is added up early.
type tally struct {
	n                     int
	series                [tallySeries]tallied
	ecsPresent, ecsAbsent int
}

// tallySeries bounds the series a tally keeps between flushes.
const tallySeries = 8

// tallied is the count of one series: answers of a name from the region
// drawn (answered), or a plan's NODATA (not answered), for A or AAAA.
type tallied struct {
	g        *plan.Name
	drawn    uint8
	answered bool
	aaaa     bool
	count    int
}

// add counts q, a fast-path answer of a GSLB name over UDP.
func (t *tally) add(h *Handler, q *query) {
	aaaa := q.qtype == dns.TypeAAAA
	for i := range t.series[:t.n] {
		if s := &t.series[i]; s.g == q.gslb && s.drawn == q.drawn && s.answered == q.answered && s.aaaa == aaaa {
			s.count++
			return
		}
	}
	if t.n == len(t.series) {
		t.flush(h)
	}
	t.series[t.n] = tallied{g: q.gslb, drawn: q.drawn, answered: q.answered, aaaa: aaaa, count: 1}
	t.n++
}

// flush adds the counts to the shared counters and empties the tally.
func (t *tally) flush(h *Handler) {
	for i := range t.series[:t.n] {
		s := &t.series[i]
		c := h.counters(s.g)
		if s.answered {
			c.countAnswers(h, s.g, s.drawn, s.count)
		}
		j := 0
		if s.aaaa {
			j = 1
		}
		// noErrors[0]: the UDP series, which is what readers read.
		c.noErrors[0][j].Add(float64(s.count))
		s.g = nil // the name's configuration may go
	}
	t.n = 0
	if t.ecsPresent > 0 {
		h.metrics.ecsPresent.Add(float64(t.ecsPresent))
	}
	if t.ecsAbsent > 0 {
		h.metrics.ecsAbsent.Add(float64(t.ecsAbsent))
	}
	t.ecsPresent, t.ecsAbsent = 0, 0
}
