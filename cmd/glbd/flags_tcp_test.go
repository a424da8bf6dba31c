package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server"
)

// TestTCPFlags checks the -tcp-* defaults and values, and that each bad
// value is refused with status 2 and one line naming its flag.
func TestTCPFlags(t *testing.T) {
	c, err := parseFlags([]string{"-dev"}, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil || c.TCP != server.DefaultTCPLimits() {
		t.Errorf("defaults %+v (%v), want %+v", c.TCP, err, server.DefaultTCPLimits())
	}
	c, err = parseFlags([]string{"-dev", "-tcp-max-conns", "50", "-tcp-max-conns-per-client", "5", "-tcp-idle-timeout", "3s",
		"-tcp-io-timeout", "250ms", "-tcp-max-queries", "20", "-tcp-max-conn-lifetime", "90s"}, func(string) string { return "" }, &bytes.Buffer{})
	want := server.TCPLimits{MaxConns: 50, MaxConnsPerClient: 5, IdleTimeout: 3 * time.Second, IOTimeout: 250 * time.Millisecond, MaxQueries: 20,
		MaxConnLifetime: 90 * time.Second}
	if err != nil || c.TCP != want {
		t.Errorf("got %+v (%v), want %+v", c.TCP, err, want)
	}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-tcp-max-conns", "0"}, "-tcp-max-conns"},
		{[]string{"-tcp-max-conns-per-client", "-1"}, "-tcp-max-conns-per-client"},
		{[]string{"-tcp-max-conns", "10", "-tcp-max-conns-per-client", "11"}, "-tcp-max-conns-per-client"},
		{[]string{"-tcp-idle-timeout", "0s"}, "-tcp-idle-timeout"},
		{[]string{"-tcp-io-timeout", "10ms"}, "-tcp-io-timeout"},
		{[]string{"-tcp-io-timeout", "fast"}, "-tcp-io-timeout"},
		{[]string{"-tcp-max-queries", "0"}, "-tcp-max-queries"},
		{[]string{"-tcp-max-conn-lifetime", "0s"}, "-tcp-max-conn-lifetime"},
	} {
		var stderr bytes.Buffer
		code := run(append([]string{"-dev"}, tc.args...), func(string) string { return "" }, &bytes.Buffer{}, &stderr)
		if code != 2 || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 || !strings.Contains(stderr.String(), tc.flag) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line naming %s", tc.args, code, stderr.String(), tc.flag)
		}
	}
}

// TestTCPLimitsWired runs glbd with one TCP connection allowed per client
// and checks that a second one makes the first, idle, one close, that this
// is counted on /metrics, and that the second is answered.
func TestTCPLimitsWired(t *testing.T) {
	a := startApp(t, Config{Etcd: seededEtcd(t).Endpoints(), TCP: server.TCPLimits{MaxConnsPerClient: 1}})
	first, err := net.DialTimeout("tcp", a.dnsAddr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	waitFor(t, 5*time.Second, "first connection counted", func() bool {
		return strings.Contains(scrape(t, a), "glb_dns_tcp_connections 1")
	})
	second, err := net.DialTimeout("tcp", a.dnsAddr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_ = first.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := first.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the client's idle connection was not closed for its new one: %v", err)
	}
	if m := scrape(t, a); !strings.Contains(m, `glb_dns_tcp_closed_total{reason="evicted_client"} 1`) {
		t.Errorf("eviction not counted on /metrics")
	}
	q := new(dns.Msg)
	q.SetQuestion("www."+zone, dns.TypeA)
	m, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).ExchangeWithConn(q, &dns.Conn{Conn: second})
	if err != nil || len(m.Answer) == 0 {
		t.Errorf("no answer on the new connection: %v %v", m, err)
	}
}
