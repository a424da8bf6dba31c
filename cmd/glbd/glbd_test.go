package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/etcdtest"
)

const (
	zone     = "gslb.example.test."
	testDB   = "../../testdata/geoip/glb-test-city.mmdb"
	testSeed = "../../testdata/dev/config.json"
)

// startApp runs glbd against etcd on free loopback ports and waits until it
// serves the first snapshot.
func startApp(t *testing.T, cfg Config) *app {
	t.Helper()
	if cfg.DNSAddr == "" {
		cfg.DNSAddr = "127.0.0.1:0"
	}
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.GeoIP = testDB
	if cfg.Prefix == "" {
		cfg.Prefix = "/glb/"
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("glbd Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("glbd did not stop within 15s")
		}
	})
	waitFor(t, 10*time.Second, "first snapshot", func() bool {
		select {
		case <-a.dns.Ready():
			return a.handler.Ready()
		default:
			return false
		}
	})
	return a
}

// startSeeded starts etcd seeded with the dev configuration and glbd on it.
func startSeeded(t *testing.T) (*etcdtest.Server, *app) {
	t.Helper()
	srv := etcdtest.Start(t)
	kvs, err := store.LoadSeedFile(testSeed)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ok, err := store.Seed(ctx, srv.Client(t), "/glb/", kvs); err != nil || !ok {
		t.Fatalf("seed: wrote=%v err=%v", ok, err)
	}
	return srv, startApp(t, Config{Etcd: srv.Endpoints()})
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// ask queries glbd over the given transport; ecs is "addr/len" or "".
func ask(t *testing.T, network, addr, name string, qtype uint16, ecs string) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	if ecs != "" {
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, ecsOpt(ecs))
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	m, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", network, name, err)
	}
	return m
}

func ecsOpt(s string) *dns.EDNS0_SUBNET {
	addr, bits, _ := strings.Cut(s, "/")
	e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1}
	ip := net.ParseIP(addr)
	if ip.To4() != nil {
		e.Address = ip.To4()
	} else {
		e.Family, e.Address = 2, ip
	}
	for _, c := range bits {
		e.SourceNetmask = e.SourceNetmask*10 + uint8(c-'0')
	}
	return e
}

// addrs returns the A/AAAA data of a reply, sorted.
func addrs(m *dns.Msg) string {
	var out []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func scope(m *dns.Msg) int {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return int(s.SourceScope)
			}
		}
	}
	return -1
}

// freePortSeed copies the dev seed with each backend moved to a free
// loopback port, and returns its path and the region -> address map.
func freePortSeed(t *testing.T) (string, map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(testSeed)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	backends := map[string]string{}
	for i, region := range []string{"us-east", "us-west", "eu-west", "eu-central", "ap-northeast", "ap-southeast", "sa-east"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		old := fmt.Sprintf("127.0.0.1:%d", 18001+i)
		if !strings.Contains(text, old) {
			t.Fatalf("seed has no backend %s for %s", old, region)
		}
		text = strings.ReplaceAll(text, old, addr)
		backends[region] = addr
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, backends
}

func post(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}
