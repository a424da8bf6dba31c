package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

// logBuffer is a slog handler's output that tests read while it is
// written.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// credsConfig turns etcdtest credentials into a Config.
func credsConfig(c etcdtest.Creds) Config {
	return Config{Endpoints: c.Endpoints, CACert: c.CACert, Cert: c.Cert, Key: c.Key, User: c.User, Password: c.Password}
}

// secureClient is a client of NewClient with cfg, closed when the test ends.
func secureClient(t *testing.T, cfg Config, log *slog.Logger) *clientv3.Client {
	t.Helper()
	c, err := NewClient(cfg, log)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// startSecure starts a secure etcd seeded with testSeed (as root).
func startSecure(t *testing.T, opts etcdtest.SecureOptions) *etcdtest.Server {
	t.Helper()
	s := etcdtest.StartSecure(t, opts)
	if ok, err := Seed(t.Context(), s.Client(t), testPrefix, testSeed); err != nil || !ok {
		t.Fatalf("Seed = %v, %v", ok, err)
	}
	return s
}

// TestSecureReaderFollows: a reader's credential lists and watches the
// prefix over TLS, under either kind of auth.
func TestSecureReaderFollows(t *testing.T) {
	for _, m := range etcdtest.AuthModes {
		t.Run(m.Name, func(t *testing.T) {
			s := startSecure(t, m.Opts)
			s.AddUser(t, "glb-reader", etcdtest.Read(testPrefix))
			c := secureClient(t, credsConfig(s.Creds(t, "glb-reader")), slog.New(slog.DiscardHandler))
			w := newWatcher(t, c, nil)
			w.rec.waitFor(t, 10*time.Second, "eu-west at 50", func(st *schema.State) bool { return regionWeight(st, "eu-west") == 50 })
			s.Put(t, testPrefix+"regions/eu-west/weight", "7")
			w.rec.waitFor(t, 10*time.Second, "eu-west at 7", func(st *schema.State) bool { return regionWeight(st, "eu-west") == 7 })
			if n := testutil.ToFloat64(w.m.denied.WithLabelValues(OpList)); n != 0 {
				t.Errorf("denied lists %v, want 0", n)
			}
		})
	}
}

// TestDeniedWarnsAndCounts: etcd's refusals are logged at Warn with the
// operation and key or prefix, counted, and do not stop anything.
func TestDeniedWarnsAndCounts(t *testing.T) {
	s := startSecure(t, etcdtest.SecureOptions{})
	s.AddUser(t, "stranger", etcdtest.Read("/elsewhere/"))
	var logs logBuffer
	c := secureClient(t, credsConfig(s.Creds(t, "stranger")), logs.logger())

	// The watcher: a list refused, retried.
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	w := NewWatcher(c, testPrefix, logs.logger(), m, func(*schema.State) { t.Error("a state was handed on") })
	w.backoff = newBackoff(10*time.Millisecond, 50*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- w.Run(t.Context()) }()
	defer func() { w.Close(); <-done }()
	eventually(t, 10*time.Second, "two denied lists", func() bool { return testutil.ToFloat64(m.denied.WithLabelValues(OpList)) >= 2 })
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "operation=list prefix=/glb/") {
		t.Errorf("no WARN line with operation=list prefix=/glb/ in:\n%s", l)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	// The publisher: its writes refused, said, counted and retried.
	pm := NewPublisherMetrics(reg)
	pub := NewPublisher(c, PublisherConfig{Prefix: testPrefix, ProberID: "stranger", Info: testInfo, LeaseTTL: 2 * time.Second},
		logs.logger(), pm)
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.Run(t.Context()) }()
	defer func() { pub.Close(); <-pubDone }()
	eventually(t, 10*time.Second, "a denied write", func() bool { return testutil.ToFloat64(pm.denied.WithLabelValues(OpWrite)) >= 1 })
	if l := logs.String(); !strings.Contains(l, "operation=write key="+schema.ProberKey(testPrefix, "stranger")) {
		t.Errorf("no WARN line with operation=write key=%s in:\n%s", schema.ProberKey(testPrefix, "stranger"), l)
	}
	if m.denied != pm.denied {
		t.Error("the watcher's and the publisher's glb_etcd_denied_total are not one counter")
	}

	// glbctl's writes: refused, named, and nothing written.
	a := NewAdmin(c, testPrefix)
	_, err := a.SetWeight(t.Context(), "eu-west", 1, -1)
	var de *DeniedError
	if !errors.As(err, &de) || de.Operation != OpWrite || de.Key != testPrefix+"regions/eu-west/weight" {
		t.Errorf("SetWeight as a stranger: %v, want a DeniedError of write of the weight key", err)
	}
	if got := s.Get(t, testPrefix+"regions/eu-west/weight"); got != "50" {
		t.Errorf("weight after the refused write %q, want 50", got)
	}
	if _, err := a.ReadConfig(t.Context()); !errors.As(err, &de) || de.Operation != OpRead {
		t.Errorf("ReadConfig as a stranger: %v, want a DeniedError of read", err)
	}
}

// TestTLSErrors: etcd's certificate not signed by the CA given, and a
// client certificate that expired on disk, each give one error naming the
// endpoint and the cause; -etcd-insecure-skip-verify is what it says.
func TestTLSErrors(t *testing.T) {
	s := startSecure(t, etcdtest.SecureOptions{})
	endpoint := strings.TrimPrefix(s.Endpoints()[0], "https://")
	get := func(c *clientv3.Client) error {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		_, err := c.Get(ctx, "k")
		return err
	}
	t.Run("wrong CA", func(t *testing.T) {
		cfg := credsConfig(s.Creds(t, "root"))
		cfg.CACert = etcdtest.NewCA(t).CertFile
		err := get(secureClient(t, cfg, slog.New(slog.DiscardHandler)))
		if err == nil || !strings.Contains(err.Error(), "etcd endpoint "+endpoint) || !strings.Contains(err.Error(), "unknown authority") {
			t.Errorf("Get with the wrong CA: %v, want an error naming endpoint %s and the unknown authority", err, endpoint)
		}
		cfg.InsecureSkipVerify = true
		if err := get(secureClient(t, cfg, slog.New(slog.DiscardHandler))); err != nil {
			t.Errorf("Get with the wrong CA and InsecureSkipVerify: %v", err)
		}
	})
	t.Run("certificate expired on disk", func(t *testing.T) {
		creds := s.Creds(t, "root")
		c := secureClient(t, credsConfig(creds), slog.New(slog.DiscardHandler))
		if err := get(c); err != nil {
			t.Fatal(err)
		}
		s.CA().WriteCert(t, creds.Cert, creds.Key, "root", time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
		s.DropConnections()
		err := get(c)
		if err == nil || !strings.Contains(err.Error(), "etcd endpoint "+endpoint) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("Get with an expired certificate: %v, want an error naming endpoint %s and saying expired", err, endpoint)
		}
	})
}

// TestClientCertValidity: a client certificate out of its validity is
// refused by NewClient before any connection, saying why.
func TestClientCertValidity(t *testing.T) {
	ca := etcdtest.NewCA(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name      string
		from, to  time.Time
		wantInErr string
	}{
		{"expired", time.Now().Add(-2 * time.Hour), time.Now().Add(-time.Hour), "expired"},
		{"not yet valid", time.Now().Add(time.Hour), time.Now().Add(2 * time.Hour), "not yet valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, key := dir+"/"+tc.name+".pem", dir+"/"+tc.name+"-key.pem"
			ca.WriteCert(t, cert, key, "glb-reader", tc.from, tc.to)
			_, err := NewClient(Config{Endpoints: []string{"https://127.0.0.1:1"}, CACert: ca.CertFile, Cert: cert, Key: key},
				slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.wantInErr) || !strings.Contains(err.Error(), cert) {
				t.Errorf("NewClient: %v, want an error saying %q and naming %s", err, tc.wantInErr, cert)
			}
		})
	}
}

// TestCertRotation: a certificate replaced on disk is used by the next
// connection, without a new client; the watch keeps following.
func TestCertRotation(t *testing.T) {
	s := startSecure(t, etcdtest.SecureOptions{})
	s.AddUser(t, "reader-old", etcdtest.Read(testPrefix))
	s.AddUser(t, "reader-new", etcdtest.Read(testPrefix))
	creds := s.Creds(t, "reader-old")
	c := secureClient(t, credsConfig(creds), slog.New(slog.DiscardHandler))
	w := newWatcher(t, c, nil)
	w.rec.waitFor(t, 10*time.Second, "the first state", func(*schema.State) bool { return true })

	// The rotation: a certificate of another user, whose permissions only
	// a connection made with the new files has, replaces the old one.
	rotated := time.Now()
	s.CA().WriteCert(t, creds.Cert, creds.Key, "reader-new", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	root := s.Client(t)
	if _, err := root.UserRevokeRole(t.Context(), "reader-old", "reader-old"); err != nil {
		t.Fatal(err)
	}
	s.DropConnections()
	eventually(t, 10*time.Second, "a read with the new certificate", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := c.Get(ctx, testPrefix+"regions/eu-west")
		return err == nil
	})
	t.Logf("reads answered with the new certificate %s after the rotation", time.Since(rotated).Round(time.Millisecond))
	s.Put(t, testPrefix+"regions/eu-west/weight", "9")
	w.rec.waitFor(t, 10*time.Second, "eu-west at 9", func(st *schema.State) bool { return regionWeight(st, "eu-west") == 9 })
}

// TestTokenExpiry: with password auth and a token that expires after a
// second unused, the watch follows every change with no restart, and reads
// go on with a new token, also across a reconnection.
func TestTokenExpiry(t *testing.T) {
	s := startSecure(t, etcdtest.SecureOptions{Passwords: true, AuthTokenTTL: time.Second})
	s.AddUser(t, "glb-reader", etcdtest.Read(testPrefix))
	c := secureClient(t, credsConfig(s.Creds(t, "glb-reader")), slog.New(slog.DiscardHandler))
	w := newWatcher(t, c, nil)
	w.rec.waitFor(t, 10*time.Second, "the first state", func(*schema.State) bool { return true })
	root := s.Client(t)
	for i, step := range []func(){
		func() {},
		s.DropConnections, // the watch resumes on a new stream, with a new token
	} {
		time.Sleep(2500 * time.Millisecond) // the token expires unused
		step()
		want := 10 + i
		// The root client's connection may be the one just dropped.
		eventually(t, 5*time.Second, "the put", func() bool {
			_, err := root.Put(t.Context(), testPrefix+"regions/eu-west/weight", strconv.Itoa(want))
			return err == nil
		})
		w.rec.waitFor(t, 10*time.Second, "the new weight", func(st *schema.State) bool { return regionWeight(st, "eu-west") == want })
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		if _, err := c.Get(ctx, testPrefix+"regions/eu-west"); err != nil {
			t.Errorf("step %d: Get after the token expired: %v", i, err)
		}
		cancel()
	}
	if n := testutil.ToFloat64(w.m.watchRestarts); n != 0 {
		t.Errorf("watch restarted %v times across token expiries, want 0", n)
	}
}
