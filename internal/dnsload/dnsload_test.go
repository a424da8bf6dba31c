package dnsload

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startServer runs a real miekg/dns server on UDP and TCP on a free
// loopback port. It answers NOERROR with one A record, except names that
// start with "drop." (no reply), "slow." (a reply after 150ms) and
// "refuse." (REFUSED). It returns the address and the queries it saw.
func startServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var seen atomic.Int64
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		seen.Add(1)
		name := r.Question[0].Name
		m := new(dns.Msg)
		m.SetReply(r)
		switch {
		case strings.HasPrefix(name, "drop."):
			return
		case strings.HasPrefix(name, "slow."):
			time.Sleep(150 * time.Millisecond)
		case strings.HasPrefix(name, "refuse."):
			m.Rcode = dns.RcodeRefused
		}
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.IPv4(192, 0, 2, 1)})
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { _ = s.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	return pc.LocalAddr().String(), &seen
}

// every returns a Query that asks special for every n-th query (i%n == 0)
// and ok.test. otherwise.
func every(n int64, special string) func(int64) ([]byte, any, error) {
	return func(i int64) ([]byte, any, error) {
		name := "ok.test."
		if n > 0 && i%n == 0 {
			name = special
		}
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		b, err := m.Pack()
		return b, name, err
	}
}

func TestLoad(t *testing.T) {
	addr, seen := startServer(t)
	closed := func() string { // a port nobody listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	for _, tc := range []struct {
		name string
		cfg  Config
		// want: Sent, Answered, NoError, Lost (Sent < 0: at least -Sent)
		want     Stats
		failures map[string]int64
		late     int64
		maxTime  time.Duration // the load must end within this
	}{{
		name:     "udp closed loop, every 10th dropped",
		cfg:      Config{Workers: 4, Count: 100, Timeout: 100 * time.Millisecond, Query: every(10, "drop.test.")},
		want:     Stats{Sent: 100, Answered: 90, NoError: 90, Lost: 10},
		failures: map[string]int64{"timeout": 10},
		maxTime:  3 * time.Second,
	}, {
		name:    "udp paced, bounded by time",
		cfg:     Config{Workers: 2, Rate: 500, Duration: 400 * time.Millisecond, Query: every(0, "")},
		want:    Stats{Sent: -150}, // about 200; all answered
		maxTime: 3 * time.Second,
	}, {
		name:     "udp paced, late replies within the late window",
		cfg:      Config{Rate: 200, Count: 20, Timeout: 100 * time.Millisecond, LateWindow: time.Second, Query: every(5, "slow.test.")},
		want:     Stats{Sent: 20, Answered: 16, NoError: 16, Lost: 4},
		failures: map[string]int64{"timeout": 4},
		late:     4,
		maxTime:  5 * time.Second,
	}, {
		name:    "udp rcodes",
		cfg:     Config{Count: 20, Query: every(2, "refuse.test.")},
		want:    Stats{Sent: 20, Answered: 20, NoError: 10},
		maxTime: 3 * time.Second,
	}, {
		name:     "tcp, a connection per query, every 10th dropped",
		cfg:      Config{Transport: TCP, Workers: 2, Count: 40, Timeout: 100 * time.Millisecond, Query: every(10, "drop.test.")},
		want:     Stats{Sent: 40, Answered: 36, NoError: 36, Lost: 4},
		failures: map[string]int64{"timeout": 4},
		maxTime:  3 * time.Second,
	}, {
		name:    "tcp, 10 queries per connection, paced",
		cfg:     Config{Transport: TCP, QueriesPerConn: 10, Rate: 200, Count: 50, Query: every(0, "")},
		want:    Stats{Sent: 50, Answered: 50, NoError: 50},
		maxTime: 3 * time.Second,
	}, {
		name:     "tcp to a closed port",
		cfg:      Config{Server: closed, Transport: TCP, Count: 5, Query: every(0, "")},
		want:     Stats{Sent: 5, Lost: 5},
		failures: map[string]int64{"refused": 5},
		maxTime:  3 * time.Second,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Server == "" {
				tc.cfg.Server = addr
			}
			var replies, lostReplies atomic.Int64
			tc.cfg.OnReply = func(r Reply) {
				if r.Err == nil && !r.Late {
					replies.Add(1)
					if r.Tag == nil || len(r.Msg) < 12 || r.Latency <= 0 {
						t.Errorf("reply %+v lacks its tag, message or latency", r)
					}
				} else if r.Err != nil {
					lostReplies.Add(1)
				}
			}
			l, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			before := seen.Load()
			start := time.Now()
			res, err := l.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > tc.maxTime {
				t.Errorf("took %s, want under %s", took, tc.maxTime)
			}
			got := res.Stats
			if tc.want.Sent < 0 {
				if got.Sent < -tc.want.Sent || got.Answered != got.Sent || got.NoError != got.Sent {
					t.Errorf("stats %+v, want at least %d sent, all answered NOERROR", got, -tc.want.Sent)
				}
			} else if got != tc.want {
				t.Errorf("stats %+v, want %+v", got, tc.want)
			}
			if tc.cfg.Server == addr && seen.Load()-before != got.Sent {
				t.Errorf("the server saw %d queries, the load says it sent %d", seen.Load()-before, got.Sent)
			}
			for k, v := range tc.failures {
				if res.Failures[k] != v {
					t.Errorf("failures %v, want %s=%d", res.Failures, k, v)
				}
			}
			if res.Late != tc.late {
				t.Errorf("late %d, want %d", res.Late, tc.late)
			}
			if replies.Load() != got.Answered || lostReplies.Load() != got.Lost {
				t.Errorf("OnReply saw %d answers and %d losses, want %d and %d", replies.Load(), lostReplies.Load(), got.Answered, got.Lost)
			}
			if int64(len(res.Latencies)) != got.Answered {
				t.Errorf("%d latencies for %d answers", len(res.Latencies), got.Answered)
			}
			if got.Answered > 0 && (res.Percentile(50) <= 0 || res.Percentile(50) > res.Percentile(100)) {
				t.Errorf("p50 %s, max %s", res.Percentile(50), res.Percentile(100))
			}
		})
	}
}

// TestLoadStopsOnCtx: a closed-loop load bounded by an hour ends when its
// ctx does, and Stats reads its counters while it runs.
func TestLoadStopsOnCtx(t *testing.T) {
	addr, _ := startServer(t)
	l, err := New(Config{Server: addr, Workers: 2, Duration: time.Hour, Query: every(0, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan Result, 1)
	go func() {
		res, _ := l.Run(ctx)
		done <- res
	}()
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().NoError < 50 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v after 5s, want 50 answers", l.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case res := <-done:
		if res.Sent < 50 || res.Lost != 0 || res.Answered != res.Sent {
			t.Errorf("result %+v, want every query answered", res.Stats)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its ctx ended")
	}
}

func TestNewRejects(t *testing.T) {
	q := every(0, "")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unbounded", Config{Server: "127.0.0.1:53", Query: q}, "unbounded load"},
		{"no query", Config{Server: "127.0.0.1:53", Count: 1}, "Query is required"},
		{"bad server", Config{Server: "localhost", Count: 1, Query: q}, "want ip:port"},
		{"bad transport", Config{Server: "127.0.0.1:53", Transport: "quic", Count: 1, Query: q}, "want udp or tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want %q", err, tc.want)
			}
		})
	}
}
