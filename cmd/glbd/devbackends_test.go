package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

// devRequest makes one request to a dev backend and returns the status and
// body.
func devRequest(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestDevBackends walks two backends through fail and recover: each step
// is a request and what it must answer, and the regions are independent.
func TestDevBackends(t *testing.T) {
	d, err := startDevBackends(map[string]string{"eu-west": "127.0.0.1:0", "us-east": "127.0.0.1:0"}, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	steps := []struct {
		name       string
		method     string
		region     string
		path       string
		wantStatus int
		wantBody   string // substring
	}{
		{"healthy at start", "GET", "eu-west", "/healthz", 200, "ok\n"},
		{"index names the backend", "GET", "eu-west", "/", 200, "region eu-west: healthy"},
		{"fail", "POST", "eu-west", "/fail", 200, "region eu-west: failing"},
		{"failing", "GET", "eu-west", "/healthz", 503, "failing\n"},
		{"fail again is harmless", "POST", "eu-west", "/fail", 200, "failing"},
		{"other region unaffected", "GET", "us-east", "/healthz", 200, "ok\n"},
		{"index shows the state", "GET", "eu-west", "/", 200, "region eu-west: failing"},
		{"GET does not change state", "GET", "eu-west", "/recover", 405, "curl -X POST"},
		{"still failing", "GET", "eu-west", "/healthz", 503, "failing\n"},
		{"recover", "POST", "eu-west", "/recover", 200, "region eu-west: healthy"},
		{"healthy again", "GET", "eu-west", "/healthz", 200, "ok\n"},
		{"set a load", "POST", "eu-west", "/load?value=0.9", 200, "region eu-west: healthy, load 0.9"},
		{"index shows the load", "GET", "eu-west", "/", 200, "load 0.9"},
		{"GET does not set a load", "GET", "eu-west", "/load?value=0.1", 405, "curl -X POST"},
		{"a load out of range is refused", "POST", "eu-west", "/load?value=11", 400, "outside 0..10"},
		{"the load stays", "GET", "eu-west", "/", 200, "load 0.9"},
		{"other region's load unaffected", "GET", "us-east", "/", 200, "load 0"},
		{"unknown path", "GET", "eu-west", "/nope", 404, ""},
	}
	for _, s := range steps {
		status, body := devRequest(t, s.method, "http://"+d.Addr(s.region)+s.path)
		if status != s.wantStatus || !strings.Contains(body, s.wantBody) {
			t.Errorf("%s: %s %s on %s = %d %q; want %d with %q", s.name, s.method, s.path, s.region, status, body, s.wantStatus, s.wantBody)
		}
	}
	if a := d.Addr("nowhere"); a != "" {
		t.Errorf("Addr of an unknown region = %q; want \"\"", a)
	}
}

// TestDevBackendsCloseReleasesPorts binds the ports again after Close.
func TestDevBackendsCloseReleasesPorts(t *testing.T) {
	d, err := startDevBackends(map[string]string{"a": "127.0.0.1:0", "b": "127.0.0.1:0"}, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// An open keep-alive connection must not hold Close up.
	devRequest(t, "GET", "http://"+d.Addr("a")+"/healthz")
	addrs := []string{d.Addr("a"), d.Addr("b")}
	if err := d.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("port %s not released: %v", a, err)
			continue
		}
		ln.Close()
	}
}

// TestDevBackendsPortTaken checks that a taken port fails the start with
// the region and address, and releases the ports already bound.
func TestDevBackendsPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	// "a" sorts first, so it is bound before "b" fails.
	_, err = startDevBackends(map[string]string{"a": freeAddr, "b": taken.Addr().String()}, false, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "region b") || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("start with a taken port = %v; want an error naming region b and its address", err)
	}
	ln, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("port of region a not released after the failed start: %v", err)
	}
	ln.Close()
}
