package main

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/etcdtest"
)

// secureEtcd starts etcd with TLS and auth, seeded (as root) with the dev
// configuration, and a glb-reader user that may read /glb/.
func secureEtcd(t *testing.T, opts etcdtest.SecureOptions, readers ...string) *etcdtest.Server {
	t.Helper()
	srv := etcdtest.StartSecure(t, opts)
	kvs, err := store.LoadSeedFile(testSeed)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := store.Seed(t.Context(), srv.Client(t), "/glb/", kvs); err != nil || !ok {
		t.Fatalf("seed: wrote=%v err=%v", ok, err)
	}
	seedKeys(t, srv)
	for _, r := range readers {
		srv.AddUser(t, r, etcdtest.Read("/glb/"), etcdtest.Read("/glb-keys/")) // as store.ReaderRole
	}
	return srv
}

// secureConfig parses glbd's command line with creds' flags, so that the
// test goes through the flags an operator gives.
func secureConfig(t *testing.T, creds etcdtest.Creds) Config {
	t.Helper()
	args := append(creds.Args(t), "-geoip", testDB, "-cache-file", "")
	cfg, err := parseFlags(args, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parse flags %q: %v", args, err)
	}
	return cfg
}

// London's answers: eu-west's addresses, or eu-central's with eu-west drained.
const euWest, euCentral = "198.51.100.10,198.51.100.11", euCentralIPs

// TestSecureEtcdReader: glbd with a reader's credential, over TLS with
// client-certificate or password auth, serves and follows changes.
func TestSecureEtcdReader(t *testing.T) {
	for _, mode := range etcdtest.AuthModes {
		t.Run(mode.Name, func(t *testing.T) {
			srv := secureEtcd(t, mode.Opts, "glb-reader")
			a := startApp(t, secureConfig(t, srv.Creds(t, "glb-reader")))
			if got := london(t, a); got != euWest {
				t.Fatalf("London gets %q, want %q", got, euWest)
			}
			srv.Put(t, "/glb/regions/eu-west/weight", "0")
			waitFor(t, 5*time.Second, "eu-west drained", func() bool { return london(t, a) == euCentral })
		})
	}
}

// queryLoop asks glbd for London's answer until stop is closed, counting
// the queries that got no answer or a wrong one.
func queryLoop(t *testing.T, a *app, stop chan struct{}) (answered, failed *atomic.Int64, done chan struct{}) {
	answered, failed, done = new(atomic.Int64), new(atomic.Int64), make(chan struct{})
	go func() {
		defer close(done)
		c := &dns.Client{Net: "udp", Timeout: time.Second}
		q := new(dns.Msg)
		q.SetQuestion("www."+zone, dns.TypeA)
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, ecsOpt(londonECS))
		for {
			select {
			case <-stop:
				return
			default:
			}
			m, _, err := c.Exchange(q, a.dnsAddr())
			if err != nil || m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 {
				failed.Add(1)
			} else {
				answered.Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return answered, failed, done
}

// TestSecureEtcdCertRotation: a client certificate replaced on disk is
// used by glbd's next connection to etcd, without a restart, while
// queries go on being answered and the watch keeps following.
func TestSecureEtcdCertRotation(t *testing.T) {
	srv := secureEtcd(t, etcdtest.SecureOptions{}, "reader-old", "reader-new")
	creds := srv.Creds(t, "reader-old")
	a := startApp(t, secureConfig(t, creds))
	stop := make(chan struct{})
	answered, failed, done := queryLoop(t, a, stop)

	// The new certificate is another user's, so only a connection made
	// with it can read once the old user's role is revoked.
	rotated := time.Now()
	srv.CA().WriteCert(t, creds.Cert, creds.Key, "reader-new", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	if _, err := srv.Client(t).UserRevokeRole(t.Context(), "reader-old", "reader-old"); err != nil {
		t.Fatal(err)
	}
	srv.DropConnections()
	srv.Put(t, "/glb/regions/eu-west/weight", "0")
	took := waitFor(t, 10*time.Second, "the change seen through the new certificate", func() bool { return london(t, a) == euCentral })
	close(stop)
	<-done
	t.Logf("change followed %s after the rotation (%s from the put); %d queries answered meanwhile, %d failed",
		time.Since(rotated).Round(time.Millisecond), took.Round(time.Millisecond), answered.Load(), failed.Load())
	if failed.Load() != 0 || answered.Load() == 0 {
		t.Errorf("%d queries failed, %d answered during the rotation; want none failed", failed.Load(), answered.Load())
	}
	if n := labelledValue(t, a.reg, "glb_etcd_denied_total", nil); n != 0 {
		t.Errorf("glb_etcd_denied_total %v: the old certificate was used after the rotation", n)
	}
}

// TestSecureEtcdDenied: when etcd starts refusing glbd's credential, glbd
// counts the refusals and keeps serving its last good state.
func TestSecureEtcdDenied(t *testing.T) {
	srv := secureEtcd(t, etcdtest.SecureOptions{}, "glb-reader")
	a := startApp(t, secureConfig(t, srv.Creds(t, "glb-reader")))
	if _, err := srv.Client(t).UserRevokeRole(t.Context(), "glb-reader", "glb-reader"); err != nil {
		t.Fatal(err)
	}
	srv.DropConnections() // the watch is set up again, and refused
	waitFor(t, 10*time.Second, "a denied list counted", func() bool {
		return labelledValue(t, a.reg, "glb_etcd_denied_total", map[string]string{"operation": "list"}) > 0
	})
	if got := london(t, a); got != euWest {
		t.Errorf("London gets %q after etcd denied glbd, want the last good %q", got, euWest)
	}
}
