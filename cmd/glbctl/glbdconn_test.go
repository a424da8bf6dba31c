package main

import (
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glb-dns/glb/store/etcdtest"
)

// TestGlbdSecured runs explain and simulate against glbd's real handlers
// behind what a secured glbd asks for (cmd/glbd tests glbd's side): HTTPS
// with a certificate from a private CA, a client certificate from it, and
// a bearer token. Each flag left out must cost the answer.
func TestGlbdSecured(t *testing.T) {
	ca := etcdtest.NewCA(t)
	srvCert, srvKey := ca.ServerCert(t)
	cliCert, cliKey := ca.Issue(t, "operator")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	// glbd's file may hold several tokens for a rotation: the first is sent.
	if err := os.WriteFile(tokenFile, []byte("# rotation\n\ns3cret-new\ns3cret-old\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// glbd's real explain and simulate, behind the checks glbd makes.
	upstream, err := url.Parse("http://" + realGlbd(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte("s3cret-new")) != 1 {
			http.Error(w, "unauthorized: this path needs the token of -http-token-file", http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	pair, err := tls.LoadX509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("CA file: %v", err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	flags := map[string]string{
		"--glbd-cacert": ca.CertFile, "--glbd-cert": cliCert, "--glbd-key": cliKey, "--glbd-token-file": tokenFile,
	}
	args := func(cmd []string, leaveOut ...string) []string {
		out := append(cmd, "--glbd", srv.URL)
		for f, v := range flags {
			if !slices.Contains(leaveOut, f) {
				out = append(out, f, v)
			}
		}
		return out
	}
	explain := []string{"explain", "www", "81.2.69.160"}
	for _, tc := range []struct {
		name     string
		leaveOut []string
		wantCode int
		want     string
	}{
		{"all given", nil, 0, "chosen: eu-west"},
		{"no token", []string{"--glbd-token-file"}, 1, "401 Unauthorized: give its API token with --glbd-token-file"},
		{"no client certificate", []string{"--glbd-cert", "--glbd-key"}, 1, "certificate"},
		{"unknown CA", []string{"--glbd-cacert"}, 1, "certificate"},
		{"certificate without key", []string{"--glbd-key"}, 2, "--glbd-cert and --glbd-key go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ctl(t, nil, args(explain, tc.leaveOut...)...)
			if r.code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stdout %s stderr %s", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			if out := r.stdout + r.stderr; !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			if strings.Contains(r.stdout+r.stderr, "s3cret") {
				t.Errorf("the token was printed:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
	r := ctl(t, nil, args([]string{"simulate", "www", "--down", "eu-west"})...)
	if r.code != 0 || !strings.Contains(r.stdout, "eu-central") {
		t.Errorf("simulate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
