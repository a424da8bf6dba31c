package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/server/dnswire"
	"github.com/glb-dns/glb/server/limit"
)

// TestRRLClasses checks what shares a bucket: one name and type per
// positive answer, one zone for NXDOMAIN and NODATA, one for all errors,
// whatever the case of the name.
func TestRRLClasses(t *testing.T) {
	const rate = 4
	type ask struct {
		name  string
		qtype uint16
	}
	repeat := func(n int, f func(i int) ask) []ask {
		var out []ask
		for i := range n {
			out = append(out, f(i))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		asks []ask
		want int // answered in full
	}{
		{"one name and type over the rate", repeat(8, func(int) ask { return ask{"www", dns.TypeA} }), rate},
		{"each name and type has its own bucket", repeat(12, func(i int) ask {
			return []ask{{"www", dns.TypeA}, {"api", dns.TypeA}, {"www", dns.TypeAAAA}}[i%3]
		}), 12},
		{"case makes no new bucket", repeat(8, func(i int) ask { return ask{[]string{"www", "WWW", "wWw", "Www"}[i%4], dns.TypeA} }), rate},
		{"random NXDOMAIN names share the zone's bucket", repeat(8, func(i int) ask { return ask{fmt.Sprintf("nope%d", i), dns.TypeA} }), rate},
		{"NODATA shares it too", repeat(8, func(i int) ask {
			return []ask{{fmt.Sprintf("nope%d", i), dns.TypeA}, {"www", dns.TypeMX}}[i%2]
		}), rate},
		{"REFUSED for other zones share one bucket", repeat(8, func(i int) ask { return ask{fmt.Sprintf("h%d.example.org.", i), dns.TypeA} }), rate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock(rrlTestTime)
			h, _ := newRRLHandler(t, limit.RRLConfig{Rate: rate}, clock)
			remote := netip.MustParseAddrPort("192.0.2.7:5353")
			answered := 0
			for _, a := range tc.asks {
				name := a.name
				if !strings.HasSuffix(name, ".") {
					name += "." + testZone
				}
				pkt, err := mkQuery(name, a.qtype, "").Pack()
				if err != nil {
					t.Fatal(err)
				}
				if out, ok := h.AnswerPacket(nil, pkt, remote, false); ok {
					m := new(dns.Msg)
					if err := m.Unpack(out); err != nil {
						t.Fatal(err)
					}
					if !m.Truncated {
						answered++
					}
				}
			}
			if answered != tc.want {
				t.Errorf("%d of %d answered, want %d", answered, len(tc.asks), tc.want)
			}
		})
	}
}

// TestTruncateReply checks the slipped reply: header, question and OPT
// (with its options) kept, TC set, every record dropped, rcode kept.
func TestTruncateReply(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	for _, tc := range []struct {
		name string
		q    *dns.Msg
		opt  bool
	}{
		{"answer with ECS and a cookie", func() *dns.Msg {
			q := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")
			q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
			return q
		}(), true},
		{"NXDOMAIN with SOA, no EDNS", mkQuery("nope."+testZone, dns.TypeA, ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.noFast = true // a compressed reply from the DNS library
			defer func() { h.noFast = false }()
			pkt, _ := tc.q.Pack()
			full, ok := h.AnswerPacket(nil, pkt, netip.MustParseAddrPort("127.0.0.1:53"), false)
			if !ok {
				t.Fatal("no reply")
			}
			want := new(dns.Msg)
			if err := want.Unpack(full); err != nil {
				t.Fatal(err)
			}
			cut, ok := dnswire.TruncateReply(full)
			if !ok {
				t.Fatal("dnswire.TruncateReply failed")
			}
			got := new(dns.Msg)
			if err := got.Unpack(cut); err != nil {
				t.Fatalf("truncated reply does not parse: %v", err)
			}
			if !got.Truncated || len(got.Answer)+len(got.Ns) != 0 || got.Rcode != want.Rcode || got.Id != want.Id ||
				got.Question[0] != want.Question[0] {
				t.Errorf("truncated reply:\n%s\nfrom:\n%s", got, want)
			}
			if o := got.IsEdns0(); (o != nil) != tc.opt || (tc.opt && (replyScope(got) != replyScope(want) || replyCookie(got) != replyCookie(want))) {
				t.Errorf("OPT not kept as it was:\n%s\nfrom:\n%s", got, want)
			}
		})
	}
}

// TestRRLFlood is the flood measurement: 10,000 queries as fast as one
// socket sends them from one /24 at rate 20/s, slip 2, on the real clock,
// while a client in another /24 asks ten times a second. It logs the
// numbers (go test -run RRLFlood -v ./server).
func TestRRLFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("flood measurement")
	}
	const rate, n = 20, 10000
	h, reg := newRRLHandler(t, limit.RRLConfig{Rate: rate, Slip: 2}, newTestClock(time.Now()))
	h.now = time.Now // the real clock
	addr := startServer(t, h)
	q := mkQuery("www."+testZone, dns.TypeA, "")

	flooder := newUDPClient(t, "127.0.5.2", addr)
	_ = flooder.c.SetReadBuffer(4 << 20)
	start := time.Now()
	var wg sync.WaitGroup
	var answered, slipped int
	wg.Add(1)
	go func() {
		defer wg.Done()
		answered, slipped = flooder.floodCount(q, n, 500*time.Millisecond)
	}()
	// The other /24 asks until the flood's replies have been counted.
	other := newUDPClient(t, "127.0.6.2", addr)
	asked, otherAnswered := 0, 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for asked < 100 {
		select {
		case <-done:
			break loop
		case <-time.After(100 * time.Millisecond):
		}
		asked++
		if m := exchangeFrom(t, other, q); len(m.Answer) > 0 && !m.Truncated {
			otherAnswered++
		}
	}
	<-done
	took := time.Since(start)
	// The server's counts are exact; the client's miss the replies the
	// kernel dropped on the way back at this rate.
	dropped := int(counterValue(t, reg, "glb_dns_rrl_limited_total", "dropped"))
	slippedServer := int(counterValue(t, reg, "glb_dns_rrl_limited_total", "slipped"))
	t.Logf("flood of %d queries from 127.0.5.0/24, rate %d/s, slip 2, over %v: %d answered; RRL slipped %d (TC) and dropped %d; "+
		"client received %d answers and %d TC; %d queries lost before the server",
		n, rate, took.Round(time.Millisecond), answered, slippedServer, dropped, answered, slipped, n-answered-slippedServer-dropped)
	t.Logf("other /24 (127.0.6.2) at 10 queries/s: %d of %d answered", otherAnswered, asked)
	secs := int(took/time.Second) + 1
	if answered > rate*secs || answered < rate {
		t.Errorf("flood got %d answers in %v; want %d to %d", answered, took, rate, rate*secs)
	}
	if d := slippedServer - dropped; d < -secs || d > secs || slipped > slippedServer {
		t.Errorf("slipped %d (client saw %d), dropped %d: want one in two limited replies slipped", slippedServer, slipped, dropped)
	}
	if otherAnswered != asked || asked == 0 {
		t.Errorf("other /24: %d of %d answered, want all", otherAnswered, asked)
	}
}

// floodCount is flood without a testing.T, for a goroutine: it sends n
// queries and counts the replies.
func (u *udpClient) floodCount(q *dns.Msg, n int, quiet time.Duration) (answered, slipped int) {
	q = q.Copy()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			q.Id = uint16(i)
			wire, _ := q.Pack()
			_, _ = u.c.WriteToUDP(wire, u.srv)
		}
	}()
	buf := make([]byte, 4096)
	for {
		u.c.SetReadDeadline(time.Now().Add(quiet))
		k, _, err := u.c.ReadFromUDP(buf)
		if err != nil {
			<-done
			return answered, slipped
		}
		m := new(dns.Msg)
		if m.Unpack(buf[:k]) != nil {
			continue
		}
		if m.Truncated {
			slipped++
		} else {
			answered++
		}
	}
}

// BenchmarkAnswerPacketRRL measures the fast path with RRL off, on and
// under the rate, on and limiting, and on with a cookie-exempt client.
func BenchmarkAnswerPacketRRL(b *testing.B) {
	remote := netip.MustParseAddrPort("127.0.0.1:5300")
	q := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")
	plain, _ := q.Pack()
	cq := q.Copy()
	client := [limit.ClientCookieLen]byte{1, 2, 3, 4, 5, 6, 7, 8}
	for _, bc := range []struct {
		name   string
		rrl    limit.RRLConfig
		cookie bool
	}{
		{name: "off"},
		{name: "on_under_rate", rrl: limit.RRLConfig{Rate: limit.MaxRRLRate}},
		{name: "on_limited", rrl: limit.RRLConfig{Rate: 20, Slip: 2}},
		{name: "on_cookie_exempt", rrl: limit.RRLConfig{Rate: 20, Slip: 2}, cookie: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := newRRLHandler(b, bc.rrl, newTestClock(time.Now()))
			h.now = time.Now
			pkt := plain
			if bc.cookie {
				c := testCookies.Append(nil, &client, remote.Addr(), uint32(time.Now().Unix()))
				cq.IsEdns0().Option = append(cq.IsEdns0().Option[:1], &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hexOf(c)})
				pkt, _ = cq.Pack()
			}
			out := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				h.AnswerPacket(out[:0], pkt, remote, false)
			}
		})
	}
}

// TestRRLLogLine checks that limiting is logged when it starts, and at most
// once per limit.RRLLogEvery however many networks are limited.
func TestRRLLogLine(t *testing.T) {
	var buf bytes.Buffer
	clock := newTestClock(rrlTestTime)
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry()), RRL: limit.RRLConfig{Rate: 1},
		Now: clock.now, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	applyNow(h, devState(t, nil))
	pkt, _ := mkQuery("www."+testZone, dns.TypeA, "").Pack()
	flood := func(network int) {
		for range 5 {
			h.AnswerPacket(nil, pkt, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(network), 1}), 5353), false)
		}
	}
	lines := func() int { return strings.Count(buf.String(), "response rate limiting started") }
	for n := range 50 {
		flood(n)
	}
	if got := lines(); got != 1 || !strings.Contains(buf.String(), "client_network=198.51.0.0/24") {
		t.Errorf("50 networks limited at once: %d lines, want 1 naming the first:\n%s", got, buf.String())
	}
	clock.add(limit.RRLLogEvery)
	flood(99)
	if got := lines(); got != 2 {
		t.Errorf("after %v: %d lines, want 2", limit.RRLLogEvery, got)
	}
}
