package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

// MaxBodyBytes caps how much of a response body a check reads when it looks
// for Check.ExpectBody: a health page is small, and a misconfigured check
// pointed at a large download must not make the prober read all of it.
const MaxBodyBytes = 64 << 10

// userAgent names glb in backends' access logs, so that their operators can
// tell health checks from users (and exclude them from statistics).
const userAgent = "glb-prober"

// CheckerConfig configures the Checker made by NewChecker. The zero value
// verifies certificates against the system roots and dials with a default
// net.Dialer.
type CheckerConfig struct {
	// RootCAs verifies https certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// Dialer dials every check's connection; nil means a zero net.Dialer.
	// Each check's deadline comes from its context, not from the Dialer.
	Dialer *net.Dialer
}

// NewChecker returns the Checker for http, https and tcp checks. It is safe
// for concurrent use by many probe loops.
func NewChecker(cfg CheckerConfig) Checker {
	d := cfg.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	return &checker{
		roots:      cfg.RootCAs,
		dialer:     d,
		transports: make(map[transportKey]*http.Transport),
	}
}

type checker struct {
	roots  *x509.CertPool
	dialer *net.Dialer

	mu sync.Mutex
	// transports holds one http.Transport per TLS variant. The variants are
	// as many as the distinct (insecure, host) pairs in the configuration,
	// so the map stays small; the transports keep no idle connections.
	transports map[transportKey]*http.Transport
}

type transportKey struct {
	insecure   bool
	serverName string // "": derived by net/http from the URL's host (the endpoint address)
}

// dialAddrKey carries a check's real dial address to the shared
// transport's DialContext. Requests name the endpoint in their URL, so that
// the Host header and TLS name default to it, while Check.Connect may send
// the connection elsewhere.
type dialAddrKey struct{}

// Check runs one check of t, bounded by t.Check.Timeout and by ctx.
func (c *checker) Check(ctx context.Context, t Target) Result {
	timeout := time.Duration(t.Check.Timeout)
	if timeout <= 0 {
		timeout = schema.DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch t.Check.Type {
	case "tcp":
		return c.checkTCP(ctx, t)
	case "http", "https":
		return c.checkHTTP(ctx, t, timeout)
	default:
		return Result{Err: fmt.Errorf("check type %q is not one of http, https, tcp", t.Check.Type)}
	}
}

// dialAddr is where a check connects: Check.Connect if set, else the
// endpoint at the check's port.
func dialAddr(t Target) string {
	if t.Check.Connect != "" {
		return t.Check.Connect
	}
	return net.JoinHostPort(t.Endpoint.String(), strconv.Itoa(t.Check.Port))
}

func (c *checker) checkTCP(ctx context.Context, t Target) Result {
	addr := dialAddr(t)
	start := time.Now()
	conn, err := c.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{Err: fmt.Errorf("connect %s: %w", addr, shorten(err))}
	}
	rtt := time.Since(start)
	// The connect was the check: nothing is sent, and a close error says
	// nothing about the endpoint's health.
	_ = conn.Close()
	return Result{OK: true, RTT: rtt}
}

func (c *checker) checkHTTP(ctx context.Context, t Target, timeout time.Duration) Result {
	ck := t.Check
	addr := dialAddr(t)
	url := ck.Type + "://" + urlHost(t) + ck.Path
	var firstByte time.Time
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { firstByte = time.Now() }}
	ctx = httptrace.WithClientTrace(context.WithValue(ctx, dialAddrKey{}, addr), trace)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Result{Err: fmt.Errorf("build request for %s: %w", url, err)}
	}
	if ck.Host != "" {
		req.Host = ck.Host
	}
	req.Header.Set("User-Agent", userAgent)

	// RoundTrip rather than a Client: a redirect is a status to judge, not
	// a place to go, and no cookie jar or retry should get involved.
	start := time.Now()
	resp, err := c.transport(ck).RoundTrip(req)
	if err != nil {
		return Result{Err: describeHTTPError(ctx, url, addr, timeout, err)}
	}
	// Closing without draining is right here: keep-alives are off, so the
	// connection is closed anyway and draining would only read bytes nobody
	// looks at.
	defer resp.Body.Close()
	rtt := firstByte.Sub(start)
	if firstByte.IsZero() {
		// Not expected with net/http, but an RTT of zero must not look
		// like a perfect endpoint.
		rtt = time.Since(start)
	}

	var body []byte
	if ck.ExpectBody != "" || (ck.Load != nil && ck.Load.Header == "") {
		body, err = io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
		if err != nil {
			return Result{RTT: rtt, Err: fmt.Errorf("read body of %s: %w", url, shorten(err))}
		}
	}
	if err := ParseResponse(resp.StatusCode, body, ck); err != nil {
		return Result{RTT: rtt, Err: err}
	}
	res := Result{OK: true, RTT: rtt}
	if ck.Load != nil {
		if v, err := ReadLoad(ck.Load, resp.Header, body); err != nil {
			res.LoadErr = err
		} else {
			res.Load = &v
		}
	}
	return res
}

// urlHost is the host of a check's URL: the endpoint, with the port unless
// it is the scheme's default. net/http derives the Host header (unless
// Check.Host is set) and the TLS server name (an address: no SNI, verified
// against the certificate's IP SANs) from it.
func urlHost(t Target) string {
	p := t.Check.Port
	if p == 0 || (t.Check.Type == "http" && p == 80) || (t.Check.Type == "https" && p == 443) {
		if t.Endpoint.Is6() {
			return "[" + t.Endpoint.String() + "]"
		}
		return t.Endpoint.String()
	}
	return net.JoinHostPort(t.Endpoint.String(), strconv.Itoa(t.Check.Port))
}

// transport returns the shared transport for ck's TLS variant, making it on
// first use. A transport per check would defeat net/http's internal
// caching of TLS configuration; keep-alives are off so that each check
// dials afresh: the RTT then always includes connection set-up, and a dead
// load balancer cannot hide behind a pooled connection.
func (c *checker) transport(ck schema.Check) *http.Transport {
	key := transportKey{insecure: ck.Insecure}
	if ck.Type == "https" && ck.Host != "" {
		key.serverName = ck.Host
		if h, _, err := net.SplitHostPort(ck.Host); err == nil {
			key.serverName = h // a Host header may carry a port; SNI may not
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if tr, ok := c.transports[key]; ok {
		return tr
	}
	tr := &http.Transport{
		// Never a proxy from the environment: the point is to reach the
		// endpoint itself.
		Proxy:             nil,
		DialContext:       c.dial,
		DisableKeepAlives: true,
		// Compression would make ExpectBody match after decoding, which is
		// not what a backend operator sees with curl.
		DisableCompression:     true,
		MaxResponseHeaderBytes: MaxBodyBytes,
		TLSClientConfig: &tls.Config{
			RootCAs:            c.roots,
			ServerName:         key.serverName,
			InsecureSkipVerify: key.insecure, // the check's own opt-in
		},
	}
	c.transports[key] = tr
	return tr
}

// dial connects to the check's real address, carried in ctx (see
// dialAddrKey), falling back to the URL's.
func (c *checker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if a, ok := ctx.Value(dialAddrKey{}).(string); ok {
		addr = a
	}
	return c.dialer.DialContext(ctx, network, addr)
}

// describeHTTPError turns a RoundTrip error into a short report that says
// which step failed: connect, TLS handshake or the exchange itself.
func describeHTTPError(ctx context.Context, url, addr string, timeout time.Duration, err error) error {
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var alertErr tls.AlertError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("get %s: no response within %s: %w", url, timeout, context.DeadlineExceeded)
	case errors.As(err, &certErr), errors.As(err, &alertErr), errors.As(err, &recErr):
		return fmt.Errorf("tls handshake with %s: %w", addr, shorten(err))
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("connect %s: %w", addr, shorten(err))
	default:
		return fmt.Errorf("get %s: %w", url, shorten(err))
	}
}

// shorten peels the layers of net and tls errors that repeat what the
// check's own context already says ("dial tcp 10.0.0.1:80: connect: "), so
// that a report's error reads "connect 10.0.0.1:80: connection refused".
// The cause stays in the chain for errors.Is.
func shorten(err error) error {
	for {
		switch e := err.(type) {
		case *net.OpError:
			err = e.Err
		case *os.SyscallError:
			err = e.Err
		case *tls.CertificateVerificationError:
			err = e.Err
		default:
			return err
		}
	}
}

// ParseResponse judges an http(s) response: its status must be inside
// c.ExpectStatus ("200-399" when empty) and, if c.ExpectBody is set, body
// (the first MaxBodyBytes of it) must contain that text. It is pure, so that
// it can be tested, and fuzzed, without a server.
func ParseResponse(status int, body []byte, c schema.Check) error {
	want := c.ExpectStatus
	if want == "" {
		want = "200-399"
	}
	lo, hi, err := schema.ParseStatusRange(want)
	if err != nil {
		return err
	}
	if status < lo || status > hi {
		return fmt.Errorf("status %d, want %s", status, want)
	}
	if len(body) > MaxBodyBytes {
		body = body[:MaxBodyBytes]
	}
	if c.ExpectBody != "" && !bytes.Contains(body, []byte(c.ExpectBody)) {
		return fmt.Errorf("body does not contain %q", c.ExpectBody)
	}
	return nil
}
