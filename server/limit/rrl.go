package limit

import (
	"hash/maphash"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnswire"
)

// Response rate limiting (RRL), in the manner of Knot and NSD: a spoofed
// flood of UDP queries makes us a reflector aimed at the spoofed address,
// so beyond a rate per client network and kind of response, UDP answers
// are dropped, except every Slip-th, which goes out truncated (TC=1, no
// records) so that a real client behind that address retries over TCP,
// which cannot be spoofed. TCP answers and clients with a valid DNS cookie
// are never limited.

// RRLConfig configures response rate limiting. The zero value is off.
type RRLConfig struct {
	// Rate is how many responses per second one bucket (client network and
	// response class) may get; 0 turns RRL off.
	Rate int
	// Slip: every Slip-th limited response is sent truncated instead of
	// dropped; 0 drops them all, 1 truncates them all.
	Slip int
	// IPv4Prefix and IPv6Prefix are the client networks sharing a bucket;
	// 0 means 24 and 56.
	IPv4Prefix, IPv6Prefix int
	// Whitelist holds networks never limited (monitoring, known resolvers).
	Whitelist []netip.Prefix
	// Buckets is the size of the bucket table, rounded up to a power of
	// two; 0 means DefaultRRLBuckets.
	Buckets int
}

// Limits of RRLConfig; glbd's flags check them, and NewRRL clamps to them.
const (
	DefaultRRLBuckets = 1 << 16
	MaxRRLRate        = 1 << 20 // counts are 24 bits: see rrlSlot
	MaxRRLSlip        = 100
)

// Response classes, each with its own buckets. Positive answers are
// counted per name and type, so a resolver asking for many names is not
// held back by one popular name; NXDOMAIN and NODATA per zone, so a flood
// of random names (each asked once) still fills one bucket; errors
// (REFUSED for other zones, FORMERR, SERVFAIL) share one bucket per
// client network, for the same reason.
const (
	rrlPositive = 1 + iota
	rrlNegative
	rrlError
)

var rrlClassNames = [...]string{rrlPositive: "positive", rrlNegative: "negative", rrlError: "error"}

// RRLLogEvery bounds the "limiting started" log lines: one per interval.
const RRLLogEvery = 10 * time.Second

// RRL is the limiter: a fixed table of buckets, so a flood from many
// spoofed sources cannot grow memory; it only evicts buckets, which lets
// more through, never less. Each bucket is one atomic word, so the UDP
// readers of all sockets share it without a lock.
type RRL struct {
	rate, slip uint32
	v4, v6     int
	white      []netip.Prefix
	seed       maphash.Seed // per process, so no one can aim collisions
	slots      []atomic.Uint64
	mask       uint64
	epoch      time.Time
	lastLog    atomic.Int64 // unix second of the last "limiting started" line
	log        *slog.Logger
	m          *Metrics
}

// NewRRL returns the limiter of c, or nil when c is off (Rate 0); it logs
// to log and counts in m. Values beyond the Max constants are clamped.
func NewRRL(c RRLConfig, now time.Time, log *slog.Logger, m *Metrics) *RRL {
	if c.Rate <= 0 {
		return nil
	}
	n := DefaultRRLBuckets
	if c.Buckets > 0 {
		c.Buckets = min(c.Buckets, 1<<24)
		n = 1
		for n < c.Buckets {
			n <<= 1
		}
	}
	r := &RRL{rate: uint32(min(c.Rate, MaxRRLRate)), slip: uint32(min(max(c.Slip, 0), MaxRRLSlip)), v4: c.IPv4Prefix, v6: c.IPv6Prefix, white: c.Whitelist,
		seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, n), mask: uint64(n - 1), epoch: now, log: log, m: m}
	if r.v4 <= 0 || r.v4 > 32 {
		r.v4 = 24
	}
	if r.v6 <= 0 || r.v6 > 128 {
		r.v6 = 56
	}
	r.lastLog.Store(now.Add(-RRLLogEvery).Unix())
	return r
}

// A slot packs tag (16 bits of the key's hash, telling keys sharing the
// slot apart), second (24 bits: seconds since start, wrapping after 194
// days) and count (24 bits: responses in that second, saturating).
const (
	rrlCountBits = 24
	rrlCountMax  = 1<<rrlCountBits - 1
	rrlSecMask   = 1<<24 - 1
)

func rrlSlot(tag uint64, sec, count uint32) uint64 {
	return tag<<48 | uint64(sec)<<rrlCountBits | uint64(count)
}

// Limit applies RRL to reply, the UDP answer whose bytes start at
// len(dst), to a query from remote about zone (its metric label), with a
// valid server cookie or not. It returns the reply to send: as it is,
// truncated (slipped), or none (dropped).
func (r *RRL) Limit(dst, reply []byte, remote netip.Addr, zone string, validCookie bool, now time.Time) ([]byte, bool) {
	if validCookie {
		r.m.exemptCookie.Inc()
		return reply, true
	}
	for _, p := range r.white {
		if p.Contains(remote) {
			r.m.exemptWhite.Inc()
			return reply, true
		}
	}
	body := reply[len(dst):]
	net := r.network(remote)
	class := rrlClass(body)
	var key [1 + 16 + 2 + 255]byte
	key[0] = byte(class)
	a := net.Addr().As16()
	n := 1 + copy(key[1:], a[:])
	switch class {
	case rrlPositive:
		n += dnswire.CopyQuestion(key[n:], body)
	case rrlNegative:
		n += copy(key[n:], zone)
	}
	sum := maphash.Bytes(r.seed, key[:n])
	slot := &r.slots[sum&r.mask]
	tag := sum >> 48
	sec := uint32(now.Sub(r.epoch)/time.Second) & rrlSecMask
	var count uint32
	for {
		old := slot.Load()
		count = 1
		if old>>48 == tag && uint32(old>>rrlCountBits)&rrlSecMask == sec {
			count = min(uint32(old&rrlCountMax)+1, rrlCountMax)
		}
		if slot.CompareAndSwap(old, rrlSlot(tag, sec, count)) {
			break
		}
	}
	if count <= r.rate {
		return reply, true
	}
	over := count - r.rate
	if over == 1 {
		r.logStart(now, net, class)
	}
	if r.slip > 0 && over%r.slip == 0 {
		if out, ok := dnswire.TruncateReply(body); ok {
			r.m.slipped.Inc()
			return reply[:len(dst)+len(out)], true
		}
	}
	r.m.dropped.Inc()
	return dst, false
}

// network is the client network a bucket is kept for.
func (r *RRL) network(a netip.Addr) netip.Prefix {
	bits := r.v6
	if a.Is4() {
		bits = r.v4
	}
	p, _ := a.Prefix(bits)
	return p
}

// logStart logs that a bucket went over its rate, at most once per
// RRLLogEvery across all buckets: a flood from many networks must not
// become a flood of log lines.
func (r *RRL) logStart(now time.Time, net netip.Prefix, class int) {
	last := r.lastLog.Load()
	if now.Unix()-last < int64(RRLLogEvery/time.Second) || !r.lastLog.CompareAndSwap(last, now.Unix()) {
		return
	}
	r.log.Info("response rate limiting started", "client_network", net.String(), "class", rrlClassNames[class],
		"rate", r.rate, "slip", r.slip)
}

// rrlClass classifies a reply by its header.
func rrlClass(b []byte) int {
	h, _ := dnswire.HeaderOf(b)
	switch rc := h.Flags & 0xf; {
	case rc == dns.RcodeSuccess && h.AN > 0:
		return rrlPositive
	case rc == dns.RcodeSuccess || rc == dns.RcodeNameError:
		return rrlNegative
	}
	return rrlError
}
