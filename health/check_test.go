package health

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

func TestParseResponse(t *testing.T) {
	big := append(make([]byte, MaxBodyBytes), "ok"...)
	tests := []struct {
		name    string
		status  int
		body    string
		expect  string
		bodyHas string
		wantErr string // "" for a pass
	}{
		{"default range passes 200", 200, "", "", "", ""},
		{"default range passes 399", 399, "", "", "", ""},
		{"default range fails 400", 400, "", "", "", "status 400, want 200-399"},
		{"default range fails 503", 503, "", "200-399", "", "status 503, want 200-399"},
		{"single status", 204, "", "204", "", ""},
		{"single status fails another", 200, "", "204", "", "status 200, want 204"},
		{"a redirect is judged, not followed", 301, "", "200", "", "status 301, want 200"},
		{"bad range is an error", 200, "", "2xx", "", `expect_status "2xx"`},
		{"body has the text", 200, "status: ok\n", "", "ok", ""},
		{"body lacks the text", 200, "status: degraded", "", "ok", `body does not contain "ok"`},
		{"status is judged before the body", 500, "ok", "", "ok", "status 500"},
		{"text past the cap is not seen", 200, string(big), "", "ok", `body does not contain "ok"`},
		{"empty body, text wanted", 200, "", "", "ok", `body does not contain "ok"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ParseResponse(tc.status, []byte(tc.body), schema.Check{ExpectStatus: tc.expect, ExpectBody: tc.bodyHas})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want a pass", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// backend is a test server whose answers the test switches.
type backend struct {
	*httptest.Server
	status     atomic.Int32
	delay      atomic.Int64 // nanoseconds before the headers
	body       atomic.Pointer[string]
	redirected atomic.Int32 // requests that followed a redirect
	conns      atomic.Int32 // connections accepted

	mu        sync.Mutex
	host, sni string // of the last request
}

func newBackend(t *testing.T, useTLS bool) *backend {
	t.Helper()
	b := &backend{}
	b.status.Store(200)
	body := "ok"
	b.body.Store(&body)
	mux := http.NewServeMux()
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { b.redirected.Add(1) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.host = r.Host
		if r.TLS != nil {
			b.sni = r.TLS.ServerName
		}
		b.mu.Unlock()
		select {
		case <-time.After(time.Duration(b.delay.Load())):
		case <-r.Context().Done():
			return
		}
		st := int(b.status.Load())
		if st >= 300 && st < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(st)
		io.WriteString(w, *b.body.Load())
	})
	b.Server = httptest.NewUnstartedServer(mux)
	// Rejected handshakes are the point of some tests, not news.
	b.Config.ErrorLog = log.New(io.Discard, "", 0)
	b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	if useTLS {
		b.StartTLS()
	} else {
		b.Start()
	}
	t.Cleanup(b.Close)
	return b
}

func (b *backend) seen() (host, sni string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.host, b.sni
}

// target checks the backend as endpoint 127.0.0.1 at its port.
func (b *backend) target(c schema.Check) Target {
	ap := netip.MustParseAddrPort(b.Listener.Addr().String())
	if c.Port == 0 && c.Connect == "" {
		c.Port = int(ap.Port())
	}
	if c.Timeout == 0 {
		c.Timeout = schema.Duration(2 * time.Second)
	}
	return Target{Region: "eu", Endpoint: ap.Addr(), Check: c.WithDefaults()}
}

func TestCheckHTTP(t *testing.T) {
	b := newBackend(t, false)
	chk := NewChecker(CheckerConfig{})
	tests := []struct {
		name    string
		status  int
		body    string
		check   schema.Check
		wantErr string
	}{
		{"200 passes", 200, "ok", schema.Check{Type: "http"}, ""},
		{"503 fails", 503, "ok", schema.Check{Type: "http"}, "status 503, want 200-399"},
		{"body text found", 200, "all ok", schema.Check{Type: "http", ExpectBody: "ok"}, ""},
		{"body text missing", 200, "degraded", schema.Check{Type: "http", ExpectBody: "ok"}, `body does not contain "ok"`},
		{"301 passes 200-399 unfollowed", 301, "", schema.Check{Type: "http"}, ""},
		{"301 fails 200 unfollowed", 301, "", schema.Check{Type: "http", ExpectStatus: "200"}, "status 301, want 200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b.status.Store(int32(tc.status))
			b.body.Store(&tc.body)
			res := chk.Check(t.Context(), b.target(tc.check))
			assertResult(t, res, tc.wantErr)
		})
	}
	if n := b.redirected.Load(); n != 0 {
		t.Errorf("%d redirects followed", n)
	}
}

// assertResult checks a Result against a wanted error substring ("" for a
// pass) and its consistency.
func assertResult(t *testing.T, res Result, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && (!res.OK || res.Err != nil):
		t.Errorf("got %+v, want a pass", res)
	case wantErr == "" && res.RTT <= 0:
		t.Errorf("RTT %s on a pass", res.RTT)
	case wantErr != "" && (res.OK || res.Err == nil || !strings.Contains(res.Err.Error(), wantErr)):
		t.Errorf("got %+v, want a failure with %q", res, wantErr)
	}
}

func TestCheckHTTPHostAndConnect(t *testing.T) {
	b := newBackend(t, false)
	chk := NewChecker(CheckerConfig{})
	bport := strconv.Itoa(port(b.Listener.Addr()))
	tests := []struct {
		name     string
		target   Target
		wantHost string
	}{
		{"host header defaults to the endpoint", b.target(schema.Check{Type: "http"}), "127.0.0.1:" + bport},
		{"host header from the check", b.target(schema.Check{Type: "http", Host: "www.example.test"}), "www.example.test"},
		{
			// 192.0.2.1 is never dialled: Connect sends the check to the backend.
			"connect overrides the address, host names the endpoint",
			Target{Region: "eu", Endpoint: netip.MustParseAddr("192.0.2.1"),
				Check: schema.Check{Type: "http", Connect: b.Listener.Addr().String(), Timeout: schema.Duration(2 * time.Second)}.WithDefaults()},
			"192.0.2.1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertResult(t, chk.Check(t.Context(), tc.target), "")
			if host, _ := b.seen(); host != tc.wantHost {
				t.Errorf("Host %q, want %q", host, tc.wantHost)
			}
		})
	}
}

func TestCheckHTTPTiming(t *testing.T) {
	b := newBackend(t, false)
	chk := NewChecker(CheckerConfig{})

	t.Run("rtt includes the backend's delay", func(t *testing.T) {
		b.delay.Store(int64(50 * time.Millisecond))
		res := chk.Check(t.Context(), b.target(schema.Check{Type: "http"}))
		assertResult(t, res, "")
		if res.RTT < 50*time.Millisecond {
			t.Errorf("RTT %s, want at least the 50ms delay", res.RTT)
		}
	})
	t.Run("timeout is honoured", func(t *testing.T) {
		b.delay.Store(int64(10 * time.Second))
		start := time.Now()
		res := chk.Check(t.Context(), b.target(schema.Check{Type: "http", Timeout: schema.Duration(100 * time.Millisecond)}))
		took := time.Since(start)
		assertResult(t, res, "no response within 100ms")
		if !errors.Is(res.Err, context.DeadlineExceeded) {
			t.Errorf("error %v is not a deadline", res.Err)
		}
		if took > time.Second {
			t.Errorf("check took %s with a 100ms timeout", took)
		}
	})
	t.Run("parent context ends the check", func(t *testing.T) {
		b.delay.Store(int64(10 * time.Second))
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		res := chk.Check(ctx, b.target(schema.Check{Type: "http"}))
		if res.OK || time.Since(start) > time.Second {
			t.Errorf("got %+v after %s", res, time.Since(start))
		}
	})
	t.Run("every check dials afresh", func(t *testing.T) {
		b.delay.Store(0)
		before := b.conns.Load()
		for range 3 {
			assertResult(t, chk.Check(t.Context(), b.target(schema.Check{Type: "http"})), "")
		}
		if n := b.conns.Load() - before; n != 3 {
			t.Errorf("%d connections for 3 checks, want 3", n)
		}
	})
}

func TestCheckHTTPS(t *testing.T) {
	b := newBackend(t, true)
	trusted := x509.NewCertPool()
	trusted.AddCert(b.Certificate())
	tests := []struct {
		name    string
		roots   *x509.CertPool
		check   schema.Check
		wantErr string
		wantSNI string
	}{
		{"self-signed fails verification", nil, schema.Check{Type: "https"}, "x509: certificate signed by unknown authority", ""},
		{"insecure skips verification", nil, schema.Check{Type: "https", Insecure: true}, "", ""},
		{"trusted root passes, no SNI for an address", trusted, schema.Check{Type: "https"}, "", ""},
		{"host is the SNI and the name verified", trusted, schema.Check{Type: "https", Host: "example.com"}, "", "example.com"},
		{"host with a port", trusted, schema.Check{Type: "https", Host: "example.com:8443"}, "", "example.com"},
		{"wrong host fails verification", trusted, schema.Check{Type: "https", Host: "www.example.test"}, "not www.example.test", ""},
		{"insecure with a host still sends SNI", nil, schema.Check{Type: "https", Host: "sni.example.test", Insecure: true}, "", "sni.example.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := NewChecker(CheckerConfig{RootCAs: tc.roots}).Check(t.Context(), b.target(tc.check))
			assertResult(t, res, tc.wantErr)
			if tc.wantErr != "" {
				if !strings.HasPrefix(res.Err.Error(), "tls handshake with 127.0.0.1:") {
					t.Errorf("error %q lacks its context", res.Err)
				}
				return
			}
			if _, sni := b.seen(); sni != tc.wantSNI {
				t.Errorf("SNI %q, want %q", sni, tc.wantSNI)
			}
		})
	}
}

func TestCheckTransportsShared(t *testing.T) {
	b := newBackend(t, true)
	c := NewChecker(CheckerConfig{}).(*checker)
	for _, ck := range []schema.Check{
		{Type: "https", Insecure: true}, {Type: "https", Insecure: true},
		{Type: "https", Insecure: true, Host: "a.example"}, {Type: "https", Insecure: true, Host: "a.example:443"},
	} {
		c.Check(t.Context(), b.target(ck))
	}
	if n := len(c.transports); n != 2 {
		t.Errorf("%d transports, want 2 (one per insecure, server name)", n)
	}
}

func TestCheckTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed := closedPort(t)
	chk := NewChecker(CheckerConfig{})
	tests := []struct {
		name    string
		check   schema.Check
		wantErr string
	}{
		{"listening port passes", schema.Check{Type: "tcp", Port: port(ln.Addr())}, ""},
		{"connect address passes", schema.Check{Type: "tcp", Port: 9, Connect: ln.Addr().String()}, ""},
		{"closed port fails", schema.Check{Type: "tcp", Port: closed}, "connect 127.0.0.1:" + strconv.Itoa(closed) + ": connection refused"},
		{"unknown type fails", schema.Check{Type: "icmp"}, `check type "icmp"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check.Timeout = schema.Duration(time.Second)
			res := chk.Check(t.Context(), Target{Region: "eu", Endpoint: netip.MustParseAddr("127.0.0.1"), Check: tc.check})
			assertResult(t, res, tc.wantErr)
		})
	}
}

func TestCheckHTTPConnectRefused(t *testing.T) {
	closed := closedPort(t)
	res := NewChecker(CheckerConfig{}).Check(t.Context(), Target{
		Region: "eu", Endpoint: netip.MustParseAddr("127.0.0.1"),
		Check: schema.Check{Type: "http", Port: closed, Timeout: schema.Duration(time.Second)}.WithDefaults(),
	})
	want := "connect 127.0.0.1:" + strconv.Itoa(closed) + ": connection refused"
	if res.OK || res.Err == nil || res.Err.Error() != want {
		t.Fatalf("got %+v, want error %q", res, want)
	}
	if !errors.Is(res.Err, syscall.ECONNREFUSED) {
		t.Errorf("error %v lost its cause", res.Err)
	}
}

// closedPort returns a loopback port that was just free: connects to it
// are refused.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := port(ln.Addr())
	ln.Close()
	return p
}

func port(a net.Addr) int { return a.(*net.TCPAddr).Port }

// FuzzParseResponse judges arbitrary status codes and bodies against
// arbitrary expectations (seeds in testdata/fuzz): it must never panic, and
// what it passes must be inside the range and hold the text.
func FuzzParseResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, status int, body []byte, expect, substr string) {
		err := ParseResponse(status, body, schema.Check{Type: "http", ExpectStatus: expect, ExpectBody: substr})
		if err != nil {
			return
		}
		if expect == "" {
			expect = "200-399"
		}
		lo, hi, perr := schema.ParseStatusRange(expect)
		if perr != nil || status < lo || status > hi {
			t.Fatalf("passed status %d against %q (%d-%d, %v)", status, expect, lo, hi, perr)
		}
		if !bytes.Contains(body[:min(len(body), MaxBodyBytes)], []byte(substr)) {
			t.Fatalf("passed a body without %q", substr)
		}
	})
}
