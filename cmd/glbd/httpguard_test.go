package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Paths of the HTTP API, each with a request that answers 200.
var (
	protectedPaths = []string{"/", "/status.json", "/explain?name=www." + zone + "&client=81.2.69.160",
		"/simulate?name=www." + zone, "/debug/pprof/", "/debug/pprof/cmdline"}
	openPaths = []string{"/metrics", "/healthz", "/readyz"}
)

// httpGet asks glbd's HTTP listener for path with the given Authorization
// header ("" for none) over a fresh connection.
func httpGet(t *testing.T, c *http.Client, base, path, auth string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHTTPToken runs glbd with -http-token-file and asks every path with
// no token, a wrong one and the right one (as Bearer and as Basic's
// password); the open paths answer without one, unless -http-open-paths
// closes them.
func TestHTTPToken(t *testing.T) {
	const token = "s3cret-token-0123456789"
	tokenFile := writeFile(t, filepath.Join(t.TempDir(), "token"), "# glbd's API token\n"+token+"\n")
	srv := seededEtcd(t)
	for _, tc := range []struct {
		name string
		open []string // nil: the default
	}{
		{name: "default open paths"},
		{name: "nothing open", open: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Etcd: srv.Endpoints(), HTTP: httpFlags{TokenFile: tokenFile, OpenPaths: tc.open}, Runtime: runtimeFlags{Pprof: true}}
			a := startApp(t, cfg)
			base := "http://" + a.httpLn.Addr().String()
			c := &http.Client{Timeout: 10 * time.Second}
			protected := protectedPaths
			if tc.open != nil {
				protected = append(protected, openPaths...)
			} else {
				for _, p := range openPaths {
					if resp := httpGet(t, c, base, p, ""); resp.StatusCode != http.StatusOK {
						t.Errorf("open path %s without a token: %s, want 200", p, resp.Status)
					}
				}
			}
			for _, p := range protected {
				for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + token + "x", "Basic " + basic("glbd", "wrong"), "Token " + token} {
					resp := httpGet(t, c, base, p, auth)
					if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("%s with %q: %s, WWW-Authenticate %q; want 401 and a Bearer challenge", p, auth, resp.Status, resp.Header.Get("WWW-Authenticate"))
					}
				}
				for _, auth := range []string{"Bearer " + token, "bearer " + token, "Basic " + basic("anyone", token)} {
					if resp := httpGet(t, c, base, p, auth); resp.StatusCode != http.StatusOK {
						t.Errorf("%s with the right token (%.6s...): %s, want 200", p, auth, resp.Status)
					}
				}
			}
			// The token appears on no page glbd serves.
			for _, p := range append(protected, openPaths...) {
				req, _ := http.NewRequest(http.MethodGet, base+p, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if bytes.Contains(body, []byte(token)) {
					t.Errorf("%s shows the token", p)
				}
			}
		})
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// TestHTTPTokenRotation replaces the token file while glbd runs: the new
// token is accepted and the old one refused within the re-read interval,
// and a token file emptied by mistake keeps the last good token.
func TestHTTPTokenRotation(t *testing.T) {
	tokenFile := writeFile(t, filepath.Join(t.TempDir(), "token"), "old-token\n")
	a := startApp(t, Config{Etcd: seededEtcd(t).Endpoints(), HTTP: httpFlags{TokenFile: tokenFile, reload: 50 * time.Millisecond}})
	base := "http://" + a.httpLn.Addr().String()
	c := &http.Client{Timeout: 5 * time.Second}
	status := func(tok string) int { return httpGet(t, c, base, "/status.json", "Bearer "+tok).StatusCode }
	if got := status("old-token"); got != http.StatusOK {
		t.Fatalf("old token before the rotation: %d", got)
	}
	// Both for a while (clients switch), then only the new one.
	writeFile(t, tokenFile, "old-token\nnew-token-longer\n")
	waitFor(t, 10*time.Second, "new token accepted beside the old", func() bool { return status("new-token-longer") == http.StatusOK })
	if got := status("old-token"); got != http.StatusOK {
		t.Errorf("old token during the overlap: %d, want 200", got)
	}
	writeFile(t, tokenFile, "new-token-longer\n")
	waitFor(t, 10*time.Second, "old token refused", func() bool { return status("old-token") == http.StatusUnauthorized })
	writeFile(t, tokenFile, "\n")
	// The file is looked at when a request needs the token.
	waitFor(t, 10*time.Second, "the empty file seen and refused", func() bool {
		return status("new-token-longer") == http.StatusOK &&
			strings.Contains(scrape(t, a), `glb_http_credential_reload_failures_total{credential="token"} 1`)
	})
	if got := status("new-token-longer"); got != http.StatusOK {
		t.Errorf("last good token after an empty file: %d, want 200", got)
	}
	if got := httpGet(t, c, base, "/status.json", "").StatusCode; got != http.StatusUnauthorized {
		t.Errorf("no token after an empty file: %d, want 401", got)
	}
}

// TestHTTPMethods checks that nothing on the HTTP listener takes a method
// that could change something: every path refuses PUT, DELETE and PATCH,
// and POST except /simulate's, which only reads its body.
func TestHTTPMethods(t *testing.T) {
	a := startApp(t, Config{Etcd: seededEtcd(t).Endpoints(), Runtime: runtimeFlags{Pprof: true}})
	base := "http://" + a.httpLn.Addr().String()
	for _, p := range append(protectedPaths, openPaths...) {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			if m == http.MethodPost && strings.HasPrefix(p, "/simulate") {
				continue
			}
			req, _ := http.NewRequest(m, base+p, strings.NewReader("x"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %s, want 405", m, p, resp.Status)
			}
		}
	}
}

// TestHTTPBadFlags checks the -http-* combinations and files glbd refuses
// to start with: status 2 and one line naming the flag.
func TestHTTPBadFlags(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir)
	empty := writeFile(t, filepath.Join(dir, "empty-token"), "\n# only a comment\n")
	spaced := writeFile(t, filepath.Join(dir, "spaced-token"), "two words\n")
	missing := filepath.Join(dir, "missing")
	good := []string{"-geoip", testDB, "-etcd", "http://127.0.0.1:1", "-dns", "127.0.0.1:0", "-http", "127.0.0.1:0", "-cache-file", ""}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"cert without key", []string{"-http-tls-cert", pki.cert}, []string{"-http-tls-cert", "-http-tls-key"}},
		{"key without cert", []string{"-http-tls-key", pki.key}, []string{"-http-tls-key", "-http-tls-cert"}},
		{"client CA without TLS", []string{"-http-client-ca", pki.ca}, []string{"-http-client-ca"}},
		{"cert file missing", []string{"-http-tls-cert", missing, "-http-tls-key", pki.key}, []string{"-http-tls-cert", "missing"}},
		{"key not the cert's", []string{"-http-tls-cert", pki.cert, "-http-tls-key", pki.clientKey}, []string{"-http-tls-cert"}},
		{"client CA not PEM", []string{"-http-tls-cert", pki.cert, "-http-tls-key", pki.key, "-http-client-ca", empty}, []string{"-http-client-ca", "empty-token"}},
		{"client CA missing", []string{"-http-tls-cert", pki.cert, "-http-tls-key", pki.key, "-http-client-ca", missing}, []string{"-http-client-ca", "missing"}},
		{"token file missing", []string{"-http-token-file", missing}, []string{"-http-token-file", "missing"}},
		{"token file empty", []string{"-http-token-file", empty}, []string{"-http-token-file", "empty-token", "no token"}},
		{"token with a space", []string{"-http-token-file", spaced}, []string{"-http-token-file", "line 1"}},
		{"open path not openable", []string{"-http-open-paths", "/metrics,/explain"}, []string{"-http-open-paths", "/explain"}},
		{"simulate bound 0", []string{"-simulate-max-concurrent", "0"}, []string{"-simulate-max-concurrent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(append(append([]string{}, good...), tc.args...), func(string) string { return "" }, io.Discard, &stderr)
			out := stderr.String()
			if code != 2 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "glbd: ") {
				t.Fatalf("exit %d, stderr %q; want 2 and one line", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("stderr %q does not name %q", out, w)
				}
			}
			if strings.Contains(out, "two words") {
				t.Errorf("stderr %q shows the token", out)
			}
		})
	}
}

// TestHTTPFlagsParse checks the -http-* flags' defaults and values.
func TestHTTPFlagsParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		open []string
		sim  int
	}{
		{nil, openablePaths, 2},
		{[]string{"-http-open-paths", "/healthz, /readyz", "-simulate-max-concurrent", "4"}, []string{"/healthz", "/readyz"}, 4},
		{[]string{"-http-open-paths", ""}, []string{}, 2},
	} {
		c, err := parseFlags(append([]string{"-dev"}, tc.args...), func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		h := c.HTTP.withDefaults()
		if fmt.Sprint(h.OpenPaths) != fmt.Sprint(tc.open) || h.SimulateMax != tc.sim || h.reload != defaultHTTPReload {
			t.Errorf("%v: open %v, simulate %d, reload %s; want %v, %d, %s", tc.args, h.OpenPaths, h.SimulateMax, h.reload, tc.open, tc.sim, defaultHTTPReload)
		}
	}
}

// tlsClient trusts pki's CA and, when cert is set, presents it.
func tlsClient(t *testing.T, pki *testPKI, cert *tls.Certificate) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: pki.pool, ServerName: "127.0.0.1"}
	if cert != nil {
		// Sent whatever CAs the server names: it must be the server that
		// refuses a certificate from the wrong CA, not the client that
		// holds it back.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	// A connection per request, so that each sees the certificate served
	// now.
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
}

// TestTokenNeverLogged rotates the token file through a good token, a bad
// file and another good token, on an injected clock, and checks that what
// glbd logs names the file and never a token.
func TestTokenNeverLogged(t *testing.T) {
	dir := t.TempDir()
	tokenFile := writeFile(t, filepath.Join(dir, "token"), "first-secret-token\n")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	g, err := newHTTPGuard(httpFlags{TokenFile: tokenFile, reload: time.Second}, log, prometheus.NewRegistry(), clock)
	if err != nil {
		t.Fatal(err)
	}
	h := g.protect(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	ask := func(tok string) int {
		r := httptest.NewRequest(http.MethodGet, "/status.json", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, step := range []struct {
		file    string // written before the step; "" leaves it
		advance time.Duration
		tok     string
		want    int
	}{
		{"", 0, "first-secret-token", http.StatusOK},
		{"second-secret-token\n", 0, "second-secret-token", http.StatusUnauthorized}, // not looked at yet
		{"", time.Second, "second-secret-token", http.StatusOK},
		{"the third secret\n", time.Second, "second-secret-token", http.StatusOK}, // refused: kept
		{"fourth-secret-token\n", 500 * time.Millisecond, "fourth-secret-token", http.StatusUnauthorized},
		{"", 500 * time.Millisecond, "fourth-secret-token", http.StatusOK},
	} {
		if step.file != "" {
			writeFile(t, tokenFile, step.file)
		}
		now = now.Add(step.advance)
		if got := ask(step.tok); got != step.want {
			t.Errorf("at +%s with %q: %d, want %d", now.Sub(time.Unix(1_700_000_000, 0)), step.tok, got, step.want)
		}
	}
	out := logs.String()
	t.Log(out)
	if !strings.Contains(out, "do not load") || !strings.Contains(out, tokenFile) {
		t.Errorf("the refused file is not logged with its name")
	}
	for _, secret := range []string{"first-secret", "second-secret", "third secret", "fourth-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows a token (%q)", secret)
		}
	}
}
