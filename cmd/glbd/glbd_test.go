package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
// serves the first snapshot. It is stopped when the test ends.
func startApp(t *testing.T, cfg Config) *app {
	t.Helper()
	r := launch(t, cfg)
	t.Cleanup(func() { r.stop(t) })
	waitReady(t, r.a)
	return r.a
}

// waitReady waits until glbd's listeners are up and it serves a snapshot.
func waitReady(t *testing.T, a *app) {
	t.Helper()
	waitFor(t, 10*time.Second, "first snapshot", func() bool {
		select {
		case <-a.dns.Ready():
			return a.handler.Ready()
		default:
			return false
		}
	})
}

// running is a glbd started by launch; stop is what SIGTERM does.
type running struct {
	a      *app
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// launch starts glbd on free loopback ports with the test GeoIP database
// (unless cfg names another) and returns at once, without waiting for
// anything. setup, if any, runs on the app before Run. The caller owns
// stopping it.
func launch(t *testing.T, cfg Config, setup ...func(*app)) *running {
	t.Helper()
	if cfg.DNSAddr == "" {
		cfg.DNSAddr = "127.0.0.1:0"
	}
	cfg.HTTPAddr = "127.0.0.1:0"
	if cfg.GeoIP == "" {
		cfg.GeoIP = testDB
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/glb/"
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for _, f := range setup {
		f(a)
	}
	r := &running{a: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	return r
}

// stop cancels glbd's context, as SIGTERM does, and waits (at most 15 s)
// for Run to return; Run's error fails the test. Calling it again only
// returns the first result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
			if r.err != nil {
				t.Errorf("glbd Run: %v", r.err)
			}
		case <-time.After(15 * time.Second):
			r.err = errors.New("glbd did not stop within 15s")
			t.Error(r.err)
		}
	})
	return r.err
}

// startSeeded starts etcd seeded with the dev configuration and glbd on it.
func startSeeded(t *testing.T) (*etcdtest.Server, *app) {
	t.Helper()
	srv := seededEtcd(t)
	return srv, startApp(t, Config{Etcd: srv.Endpoints()})
}

// seededEtcd starts etcd seeded with the dev configuration under /glb/.
func seededEtcd(t *testing.T) *etcdtest.Server {
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
	seedKeys(t, srv)
	return srv
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
