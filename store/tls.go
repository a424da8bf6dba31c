package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// tlsFiles is the TLS material of an etcd client, read from its files
// again whenever one of them changes: short-lived certificates (from
// cert-manager or Vault) are replaced on disk, and a client that kept the
// old one would be locked out when it expires. Every new connection's
// handshake asks for the current material, and a file's change is seen by
// its size and modification time, so a rotation is used by the next
// connection without a restart; connections already up keep working, as
// etcd checks a certificate only in the handshake.
type tlsFiles struct {
	caFile, certFile, keyFile string
	insecure                  bool
	now                       func() time.Time
	log                       *slog.Logger

	mu      sync.Mutex
	stamp   string // the files' sizes and mtimes at the last read
	roots   *x509.CertPool
	cert    *tls.Certificate // nil without a client certificate
	loadErr error            // of the last read, when it failed
	// handshakeErr is the last handshake's error; nil after a success.
	handshakeErr error
}

// newTLSFiles reads the files once, so that a missing, unreadable,
// expired or not yet valid file is an error at start-up rather than a
// connection that never comes up.
func newTLSFiles(cfg Config, now func() time.Time, log *slog.Logger) (*tlsFiles, error) {
	f := &tlsFiles{caFile: cfg.CACert, certFile: cfg.Cert, keyFile: cfg.Key, insecure: cfg.InsecureSkipVerify,
		now: now, log: log}
	if _, err := f.config(); err != nil {
		return nil, err
	}
	return f, nil
}

// config returns a tls.Config of the current files. When a changed file
// cannot be used (a rotation caught half-written, say) it keeps using the
// last good material, if any, and logs why once per change.
func (f *tlsFiles) config() (*tls.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if stamp := f.stampNow(); stamp != f.stamp {
		f.stamp = stamp
		roots, cert, err := f.read()
		f.loadErr = err
		if err == nil {
			f.roots, f.cert = roots, cert
		} else if f.roots != nil || f.cert != nil {
			f.log.Warn("read etcd TLS files; keeping the previous ones", "err", err)
		}
	}
	if f.roots == nil && f.cert == nil && f.loadErr != nil {
		return nil, f.loadErr
	}
	if err := f.checkValidity(); err != nil {
		return nil, err
	}
	c := &tls.Config{RootCAs: f.roots, InsecureSkipVerify: f.insecure, MinVersion: tls.VersionTLS12}
	if f.cert != nil {
		c.Certificates = []tls.Certificate{*f.cert}
	}
	return c, nil
}

// checkValidity catches an expired or not yet valid client certificate
// before etcd does: etcd 3.4 answers such a certificate with a bare "bad
// certificate".
func (f *tlsFiles) checkValidity() error {
	if f.cert == nil {
		return nil
	}
	now := f.now()
	leaf := f.cert.Leaf
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("client certificate %s (CN %q) expired at %s", f.certFile, leaf.Subject.CommonName,
			leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("client certificate %s (CN %q) is not yet valid: valid from %s", f.certFile,
			leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// stampNow describes the files' current versions; a file that cannot be
// stat'ed counts as changed, so that its error is reported.
func (f *tlsFiles) stampNow() string {
	s := ""
	for _, p := range []string{f.caFile, f.certFile, f.keyFile} {
		if p == "" {
			s += "-;"
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			s += "?" + err.Error() + ";"
			continue
		}
		s += fmt.Sprintf("%d.%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s
}

// read reads and parses the files. roots is nil when no CA file is given
// (the system's roots are used).
func (f *tlsFiles) read() (*x509.CertPool, *tls.Certificate, error) {
	var roots *x509.CertPool
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read etcd CA file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("read etcd CA file %q: no PEM certificate found", f.caFile)
		}
	}
	if f.certFile == "" {
		return roots, nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read etcd client certificate %q and key %q: %w", f.certFile, f.keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, nil, fmt.Errorf("parse etcd client certificate %q: %w", f.certFile, err)
		}
	}
	return roots, &cert, nil
}

// reloadingCreds are gRPC transport credentials that make each handshake
// with the current tlsFiles, and name the endpoint in a failed one, so
// that a wrong CA reads "etcd endpoint 127.0.0.1:2379: ... unknown
// authority" rather than a bare timeout.
type reloadingCreds struct {
	files *tlsFiles
}

// ClientHandshake implements credentials.TransportCredentials.
func (c *reloadingCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cfg, err := c.files.config()
	if err != nil {
		return nil, nil, c.files.handshakeDone(fmt.Errorf("etcd endpoint %s: %w", authority, err))
	}
	conn, info, err := credentials.NewTLS(cfg).ClientHandshake(ctx, authority, raw)
	if err != nil {
		hint := ""
		var uae x509.UnknownAuthorityError
		if errors.As(err, &uae) {
			hint = " (is -etcd-cacert the CA that signed etcd's certificate?)"
		}
		return nil, nil, c.files.handshakeDone(fmt.Errorf("etcd endpoint %s: TLS handshake: %w%s", authority, err, hint))
	}
	c.files.handshakeDone(nil)
	return conn, info, nil
}

// handshakeDone records the outcome of a handshake and returns err.
func (f *tlsFiles) handshakeDone(err error) error {
	f.mu.Lock()
	f.handshakeErr = err
	f.mu.Unlock()
	return err
}

// unary adds the last failed handshake to a request that ran out of time
// waiting for a connection. gRPC waits for a connection until the
// deadline and clientv3 then reports the bare deadline, which would hide
// a wrong CA or an expired certificate behind "context deadline exceeded".
func (c *reloadingCreds) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil || ctx.Err() == nil {
		return err
	}
	c.files.mu.Lock()
	herr := c.files.handshakeErr
	c.files.mu.Unlock()
	if herr == nil {
		return err
	}
	return fmt.Errorf("%w: %w", ctx.Err(), herr)
}

// ServerHandshake implements credentials.TransportCredentials; a client
// has no use for it.
func (c *reloadingCreds) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("etcd client credentials cannot serve")
}

// Info implements credentials.TransportCredentials.
func (c *reloadingCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls", SecurityVersion: "1.2"}
}

// Clone implements credentials.TransportCredentials; the files are shared.
func (c *reloadingCreds) Clone() credentials.TransportCredentials {
	return &reloadingCreds{files: c.files}
}

// OverrideServerName implements credentials.TransportCredentials; the
// server name comes from each endpoint.
func (c *reloadingCreds) OverrideServerName(string) error { return nil }
