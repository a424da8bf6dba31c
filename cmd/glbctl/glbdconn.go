package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// glbdAuth is how glbctl proves itself to a glbd whose HTTP API is
// secured (-http-token-file, -http-tls-cert, -http-client-ca): explain and
// simulate are among the paths glbd protects.
type glbdAuth struct {
	tokenFile string // --glbd-token-file: the bearer token
	cacert    string // --glbd-cacert: the CA that signed glbd's certificate
	cert, key string // --glbd-cert, --glbd-key: a client certificate, for mTLS
}

func (g *glbdAuth) register(fs *flag.FlagSet) {
	fs.StringVar(&g.tokenFile, "glbd-token-file", g.tokenFile, "file holding the bearer token of glbd's HTTP API (its first token line is sent)")
	fs.StringVar(&g.cacert, "glbd-cacert", g.cacert, "PEM CA that signed glbd's HTTPS certificate (default: the system's roots)")
	fs.StringVar(&g.cert, "glbd-cert", g.cert, "PEM client certificate for a glbd that asks for one (-http-client-ca)")
	fs.StringVar(&g.key, "glbd-key", g.key, "PEM key of --glbd-cert")
}

// client returns the HTTP client for glbd: base itself when no TLS file is
// named, else a copy of it with those files loaded.
func (g *glbdAuth) client(base *http.Client) (*http.Client, error) {
	if (g.cert == "") != (g.key == "") {
		return nil, fmt.Errorf("%w: --glbd-cert and --glbd-key go together", errUsage)
	}
	if g.cacert == "" && g.cert == "" {
		return base, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if g.cacert != "" {
		pem, err := os.ReadFile(g.cacert)
		if err != nil {
			return nil, fmt.Errorf("%w: --glbd-cacert: %w", errUsage, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: --glbd-cacert %q: no PEM certificate in it", errUsage, g.cacert)
		}
	}
	if g.cert != "" {
		pair, err := tls.LoadX509KeyPair(g.cert, g.key)
		if err != nil {
			return nil, fmt.Errorf("%w: --glbd-cert/--glbd-key: %w", errUsage, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	c := *base
	c.Transport = &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	return &c, nil
}

// token reads the token to send, "" when no file is named. glbd's file
// may list several tokens (rotation); glbctl sends the first, so a file
// shared with glbd works as it is.
func (g *glbdAuth) token() (string, error) {
	if g.tokenFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(g.tokenFile)
	if err != nil {
		return "", fmt.Errorf("%w: --glbd-token-file: %w", errUsage, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" && !strings.HasPrefix(s, "#") {
			return s, nil
		}
	}
	return "", fmt.Errorf("%w: --glbd-token-file %q: %w", errUsage, g.tokenFile, errNoToken)
}

var errNoToken = errors.New("no token in it")
