package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

// httpFlags secure the -http listener (README.md, "The HTTP API"). All are
// off by default: the listener is on loopback, where whoever can reach it
// can read /proc too. Off loopback, the operator adds TLS, a token, or both.
type httpFlags struct {
	// TLSCert and TLSKey serve HTTPS with this certificate (-http-tls-cert,
	// -http-tls-key; both or neither). They are re-read when they change.
	TLSCert, TLSKey string
	// ClientCA requires every client to present a certificate signed by
	// one of these CAs (-http-client-ca, PEM; needs TLSCert): mTLS.
	ClientCA string
	// TokenFile holds the bearer token(s) the protected paths require
	// (-http-token-file): one per line, any of them accepted, so a new one
	// can be added before the old one is removed.
	TokenFile string
	// OpenPaths are the paths served without the token (-http-open-paths;
	// nil means /metrics, /healthz and /readyz, for scrapers and load
	// balancers); only those three may be listed, and an empty list
	// protects them all.
	OpenPaths []string
	// SimulateMax is how many /simulate runs may go at once
	// (-simulate-max-concurrent; 0 means 2); beyond, 429.
	SimulateMax int
	// reload is how often, at most, the TLS and token files are looked
	// at for a change (0 means defaultHTTPReload); tests shorten it.
	reload time.Duration
}

// Defaults, documented in -h and README.md.
const (
	defaultSimulateMax = 2
	// defaultHTTPReload checks the files' size and modification time at
	// most this often, on a handshake or a request: a rotated certificate
	// or token is in force within this, well under the 10 s cert-manager
	// and Vault agents expect, for three stat calls per period.
	defaultHTTPReload = 5 * time.Second
)

// openablePaths are the paths -http-open-paths may leave open: the ones
// scrapers and load balancers poll and that reveal nothing an attacker
// could use beyond the metrics themselves. Everything else always needs
// the token when there is one.
var openablePaths = []string{"/metrics", "/healthz", "/readyz"}

func (h *httpFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&h.TLSCert, "http-tls-cert", "", "serve -http over HTTPS with this PEM certificate (chain), re-read when it changes; needs -http-tls-key")
	fs.StringVar(&h.TLSKey, "http-tls-key", "", "the PEM private key of -http-tls-cert, re-read when it changes")
	fs.StringVar(&h.ClientCA, "http-client-ca", "", "require HTTPS clients to present a certificate signed by a CA in this PEM file (mTLS); needs -http-tls-cert")
	fs.StringVar(&h.TokenFile, "http-token-file", "", "require 'Authorization: Bearer <token>' with a token from this file (one per line) on every path but -http-open-paths; re-read when it changes")
	fs.Func("http-open-paths", "with -http-token-file: comma-separated paths served without the token, among /metrics, /healthz, /readyz; \"\" protects them too (default \"/metrics,/healthz,/readyz\")", func(s string) error {
		h.OpenPaths = []string{} // set, even if to none
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if !slices.Contains(openablePaths, p) {
				return fmt.Errorf("%q: only %s can be left open", p, strings.Join(openablePaths, ", "))
			}
			h.OpenPaths = append(h.OpenPaths, p)
		}
		return nil
	})
	fs.IntVar(&h.SimulateMax, "simulate-max-concurrent", defaultSimulateMax, "most /simulate runs at once; more are answered 429 with Retry-After")
}

// withDefaults fills the fields left zero.
func (h httpFlags) withDefaults() httpFlags {
	if h.OpenPaths == nil {
		h.OpenPaths = slices.Clone(openablePaths)
	}
	if h.SimulateMax == 0 {
		h.SimulateMax = defaultSimulateMax
	}
	if h.reload <= 0 {
		h.reload = defaultHTTPReload
	}
	return h
}

// validate checks the combinations; each error names its flag. Whether
// the files can be read is checked when they are loaded (newHTTPGuard).
func (h httpFlags) validate() error {
	var errs []error
	switch {
	case h.TLSCert != "" && h.TLSKey == "":
		errs = append(errs, errors.New("-http-tls-cert: needs -http-tls-key"))
	case h.TLSKey != "" && h.TLSCert == "":
		errs = append(errs, errors.New("-http-tls-key: needs -http-tls-cert"))
	}
	if h.ClientCA != "" && h.TLSCert == "" {
		errs = append(errs, errors.New("-http-client-ca: needs -http-tls-cert and -http-tls-key (client certificates are a TLS feature)"))
	}
	if h.SimulateMax < 1 {
		errs = append(errs, fmt.Errorf("-simulate-max-concurrent %d: want at least 1", h.SimulateMax))
	}
	return errors.Join(errs...)
}
