package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
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

// pending is a UDP query waiting for its reply.
type pending struct {
	spec     querySpec
	sent     time.Time
	timedOut bool
}

// udpLoad sends paced queries over one connected UDP socket and matches the
// replies by id, so a slow reply never holds up the pace.
type udpLoad struct {
	conn    *net.UDPConn
	judge   *judge
	rate    float64 // queries per second
	rng     *rand.Rand
	mu      sync.Mutex
	pending map[uint16]*pending
	nextID  uint16
}

// lateWindow is how long after its timeout a reply is still recognised as a
// late one rather than lost.
const lateWindow = 4 * time.Second

func newUDPLoad(server string, j *judge, rate float64, seed uint64) (*udpLoad, error) {
	ap, err := netip.ParseAddrPort(server)
	if err != nil || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("dns server %q: want a loopback ip:port", server)
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, fmt.Errorf("dial udp %s: %w", server, err)
	}
	_ = conn.SetReadBuffer(1 << 20)
	return &udpLoad{conn: conn, judge: j, rate: rate, rng: rand.New(rand.NewPCG(seed, 1)), pending: map[uint16]*pending{}}, nil
}

// Run sends until ctx is done, then waits for the replies still due and
// closes the socket.
func (u *udpLoad) Run(ctx context.Context) error {
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		u.receive()
	}()
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	var sentN int64
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-t.C:
			due := int64(now.Sub(start).Seconds() * u.rate)
			for ; sentN < due; sentN++ {
				if err = u.send(); err != nil {
					break loop
				}
			}
			u.sweep(now)
		}
	}
	// Give the last queries their full chance, late ones included.
	end := time.Now().Add(u.judge.timeout + lateWindow)
	for time.Now().Before(end) {
		u.sweep(time.Now())
		u.mu.Lock()
		n := len(u.pending)
		u.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	u.sweep(time.Now().Add(u.judge.timeout + lateWindow + time.Second)) // whatever is left is lost
	u.conn.Close()
	<-recvDone
	return err
}

func (u *udpLoad) send() error {
	spec := randomSpec(u.rng)
	u.mu.Lock()
	for u.pending[u.nextID] != nil { // an id still awaiting its reply is not reused
		u.nextID++
	}
	id := u.nextID
	u.nextID++
	p := &pending{spec: spec, sent: time.Now()}
	u.pending[id] = p
	u.mu.Unlock()
	b, err := spec.pack(id)
	if err != nil {
		return fmt.Errorf("pack query: %w", err)
	}
	u.judge.sent.Add(1)
	if _, err := u.conn.Write(b); err != nil {
		u.mu.Lock()
		delete(u.pending, id)
		u.mu.Unlock()
		u.judge.transportErrs.Add(1)
		u.judge.example("udp write: %v", err)
	}
	return nil
}

// sweep counts queries unanswered past the timeout as failed, and forgets
// those past the late window.
func (u *udpLoad) sweep(now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for id, p := range u.pending {
		age := now.Sub(p.sent)
		if !p.timedOut && age > u.judge.timeout {
			p.timedOut = true
			u.judge.timedOut(p.sent)
			u.judge.example("udp %s %s from %s sent %s: no reply within %s", p.spec.name, dns.TypeToString[p.spec.qtype],
				soakClients[p.spec.client].name, p.sent.Format("15:04:05.000"), u.judge.timeout)
		}
		if age > u.judge.timeout+lateWindow {
			delete(u.pending, id)
		}
	}
}

func (u *udpLoad) receive() {
	buf := make([]byte, 65535)
	for {
		n, err := u.conn.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		recv := time.Now()
		if err != nil {
			continue // e.g. ICMP port unreachable while glbd restarts; the sweep counts the loss
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			u.judge.badAnswer.Add(1)
			u.judge.example("udp: malformed reply: %v", err)
			continue
		}
		u.mu.Lock()
		p := u.pending[m.Id]
		var counted bool
		if p != nil {
			delete(u.pending, m.Id)
			counted = p.timedOut // the sweep no longer sees p
		}
		u.mu.Unlock()
		if p == nil {
			continue // a reply after the late window; already counted
		}
		u.judge.reply(p.spec, "udp", p.sent, recv, m, counted)
	}
}

// tcpQueriesPerConn is how many queries the TCP load sends on one
// connection before opening a new one. glbd's TCP server (miekg/dns's
// MaxTCPQueries default) closes a connection after 128 queries, as RFC 7766
// allows; a query written after that close would be lost without glbd ever
// reading it, so the soak moves on first, as a resolver's pool would.
const tcpQueriesPerConn = 100

// tcpLoad asks one query at a time over one TCP connection, reconnecting
// after an error (which is counted) and every tcpQueriesPerConn queries.
type tcpLoad struct {
	server string
	judge  *judge
	rate   float64
	rng    *rand.Rand
}

func (t *tcpLoad) Run(ctx context.Context) error {
	var conn *dns.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	tick := time.NewTicker(time.Duration(float64(time.Second) / t.rate))
	defer tick.Stop()
	var id uint16
	var onConn int
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if conn != nil && onConn >= tcpQueriesPerConn {
			conn.Close()
			conn = nil
		}
		if conn == nil {
			onConn = 0
			c, err := dns.DialTimeout("tcp", t.server, t.judge.timeout)
			if err != nil {
				t.judge.sent.Add(1)
				t.judge.transportErrs.Add(1)
				t.judge.example("tcp dial: %v", err)
				continue
			}
			conn = c
		}
		id++
		onConn++
		spec := randomSpec(t.rng)
		b, err := spec.pack(id)
		if err != nil {
			return fmt.Errorf("pack query: %w", err)
		}
		sent := time.Now()
		t.judge.sent.Add(1)
		_ = conn.SetDeadline(sent.Add(t.judge.timeout))
		m, err := t.exchange(conn, b, id)
		if err != nil {
			// No retry: the query failed. A timeout counts as one.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.judge.timedOut(sent)
			} else {
				t.judge.transportErrs.Add(1)
			}
			t.judge.example("tcp %s %s sent %s: %v", spec.name, dns.TypeToString[spec.qtype], sent.Format("15:04:05.000"), err)
			conn.Close()
			conn = nil
			continue
		}
		t.judge.reply(spec, "tcp", sent, time.Now(), m, false)
	}
}

func (t *tcpLoad) exchange(conn *dns.Conn, b []byte, id uint16) (*dns.Msg, error) {
	if _, err := conn.Write(b); err != nil {
		return nil, err
	}
	m, err := conn.ReadMsg()
	if err != nil {
		return nil, err
	}
	if m.Id != id {
		return nil, fmt.Errorf("reply id %d, want %d", m.Id, id)
	}
	return m, nil
}
