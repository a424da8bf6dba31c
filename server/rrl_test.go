package server

import (
	"encoding/hex"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/server/limit"
)

// rrlTestTime is the clock of the RRL tests: it stands still, so a whole
// flood falls into one second and the counts are exact.
var rrlTestTime = time.Unix(1700000000, 0)

// testClock is a clock tests set while a server reads it.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := new(testClock)
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *testClock) unixSeconds() uint32 { return uint32(c.now().Unix()) }

// newRRLHandler returns a handler of the dev configuration with RRL c and
// the test cookie secret, on clock.
func newRRLHandler(t testing.TB, c limit.RRLConfig, clock *testClock) (*Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Rand: func(int) int { return 0 },
		RRL: c, Cookies: &testCookies, Now: clock.now})
	applyNow(h, devState(t, nil))
	return h, reg
}

// udpClient is a real UDP client socket bound to a given loopback address:
// 127.0.0.0/8 is all local on Linux, so 127.0.1.2 and 127.0.2.2 are clients
// in different /24s.
type udpClient struct {
	c   *net.UDPConn
	srv *net.UDPAddr
}

func newUDPClient(t *testing.T, local, server string) *udpClient {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(local)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	return &udpClient{c: c, srv: srv}
}

// flood sends n copies of q (ids 1..n) and collects the replies until none
// has come for quiet: how many were answered in full and how many slipped
// (TC, no answers).
func (u *udpClient) flood(t *testing.T, q *dns.Msg, n int, quiet time.Duration) (answered, slipped int) {
	t.Helper()
	for i := range n {
		q.Id = uint16(i + 1)
		wire, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.c.WriteToUDP(wire, u.srv); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint16]bool{}
	buf := make([]byte, 4096)
	for len(seen) < n {
		u.c.SetReadDeadline(time.Now().Add(quiet))
		k, _, err := u.c.ReadFromUDP(buf)
		if err != nil {
			break // quiet for long enough: the rest were dropped
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:k]); err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if seen[m.Id] {
			t.Fatalf("two replies to query %d", m.Id)
		}
		seen[m.Id] = true
		switch {
		case m.Truncated && len(m.Answer) == 0 && len(m.Ns) == 0:
			slipped++
			if len(m.Question) != 1 || m.Question[0].Name != q.Question[0].Name {
				t.Errorf("slipped reply has question %v", m.Question)
			}
		case !m.Truncated && len(m.Answer) > 0:
			answered++
		default:
			t.Errorf("reply neither answered nor slipped:\n%s", m)
		}
	}
	return answered, slipped
}

// TestRRLWire floods a real server from one /24 and checks that its
// answers are limited to the rate, with every slip-th limited reply sent
// truncated, while other clients are served.
func TestRRLWire(t *testing.T) {
	const rate, n = 10, 100
	for _, tc := range []struct {
		name        string
		slip        int
		wantSlipped int
	}{
		{name: "slip 2 truncates every second limited reply", slip: 2, wantSlipped: (n - rate) / 2},
		{name: "slip 3", slip: 3, wantSlipped: (n - rate) / 3},
		{name: "slip 1 truncates them all", slip: 1, wantSlipped: n - rate},
		{name: "slip 0 drops them all", slip: 0, wantSlipped: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock(rrlTestTime)
			h, reg := newRRLHandler(t, limit.RRLConfig{Rate: rate, Slip: tc.slip}, clock)
			addr := startServer(t, h)
			q := mkQuery("www."+testZone, dns.TypeA, "")

			answered, slipped := newUDPClient(t, "127.0.1.2", addr).flood(t, q, n, 300*time.Millisecond)
			if answered != rate || slipped != tc.wantSlipped {
				t.Errorf("flood from 127.0.1.2: %d answered, %d slipped; want %d and %d", answered, slipped, rate, tc.wantSlipped)
			}
			// Its neighbour in the same /24 shares the bucket...
			if a, _ := newUDPClient(t, "127.0.1.3", addr).flood(t, q, 5, 200*time.Millisecond); a != 0 {
				t.Errorf("127.0.1.3, same /24 as the flood: %d of 5 answered, want 0", a)
			}
			// ...while another /24 has its own.
			if a, s := newUDPClient(t, "127.0.2.2", addr).flood(t, q, rate, 300*time.Millisecond); a != rate || s != 0 {
				t.Errorf("127.0.2.2, another /24: %d of %d answered, %d slipped", a, rate, s)
			}
			// TCP is never limited, even for the flooding address.
			c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.1.2")}}}
			for range 3 {
				m, _, err := c.Exchange(q, addr)
				if err != nil || len(m.Answer) == 0 || m.Truncated {
					t.Fatalf("tcp from the flooding address: %v %v", m, err)
				}
			}
			// A new second refills the bucket.
			clock.add(time.Second)
			if a, _ := newUDPClient(t, "127.0.1.2", addr).flood(t, q, rate, 300*time.Millisecond); a != rate {
				t.Errorf("next second: %d of %d answered", a, rate)
			}
			limited := n - rate + 5
			wantSlipped := 0 // the neighbour's 5 continue the flood's count
			for over := 1; over <= limited && tc.slip > 0; over++ {
				if over%tc.slip == 0 {
					wantSlipped++
				}
			}
			if got := counterValue(t, reg, "glb_dns_rrl_limited_total", "slipped"); int(got) != wantSlipped {
				t.Errorf("glb_dns_rrl_limited_total{action=slipped} = %v, want %d", got, wantSlipped)
			}
			if got := counterValue(t, reg, "glb_dns_rrl_limited_total", "dropped"); int(got) != limited-wantSlipped {
				t.Errorf("glb_dns_rrl_limited_total{action=dropped} = %v, want %d", got, limited-wantSlipped)
			}
			if _, err := testutil.GatherAndLint(reg); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestRRLExempt checks who is never limited: a whitelisted network, and a
// client with a valid server cookie while a cookieless flood from its /24
// is limited; a forged or stale server cookie does not exempt.
func TestRRLExempt(t *testing.T) {
	const rate, n = 5, 40
	clock := newTestClock(rrlTestTime)
	white := netip.MustParsePrefix("127.0.3.0/24")
	h, reg := newRRLHandler(t, limit.RRLConfig{Rate: rate, Slip: 0, Whitelist: []netip.Prefix{white}}, clock)
	addr := startServer(t, h)
	www := func(cookie []byte) *dns.Msg {
		q := mkQuery("www."+testZone, dns.TypeA, "")
		if cookie != nil {
			q.SetEdns0(1232, false)
			q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hexOf(cookie)})
		}
		return q
	}

	if a, _ := newUDPClient(t, "127.0.3.9", addr).flood(t, www(nil), n, 300*time.Millisecond); a != n {
		t.Errorf("whitelisted 127.0.3.9: %d of %d answered", a, n)
	}

	// The cookie client learns its server cookie from a first answer.
	cookieClient := newUDPClient(t, "127.0.4.2", addr)
	first := exchangeFrom(t, cookieClient, www([]byte{1, 2, 3, 4, 5, 6, 7, 8}))
	got := replyCookie(first)
	if len(got) != 2*(limit.ClientCookieLen+limit.ServerCookieLen) || got[:16] != "0102030405060708" {
		t.Fatalf("first reply's cookie %q: want the client cookie and a 16-byte server cookie", got)
	}
	server, err := hex.DecodeString(got)
	if err != nil {
		t.Fatal(err)
	}

	// A cookieless flood from the same /24 uses up the bucket.
	if a, _ := newUDPClient(t, "127.0.4.3", addr).flood(t, www(nil), n, 300*time.Millisecond); a != rate-1 {
		t.Errorf("cookieless flood from 127.0.4.3: %d answered, want %d", a, rate-1)
	}
	forged := append([]byte(nil), server...)
	forged[len(forged)-1] ^= 1
	stale := testCookies.Append(nil, &[8]byte{1, 2, 3, 4, 5, 6, 7, 8}, mustAddr("127.0.4.2"), clock.unixSeconds()-2*3600)
	for _, tc := range []struct {
		name   string
		cookie []byte
		want   int
	}{
		{"valid server cookie is exempt", server, n},
		{"client cookie only is limited", server[:limit.ClientCookieLen], 0},
		{"forged server cookie is limited", forged, 0},
		{"server cookie two hours old is limited", stale, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a, _ := cookieClient.flood(t, www(tc.cookie), n, 300*time.Millisecond); a != tc.want {
				t.Errorf("%d of %d answered, want %d", a, n, tc.want)
			}
		})
	}
	if got := counterValue(t, reg, "glb_dns_rrl_exempt_total", "cookie"); got != n {
		t.Errorf("glb_dns_rrl_exempt_total{reason=cookie} = %v, want %d", got, n)
	}
	if got := counterValue(t, reg, "glb_dns_rrl_exempt_total", "whitelist"); got != n {
		t.Errorf("glb_dns_rrl_exempt_total{reason=whitelist} = %v, want %d", got, n)
	}
}

// exchangeFrom sends q from u and returns the reply.
func exchangeFrom(t *testing.T, u *udpClient, q *dns.Msg) *dns.Msg {
	t.Helper()
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.c.WriteToUDP(wire, u.srv); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	u.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	k, _, err := u.c.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:k]); err != nil {
		t.Fatal(err)
	}
	return m
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
