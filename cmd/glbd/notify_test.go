package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestNotifyReadyOnlyWhenConfigured starts glbd as systemd would for a
// Type=notify unit, with etcd down and no cache: DNS stays unbound and
// systemd hears nothing, so a rolling restart would not stop the old
// instance yet. Once etcd is up, glbd binds, sends READY=1, and its first
// answer is a real one, not SERVFAIL; the shutdown sends STOPPING=1.
func TestNotifyReadyOnlyWhenConfigured(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	systemd, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer systemd.Close()
	next := func(limit time.Duration) string {
		_ = systemd.SetReadDeadline(time.Now().Add(limit))
		b := make([]byte, 512)
		n, err := systemd.Read(b)
		if err != nil {
			return ""
		}
		return string(b[:n])
	}

	srv := seededEtcd(t)
	srv.Stop(t)
	r := launch(t, Config{Etcd: srv.Endpoints(), NotifySocket: sock})
	t.Cleanup(func() { r.stop(t) })
	if msg := next(500 * time.Millisecond); msg != "" {
		t.Errorf("before any configuration systemd got %q, want nothing", msg)
	}
	select {
	case <-r.a.dns.Ready():
		t.Error("DNS bound before any configuration: a shared port would get SERVFAIL from this instance")
	default:
	}

	srv.Restart(t)
	msg := next(15 * time.Second)
	if !strings.HasPrefix(msg, "READY=1\n") {
		t.Fatalf("after etcd came up systemd got %q, want READY=1", msg)
	}
	select {
	case <-r.a.dns.Ready():
	default:
		t.Fatal("READY=1 sent before DNS was bound")
	}
	if m := ask(t, "udp", r.a.dnsAddr(), "www."+zone, dns.TypeA, londonECS); m.Rcode != dns.RcodeSuccess || addrs(m) != londonEU {
		t.Errorf("first answer after READY=1: %s %q, want NOERROR %q", dns.RcodeToString[m.Rcode], addrs(m), londonEU)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if msg := next(time.Second); msg != "STOPPING=1" {
		t.Errorf("at shutdown systemd got %q, want STOPPING=1", msg)
	}
}

// TestSdNotifyAbstractSocket checks the '@' form of $NOTIFY_SOCKET, which
// names a socket in the abstract namespace, and that no socket means no
// message and no error.
func TestSdNotifyAbstractSocket(t *testing.T) {
	name := "@glb-test-notify-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000000000")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	if err := sdNotify(t.Context(), name, "READY=1"); err != nil {
		t.Fatal(err)
	}
	_ = l.SetReadDeadline(time.Now().Add(time.Second))
	b := make([]byte, 64)
	n, err := l.Read(b)
	if err != nil || string(b[:n]) != "READY=1" {
		t.Errorf("got %q, %v; want READY=1", b[:n], err)
	}
	if err := sdNotify(t.Context(), "", "READY=1"); err != nil {
		t.Errorf("no $NOTIFY_SOCKET: %v, want nil", err)
	}
}
