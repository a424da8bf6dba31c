package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// simulateRetryAfter is the Retry-After of a /simulate refused for being
// one too many: about what one run over a full GeoIP database takes.
const simulateRetryAfter = 2 * time.Second

// httpGuard is what stands between the -http listener and the handlers:
// TLS (with client certificates for mTLS), the bearer token, and the bound
// on concurrent /simulate runs. Every part is optional but the bound.
type httpGuard struct {
	tls    *reloading[*tls.Config] // nil: plain HTTP
	tokens *reloading[tokenSums]   // nil: no token asked
	open   []string                // paths served without the token

	simulate         chan struct{} // one slot per run allowed at once
	simulateRunning  prometheus.Gauge
	simulateRejected prometheus.Counter
	unauthorized     prometheus.Counter
}

// newHTTPGuard loads the TLS and token files; an error names the flag and
// the file, and is a bad command line (exit status 2).
func newHTTPGuard(f httpFlags, log *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*httpGuard, error) {
	f = f.withDefaults()
	auto := promauto.With(reg)
	failed := auto.NewCounterVec(prometheus.CounterOpts{Namespace: "glb", Subsystem: "http", Name: "credential_reload_failures_total",
		Help: "TLS (tls) or token (token) files that changed on disk and did not load; the last good ones stay in force."}, []string{"credential"})
	g := &httpGuard{
		open:     f.OpenPaths,
		simulate: make(chan struct{}, f.SimulateMax),
		simulateRunning: auto.NewGauge(prometheus.GaugeOpts{Namespace: "glb", Subsystem: "http", Name: "simulate_running",
			Help: "/simulate runs in progress (at most -simulate-max-concurrent)."}),
		simulateRejected: auto.NewCounter(prometheus.CounterOpts{Namespace: "glb", Subsystem: "http", Name: "simulate_rejected_total",
			Help: "/simulate requests answered 429 because -simulate-max-concurrent runs were in progress."}),
		unauthorized: auto.NewCounter(prometheus.CounterOpts{Namespace: "glb", Subsystem: "http", Name: "unauthorized_total",
			Help: "HTTP requests answered 401: no token, or a wrong one, with -http-token-file."}),
	}
	log = log.With("component", "http")
	var err error
	if f.TLSCert != "" {
		paths := []string{f.TLSCert, f.TLSKey}
		if f.ClientCA != "" {
			paths = append(paths, f.ClientCA)
		}
		load := func() (*tls.Config, error) { return loadServerTLS(f) }
		if g.tls, err = newReloading("tls", paths, load, f.reload, now, log, failed.WithLabelValues("tls")); err != nil {
			return nil, badFileError{err}
		}
	}
	if f.TokenFile != "" {
		load := func() (tokenSums, error) { return loadTokens(f.TokenFile) }
		if g.tokens, err = newReloading("token", []string{f.TokenFile}, load, f.reload, now, log, failed.WithLabelValues("token")); err != nil {
			return nil, badFileError{err}
		}
		if fi, err := os.Stat(f.TokenFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the token file can be read by other users than glbd's; chmod 600 it, or pass it with systemd's LoadCredential=",
				"file", f.TokenFile, "mode", fi.Mode().Perm().String())
		}
	}
	return g, nil
}

// warnExposed says so when the listener is off loopback with nothing
// guarding it, or sends the token in clear text.
func (g *httpGuard) warnExposed(log *slog.Logger, addr net.Addr) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || ta.IP.IsLoopback() {
		return
	}
	switch {
	case g.tls == nil && g.tokens == nil:
		log.Warn("the HTTP listener is reachable beyond loopback with neither TLS nor a token: anyone who reaches it can read the status page, /explain and /simulate; see -http-tls-cert and -http-token-file", "http", addr.String())
	case g.tls == nil:
		log.Warn("the HTTP listener is reachable beyond loopback without TLS: its bearer token crosses the network in clear text; see -http-tls-cert", "http", addr.String())
	}
}

// tlsConfig is the listener's TLS configuration, nil for plain HTTP. Each
// handshake asks for the current files' configuration, so a rotated
// certificate (or client CA) serves the next connection.
func (g *httpGuard) tlsConfig() *tls.Config {
	if g.tls == nil {
		return nil
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return g.tls.get(), nil
		},
	}
}

// protect asks for the token on every path but the open ones: what is not
// listed is protected, including paths added later and 404s (which would
// otherwise tell what exists).
func (g *httpGuard) protect(next http.Handler) http.Handler {
	if g.tokens == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(g.open, r.URL.Path) || g.authorized(r) {
			next.ServeHTTP(w, r)
			return
		}
		g.unauthorized.Inc()
		// Bearer for API clients (RFC 6750); Basic, with the token as
		// the password, so that a browser asks for it on the status page
		// and sends it with the page's own refreshes.
		w.Header().Add("WWW-Authenticate", `Bearer realm="glbd"`)
		w.Header().Add("WWW-Authenticate", `Basic realm="glbd", charset="UTF-8"`)
		http.Error(w, "unauthorized: this path needs the token of -http-token-file", http.StatusUnauthorized)
	})
}

// authorized reports whether r carries one of the tokens, as
// "Authorization: Bearer <token>" or as the password of Basic auth. The
// comparison runs over every token in constant time.
func (g *httpGuard) authorized(r *http.Request) bool {
	var given string
	if _, pass, ok := r.BasicAuth(); ok {
		given = pass
	} else if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		given = strings.TrimSpace(tok)
	}
	if given == "" {
		return false
	}
	sum := sha256.Sum256([]byte(given))
	match := 0
	for _, want := range g.tokens.get() {
		match |= subtle.ConstantTimeCompare(sum[:], want[:])
	}
	return match == 1
}

// limitSimulate lets at most -simulate-max-concurrent runs of next go at
// once: each can walk every network of the GeoIP database, and a client
// looping on it should cost glbd those cores at most, not all of them. The
// others are told to come back rather than queued, so that a flood holds
// no goroutines or request bodies.
func (g *httpGuard) limitSimulate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case g.simulate <- struct{}{}:
		default:
			g.simulateRejected.Inc()
			w.Header().Set("Retry-After", strconv.Itoa(int(simulateRetryAfter/time.Second)))
			http.Error(w, "too many /simulate runs in progress (-simulate-max-concurrent); retry later", http.StatusTooManyRequests)
			return
		}
		g.simulateRunning.Inc()
		defer func() {
			g.simulateRunning.Dec()
			<-g.simulate
		}()
		next.ServeHTTP(w, r)
	})
}
