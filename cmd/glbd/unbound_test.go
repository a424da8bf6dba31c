package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// TestTTLFirstBehindUnbound measures what TTL-first is for, with a real
// Unbound in front of glbd: the time from the weight shift until no client
// behind Unbound still gets the drained region, plain vs staged. It needs
// unbound on PATH and takes about 80 s, so it runs only with GLB_UNBOUND=1
// (make ttl-first-measure).
func TestTTLFirstBehindUnbound(t *testing.T) {
	if os.Getenv("GLB_UNBOUND") == "" {
		t.Skip("set GLB_UNBOUND=1 (and install unbound) to measure TTL-first behind Unbound")
	}
	bin, err := exec.LookPath("unbound")
	if err != nil {
		t.Fatal("unbound is not on PATH: apt-get install -y unbound")
	}
	srv, a := startSeeded(t)
	// A failover name: eu-west while it has weight, eu-central once
	// drained, whoever asks (Unbound sends no ECS here).
	cli := srv.Client(t)
	ctx := context.Background()
	if _, err := cli.Put(ctx, "/glb/zones/gslb.example.test/names/fo", `{"regions": ["eu-west", "eu-central"], "policy": "failover", "ttl": 30}`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the name fo", func() bool {
		return addrs(ask(t, "udp", a.dnsAddr(), "fo."+zone, dns.TypeA, "")) == euWest
	})

	for _, staged := range []bool{false, true} {
		resolver := startUnbound(t, bin, a.dnsAddr())
		viaUnbound := func() string { return addrs(ask(t, "udp", resolver, "fo."+zone, dns.TypeA, "")) }
		if m := ask(t, "udp", resolver, "fo."+zone, dns.TypeA, ""); addrs(m) != euWest { // fills Unbound's cache for a full TTL
			t.Fatalf("through unbound: %v, want %s", m, euWest)
		}
		var shift time.Time
		if staged {
			start := time.Now().UTC()
			st, err := store.NewAdmin(cli, "/glb/").ReadState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			hold := time.Duration(schema.LongestTTL(st, "eu-west")) * time.Second // as glbctl drain --ttl-first
			writeSchedule(t, srv, "eu-west", &schema.Schedule{Steps: []int{0}, Start: start, Before: 100, TTLFirst: true,
				Hold: schema.Duration(hold)})
			shift = start.Add(hold)
		} else {
			shift = time.Now()
			if _, err := cli.Put(ctx, "/glb/regions/eu-west/weight", "0"); err != nil {
				t.Fatal(err)
			}
		}
		for viaUnbound() != euCentral {
			if time.Since(shift) > time.Minute {
				t.Fatal("clients still get eu-west a minute after the shift")
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("staged=%v: clients behind Unbound left eu-west %s after the weight moved", staged, time.Since(shift).Round(100*time.Millisecond))
		// Back to normal for the next run.
		if _, err := cli.Delete(ctx, schema.ScheduleKey("/glb/", "eu-west")); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Put(ctx, "/glb/regions/eu-west/weight", "100"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "eu-west back", func() bool {
			return addrs(ask(t, "udp", a.dnsAddr(), "fo."+zone, dns.TypeA, "")) == euWest
		})
	}
}

// startUnbound runs unbound in the foreground on a free loopback port,
// with glbd's zone as a stub zone, until the test ends; it returns the
// resolver's address.
func startUnbound(t *testing.T, bin, glbd string) string {
	t.Helper()
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.LocalAddr().(*net.UDPAddr)
	ln.Close()
	host, port, _ := net.SplitHostPort(glbd)
	dir := t.TempDir()
	conf := fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %d
  do-daemonize: no
  username: ""
  chroot: ""
  directory: %q
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-ip6: no
  local-zone: "test." nodefault  # a special-use name (RFC 6761) unbound answers itself by default
stub-zone:
  name: "gslb.example.test"
  stub-addr: %s@%s
`, addr.Port, dir, host, port)
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", path)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	resolver := addr.String()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	waitFor(t, 10*time.Second, "unbound answering", func() bool {
		select {
		case <-exited:
			t.Fatalf("unbound exited: %s", out.String())
		default:
		}
		c := &dns.Client{Timeout: 500 * time.Millisecond}
		q := new(dns.Msg)
		q.SetQuestion(zone, dns.TypeSOA) // not fo: its answer is cached when the test asks
		_, _, err := c.Exchange(q, resolver)
		return err == nil
	})
	return resolver
}
