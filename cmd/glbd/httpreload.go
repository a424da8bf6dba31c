package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// reloading holds what was loaded from a set of files, and loads it again
// when one of them changes (size or modification time). The files are
// looked at lazily, by get, at most once per interval: no goroutine to own,
// and a glbd nobody asks anything stats nothing. A new version that does
// not load (a certificate written before its key, a token file emptied)
// keeps the last good one in force, logged and counted once per version.
type reloading[T any] struct {
	what   string // for the log and the metric label: "tls" or "token"
	paths  []string
	load   func() (T, error)
	every  time.Duration
	now    func() time.Time
	log    *slog.Logger
	failed prometheus.Counter

	mu      sync.Mutex
	checked time.Time
	stamps  []fileStamp
	cur     T
}

// fileStamp is what tells a changed file from the one loaded.
type fileStamp struct {
	size  int64
	mtime time.Time
}

// newReloading loads the files once; an error here is a bad command line.
func newReloading[T any](what string, paths []string, load func() (T, error), every time.Duration,
	now func() time.Time, log *slog.Logger, failed prometheus.Counter) (*reloading[T], error) {
	r := &reloading[T]{what: what, paths: paths, load: load, every: every, now: now, log: log, failed: failed}
	r.stamps = r.stat()
	cur, err := load()
	if err != nil {
		return nil, err
	}
	r.cur, r.checked = cur, now()
	return r, nil
}

func (r *reloading[T]) stat() []fileStamp {
	out := make([]fileStamp, len(r.paths))
	for i, p := range r.paths {
		if fi, err := os.Stat(p); err == nil {
			out[i] = fileStamp{size: fi.Size(), mtime: fi.ModTime()}
		}
	}
	return out
}

// get returns the current value, first loading the files again if the
// interval has passed and one of them changed.
func (r *reloading[T]) get() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.checked) < r.every {
		return r.cur
	}
	r.checked = now
	st := r.stat()
	if sameStamps(st, r.stamps) {
		return r.cur
	}
	r.stamps = st
	v, err := r.load()
	if err != nil {
		// Never the contents: the error names the file and what is wrong.
		r.log.Warn("http credentials changed on disk but do not load; keeping the last good ones", "credential", r.what, "err", err)
		r.failed.Inc()
		return r.cur
	}
	r.log.Info("http credentials reloaded", "credential", r.what, "files", strings.Join(r.paths, ","))
	r.cur = v
	return v
}

func sameStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].size != b[i].size || !a[i].mtime.Equal(b[i].mtime) {
			return false
		}
	}
	return true
}

// loadServerTLS builds the listener's TLS configuration from the files:
// the certificate and key, and the client CAs when mTLS is on.
func loadServerTLS(f httpFlags) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.TLSCert, f.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("-http-tls-cert %q, -http-tls-key %q: %w", f.TLSCert, f.TLSKey, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// http.Server.ServeTLS serves HTTP/2 when the client picks it;
		// ALPN reads this configuration, the one GetConfigForClient
		// returns.
		NextProtos: []string{"h2", "http/1.1"},
	}
	if f.ClientCA != "" {
		pem, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("-http-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-http-client-ca %q: no PEM certificate in it", f.ClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// tokenSums are the accepted tokens, kept as SHA-256 sums: comparing sums
// of equal length in constant time tells nothing about a token's length or
// prefix, and the tokens themselves stay out of glbd's memory dumps.
type tokenSums [][sha256.Size]byte

// loadTokens reads the token file: one token per line; blank lines and
// lines starting with # are skipped. A file without a token is an error, not
// an open door.
func loadTokens(path string) (tokenSums, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-http-token-file: %w", err)
	}
	var sums tokenSums
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if strings.ContainsAny(s, " \t") {
			return nil, fmt.Errorf("-http-token-file %q: line %d: a token has no spaces", path, line)
		}
		sums = append(sums, sha256.Sum256([]byte(s)))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-http-token-file %q: %w", path, err)
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("-http-token-file %q: %w", path, errNoToken)
	}
	return sums, nil
}

// errNoToken is an empty token file: refusing it keeps an accidentally
// truncated file from opening the API to everyone.
var errNoToken = errors.New("no token in it (want one token per line)")
