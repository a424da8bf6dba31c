package main

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const testSecret = "e5e973e5a6b2a43f48e7dc849e37bfcf" // RFC 9018 appendix A

func secretFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cookie-secret")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLimitFlags checks the RRL and cookie flags: defaults (RRL off), a
// full setting, and each bad value refused naming its flag.
func TestLimitFlags(t *testing.T) {
	good := secretFile(t, testSecret+"\n")
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, l limitFlags)
	}{
		{name: "defaults: RRL off, random cookie secret", check: func(t *testing.T, l limitFlags) {
			if l.RRL.Rate != 0 || l.RRL.Slip != 2 || l.RRL.IPv4Prefix != 24 || l.RRL.IPv6Prefix != 56 || l.Cookies != nil {
				t.Errorf("defaults %+v, cookies %v", l.RRL, l.Cookies)
			}
		}},
		{name: "all set", args: []string{"-rrl-rate", "20", "-rrl-slip", "3", "-rrl-ipv4-prefix", "22", "-rrl-ipv6-prefix", "48",
			"-rrl-whitelist", "192.0.2.0/24, 2001:db8::/32,198.51.100.7,10.1.2.3/8", "-cookie-secret-file", good},
			check: func(t *testing.T, l limitFlags) {
				want := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32"),
					netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("10.0.0.0/8")}
				if l.RRL.Rate != 20 || l.RRL.Slip != 3 || l.RRL.IPv4Prefix != 22 || l.RRL.IPv6Prefix != 48 ||
					len(l.RRL.Whitelist) != len(want) || l.Cookies == nil || l.Cookies.Current[0] != 0xe5 {
					t.Fatalf("got %+v, cookies %v", l.RRL, l.Cookies)
				}
				for i := range want {
					if l.RRL.Whitelist[i] != want[i] {
						t.Errorf("whitelist[%d] = %s, want %s", i, l.RRL.Whitelist[i], want[i])
					}
				}
			}},
		{name: "negative rate", args: []string{"-rrl-rate", "-1"}, wantErr: "-rrl-rate -1"},
		{name: "huge rate", args: []string{"-rrl-rate", "100000000"}, wantErr: "-rrl-rate"},
		{name: "slip out of range", args: []string{"-rrl-slip", "101"}, wantErr: "-rrl-slip"},
		{name: "ipv4 prefix 33", args: []string{"-rrl-ipv4-prefix", "33"}, wantErr: "-rrl-ipv4-prefix"},
		{name: "ipv6 prefix 0", args: []string{"-rrl-ipv6-prefix", "0"}, wantErr: "-rrl-ipv6-prefix"},
		{name: "bad whitelist", args: []string{"-rrl-whitelist", "192.0.2.0/24,nonsense"}, wantErr: "-rrl-whitelist \"nonsense\""},
		{name: "missing secret file", args: []string{"-cookie-secret-file", "/nonexistent/secret"}, wantErr: "-cookie-secret-file"},
		{name: "short secret", args: []string{"-cookie-secret-file", secretFile(t, "abcd")}, wantErr: "-cookie-secret-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(append([]string{"-dev"}, tc.args...), func(string) string { return "" }, &bytes.Buffer{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c.Limits)
		})
	}
}

// TestLimitFlagsExit checks that a bad cookie secret file stops glbd with
// status 2 and one line naming the flag.
func TestLimitFlagsExit(t *testing.T) {
	for _, text := range []string{"not hex at all, not at all......", testSecret[:31]} {
		var stderr bytes.Buffer
		code := run([]string{"-dev", "-cookie-secret-file", secretFile(t, text)}, func(string) string { return "" }, &bytes.Buffer{}, &stderr)
		if code != 2 || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 || !strings.Contains(stderr.String(), "-cookie-secret-file") {
			t.Errorf("secret %q: exit %d, stderr %q; want 2 and one line naming -cookie-secret-file", text, code, stderr.String())
		}
	}
}

// TestSharedCookieSecret runs two glbd with RRL on and one secret file: a
// server cookie one instance gave is valid at the other, so its client is
// not limited there, while a cookieless client is.
func TestSharedCookieSecret(t *testing.T) {
	srv := seededEtcd(t)
	parsed, err := parseFlags([]string{"-dev", "-rrl-rate", "2", "-rrl-slip", "0", "-cookie-secret-file", secretFile(t, testSecret)},
		func(string) string { return "" }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	first := startApp(t, Config{Etcd: srv.Endpoints(), Limits: parsed.Limits})
	second := startApp(t, Config{Etcd: srv.Endpoints(), Limits: parsed.Limits})

	// The client cookie, and the server cookie the first instance makes.
	q := new(dns.Msg)
	q.SetQuestion("www."+zone, dns.TypeA)
	q.SetEdns0(1232, false)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	m, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(q, first.dnsAddr())
	if err != nil {
		t.Fatal(err)
	}
	cookie := ""
	for _, o := range m.IsEdns0().Option {
		if c, ok := o.(*dns.EDNS0_COOKIE); ok {
			cookie = c.Cookie
		}
	}
	if len(cookie) != 48 || !strings.HasPrefix(cookie, "0102030405060708") {
		t.Fatalf("reply cookie %q: want the client cookie and a 16-byte server cookie", cookie)
	}

	const n = 20
	withCookie := q.Copy()
	withCookie.IsEdns0().Option[0] = &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: cookie}
	if got := udpAnswers(t, second.dnsAddr(), withCookie, n); got != n {
		t.Errorf("with the first instance's cookie: %d of %d answered by the second, want all", got, n)
	}
	// Two per second: at most two seconds' worth, on a real clock.
	if got := udpAnswers(t, second.dnsAddr(), q, n); got > 4 || got < 1 {
		t.Errorf("without a server cookie: %d of %d answered, want 2 (or 4 across a second)", got, n)
	}
	if v := metricValue(t, second, "glb_dns_rrl_limited_total"); v < n-4 {
		t.Errorf("glb_dns_rrl_limited_total = %v, want at least %d", v, n-4)
	}
}

// udpAnswers sends n copies of q from one socket and counts the answers.
func udpAnswers(t *testing.T, addr string, q *dns.Msg, n int) int {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		q.Id = uint16(i + 1)
		wire, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(wire); err != nil {
			t.Fatal(err)
		}
	}
	got, buf := 0, make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		k, err := c.Read(buf)
		if err != nil {
			return got
		}
		m := new(dns.Msg)
		if m.Unpack(buf[:k]) == nil && len(m.Answer) > 0 && !m.Truncated {
			got++
		}
	}
}
