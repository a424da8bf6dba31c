package main

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/internal/dnsload"
)

// client is a place queries come from: an ECS source prefix (invalid for
// queries without ECS, which glbd locates by the loopback source address).
type client struct {
	name   string
	subnet netip.Prefix
}

// soakClients are networks of the test GeoIP database on every continent,
// plus queries without ECS.
var soakClients = []client{
	{"London", netip.MustParsePrefix("81.2.69.0/24")},
	{"Frankfurt", netip.MustParsePrefix("91.198.174.0/24")},
	{"Linkoping", netip.MustParsePrefix("89.160.20.0/24")},
	{"Moscow", netip.MustParsePrefix("77.88.1.0/24")},
	{"Milton", netip.MustParsePrefix("216.160.83.0/24")},
	{"Ashburn", netip.MustParsePrefix("67.43.156.0/24")},
	{"Changchun", netip.MustParsePrefix("175.16.199.0/24")},
	{"Singapore", netip.MustParsePrefix("202.196.224.0/24")},
	{"Tokyo", netip.MustParsePrefix("133.242.1.0/24")},
	{"Sydney", netip.MustParsePrefix("1.128.1.0/24")},
	{"Sao Paulo", netip.MustParsePrefix("200.160.1.0/24")},
	{"Johannesburg", netip.MustParsePrefix("41.0.1.0/24")},
	{"Frankfurt v6", netip.MustParsePrefix("2a02:cf40::/56")},
	{"Tokyo v6", netip.MustParsePrefix("2001:218::/56")},
	{"no ECS", netip.Prefix{}},
}

// querySpec is what one query asks.
type querySpec struct {
	name   string
	qtype  uint16
	client int // index into soakClients
}

func randomSpec(r *rand.Rand) querySpec {
	qt := dns.TypeA
	if r.IntN(10) < 3 {
		qt = dns.TypeAAAA
	}
	return querySpec{name: soakNames[r.IntN(len(soakNames))], qtype: qt, client: r.IntN(len(soakClients))}
}

// pack builds the query with EDNS0 (1232 bytes) and the client's ECS.
func (q querySpec) pack(id uint16) ([]byte, error) {
	m := new(dns.Msg)
	m.SetQuestion(q.name, q.qtype)
	m.Id = id
	m.RecursionDesired = false
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(1232)
	if p := soakClients[q.client].subnet; p.IsValid() {
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()}
		if p.Addr().Is6() {
			e.Family = 2
		}
		o.Option = append(o.Option, e)
	}
	m.Extra = append(m.Extra, o)
	return m.Pack()
}

// judge checks every reply; it is shared by the UDP and TCP loads.
type judge struct {
	timeline *drainTimeline
	regions  map[netip.Addr]string
	timeout  time.Duration // a reply later than this is a failure
	grace    time.Duration // a region drained longer than this before the query must not appear

	sent, answered, timeouts, late, badRcode, badAnswer, violations, transportErrs atomic.Int64

	mu        sync.Mutex
	latencies []float32 // ms, of every reply (late ones too)
	byRegion  map[string]int64
	examples  []string // the first failures, for the report
	// timeoutSeconds counts timeouts by the second the query was sent:
	// whether they are spread out or bunched in a stall of the machine.
	timeoutSeconds map[time.Time]int64
}

func newJudge(tl *drainTimeline, timeout, grace time.Duration) *judge {
	return &judge{timeline: tl, regions: addrRegions(), timeout: timeout, grace: grace, byRegion: map[string]int64{}, timeoutSeconds: map[time.Time]int64{}}
}

func (j *judge) example(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.examples) < 10 {
		j.examples = append(j.examples, fmt.Sprintf(format, args...))
	}
}

// timedOut counts a query that got no reply within the timeout.
func (j *judge) timedOut(sent time.Time) {
	j.timeouts.Add(1)
	j.mu.Lock()
	j.timeoutSeconds[sent.Truncate(time.Second)]++
	j.mu.Unlock()
}

// reply judges the reply m to q, sent at sent and received at recv over
// transport. A reply after the timeout is late: a failure (a timeout,
// counted here unless counted already), and counted apart.
func (j *judge) reply(q querySpec, transport string, sent, recv time.Time, m *dns.Msg, counted bool) {
	took := recv.Sub(sent)
	j.mu.Lock()
	j.latencies = append(j.latencies, float32(took.Seconds()*1000))
	j.mu.Unlock()
	if took > j.timeout {
		j.late.Add(1)
		if !counted {
			j.timedOut(sent)
		}
		return
	}
	if len(m.Question) != 1 || !strings.EqualFold(m.Question[0].Name, q.name) || m.Question[0].Qtype != q.qtype {
		j.badAnswer.Add(1)
		j.example("%s %s %s from %s: reply for another question %v", transport, q.name, dns.TypeToString[q.qtype], soakClients[q.client].name, m.Question)
		return
	}
	if m.Rcode != dns.RcodeSuccess {
		j.badRcode.Add(1)
		j.example("%s %s %s from %s: rcode %s", transport, q.name, dns.TypeToString[q.qtype], soakClients[q.client].name, dns.RcodeToString[m.Rcode])
		return
	}
	var regions []string
	for _, rr := range m.Answer {
		var ip netip.Addr
		switch a := rr.(type) {
		case *dns.A:
			ip, _ = netip.AddrFromSlice(a.A.To4())
		case *dns.AAAA:
			ip, _ = netip.AddrFromSlice(a.AAAA)
		default:
			continue
		}
		r, ok := j.regions[ip]
		if !ok {
			j.badAnswer.Add(1)
			j.example("%s %s from %s: address %s of no region", transport, q.name, soakClients[q.client].name, ip)
			return
		}
		if !slices.Contains(regions, r) {
			regions = append(regions, r)
		}
	}
	if len(regions) == 0 {
		// Every name lists regions with both families and at most two
		// of seven are drained: an empty answer is a failure.
		j.badAnswer.Add(1)
		j.example("%s %s %s from %s: empty answer", transport, q.name, dns.TypeToString[q.qtype], soakClients[q.client].name)
		return
	}
	for _, r := range regions {
		if j.timeline.violates(r, sent, recv, j.grace) {
			j.violations.Add(1)
			j.example("%s %s %s from %s sent %s: answered drained region %s", transport, q.name, dns.TypeToString[q.qtype],
				soakClients[q.client].name, sent.Format("15:04:05.000"), r)
			return
		}
	}
	j.answered.Add(1)
	j.mu.Lock()
	for _, r := range regions {
		j.byRegion[r]++
	}
	j.mu.Unlock()
}

// failed is every query that did not get a good answer in time.
func (j *judge) failed() int64 {
	return j.timeouts.Load() + j.badRcode.Load() + j.badAnswer.Load() + j.violations.Load() + j.transportErrs.Load()
}

// lateWindow is how long after its timeout a UDP reply is still recognised
// as a late one rather than lost.
const lateWindow = 4 * time.Second

// tcpQueriesPerConn is how many queries the TCP load sends on one
// connection before opening a new one. glbd closes a TCP connection after
// -tcp-max-queries, as RFC 7766 allows; a query written after that close
// would be lost without glbd ever reading it, so the soak moves on first,
// as a resolver's pool would.
const tcpQueriesPerConn = 100

// newLoad returns the soak's load over transport: random queries from
// soakClients at rate, judged by j, until the soak's ctx ends (or its
// duration, plus a minute, passes). Query i is drawn from its own seeded
// source, so workers need no shared one and a seed replays the same
// queries.
func newLoad(transport, server string, j *judge, rate float64, workers int, duration time.Duration, seed uint64) (*dnsload.Load, error) {
	cfg := dnsload.Config{
		Server: server, Transport: transport, Workers: workers, Rate: rate,
		Duration: duration + time.Minute, Timeout: j.timeout,
		Query: func(i int64) ([]byte, any, error) {
			spec := randomSpec(rand.New(rand.NewPCG(seed, uint64(i))))
			b, err := spec.pack(0)
			if err != nil {
				return nil, nil, fmt.Errorf("pack query: %w", err)
			}
			return b, spec, nil
		},
		OnReply: j.observe(transport),
	}
	if transport == dnsload.UDP {
		cfg.LateWindow = lateWindow
	} else {
		cfg.QueriesPerConn = tcpQueriesPerConn
	}
	return dnsload.New(cfg)
}

// observe returns the judge of one transport's replies: every query is
// sent once and ends once (a reply, a timeout or a transport error); a
// late reply comes after its timeout was counted.
func (j *judge) observe(transport string) func(dnsload.Reply) {
	return func(r dnsload.Reply) {
		q := r.Tag.(querySpec)
		if !r.Late {
			j.sent.Add(1)
		}
		switch {
		case r.Err != nil && dnsload.Failure(r.Err) == "timeout":
			j.timedOut(r.Sent)
			j.example("%s %s %s from %s sent %s: no reply within %s", transport, q.name, dns.TypeToString[q.qtype],
				soakClients[q.client].name, r.Sent.Format("15:04:05.000"), j.timeout)
		case r.Err != nil:
			j.transportErrs.Add(1)
			j.example("%s %s %s sent %s: %v", transport, q.name, dns.TypeToString[q.qtype], r.Sent.Format("15:04:05.000"), r.Err)
		default:
			m := new(dns.Msg)
			if err := m.Unpack(r.Msg); err != nil {
				j.badAnswer.Add(1)
				j.example("%s: malformed reply: %v", transport, err)
				return
			}
			j.reply(q, transport, r.Sent, r.Sent.Add(r.Latency), m, r.Late)
		}
	}
}
