// Package store connects glb to etcd: it lists and watches the configuration
// prefix and hands each new schema.State on, and seeds an empty prefix. It is
// the only package that imports go.etcd.io/etcd; everything else sees
// schema.State.
package store

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"

	"github.com/glb-dns/glb/store/internal/zapslog"
)

// DefaultDialTimeout is Config.DialTimeout when it is zero.
const DefaultDialTimeout = 5 * time.Second

// Keepalive: the client pings an idle connection after keepaliveTime and
// drops it when no answer comes within keepaliveTimeout, so a dead etcd (or a
// dead path to it) is noticed within about ten seconds rather than the
// kernel's TCP timeout of many minutes. etcd refuses pings more often than
// every 5s by default.
const (
	keepaliveTime    = 5 * time.Second
	keepaliveTimeout = 5 * time.Second
)

// reconnectMaxDelay caps gRPC's reconnect backoff. Its default of two
// minutes would leave an instance on its last snapshot for that long after
// etcd comes back from an outage.
const reconnectMaxDelay = 3 * time.Second

// Config is how to reach etcd: where, and with which credentials. Make
// it from the command line with ConnFlags, which also reads etcdctl's
// ETCDCTL_* variables.
type Config struct {
	// Endpoints are etcd client URLs, e.g. "https://127.0.0.1:2379", all
	// http:// or all https://. Required.
	Endpoints []string
	// DialTimeout bounds each attempt to connect to an endpoint. Default 5s.
	// It does not make NewClient wait: connecting happens in the background.
	DialTimeout time.Duration

	// CACert is a PEM file of the CAs that sign etcd's server certificate;
	// "" trusts the system's roots. Only for https:// endpoints.
	CACert string
	// Cert and Key are PEM files of the client certificate and its key,
	// both or neither. etcd with --client-cert-auth takes the
	// certificate's CN as the user name. They and CACert are read again
	// when they change on disk (see tls.go).
	Cert, Key string
	// InsecureSkipVerify turns off the check of etcd's certificate. Never
	// implied; for tests of a setup, not for production.
	InsecureSkipVerify bool

	// User and Password are for etcd's password authentication; both or
	// neither. The password is never logged.
	User, Password string
}

// String describes the config without the password, so that printing
// one (or a struct holding one) never shows it.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = "(set)"
	}
	return fmt.Sprintf("{Endpoints:%v DialTimeout:%s CACert:%s Cert:%s Key:%s InsecureSkipVerify:%t User:%s Password:%s}",
		c.Endpoints, c.DialTimeout, c.CACert, c.Cert, c.Key, c.InsecureSkipVerify, c.User, pw)
}

// tls reports whether the endpoints are https://.
func (c Config) tls() bool {
	return len(c.Endpoints) > 0 && strings.HasPrefix(c.Endpoints[0], "https://")
}

// Validate checks the config; errors name the field.
func (c Config) Validate() error {
	var errs []error
	if len(c.Endpoints) == 0 {
		errs = append(errs, errors.New("endpoints: at least one etcd endpoint is required"))
	}
	for i, e := range c.Endpoints {
		switch {
		case e == "":
			errs = append(errs, fmt.Errorf("endpoints[%d]: empty endpoint", i))
		case !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://"):
			errs = append(errs, fmt.Errorf("endpoints[%d] %q: want an http:// or https:// URL", i, e))
		case strings.HasPrefix(e, "https://") != c.tls():
			// The client dials every endpoint with one set of transport
			// credentials, so a mix would send some in the clear.
			errs = append(errs, fmt.Errorf("endpoints[%d] %q: mixes http:// and https:// endpoints", i, e))
		}
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("dial_timeout: %s is negative", c.DialTimeout))
	}
	if !c.tls() && (c.CACert != "" || c.Cert != "" || c.Key != "" || c.InsecureSkipVerify) && len(c.Endpoints) > 0 {
		errs = append(errs, fmt.Errorf("endpoints %q: TLS settings are given but the endpoints are not https://", c.Endpoints[0]))
	}
	if (c.Cert == "") != (c.Key == "") {
		errs = append(errs, errors.New("cert, key: give both the client certificate and its key, or neither"))
	}
	if c.User == "" && c.Password != "" {
		errs = append(errs, errors.New("user: a password is given but no user"))
	}
	if c.User != "" && c.Password == "" {
		errs = append(errs, fmt.Errorf("password: user %q has no password", c.User))
	}
	return errors.Join(errs...)
}

// NewClient returns an etcd client for cfg. It does not wait for a
// connection, so an etcd that is down at start-up does not fail it: requests
// fail or wait until etcd is back, and the Watcher retries. etcd's own log
// lines go to log at Error level only; its retries at Warn would flood the
// log during an outage.
func NewClient(cfg Config, log *slog.Logger) (*clientv3.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("etcd client config: %w", err)
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	log = log.With("component", "store")
	// No grpc.WithBlock: the dial returns at once and connects in the
	// background.
	opts := []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: grpcbackoff.Config{
			BaseDelay:  250 * time.Millisecond,
			Multiplier: 1.6,
			Jitter:     0.2,
			MaxDelay:   reconnectMaxDelay,
		},
		MinConnectTimeout: cfg.DialTimeout,
	})}
	if cfg.tls() {
		files, err := newTLSFiles(cfg, time.Now, log)
		if err != nil {
			return nil, fmt.Errorf("etcd client for %v: %w", cfg.Endpoints, err)
		}
		// clientv3 appends Config.DialOptions after its own, so these
		// credentials replace its fixed tls.Config.
		creds := &reloadingCreds{files: files}
		opts = append(opts, grpc.WithTransportCredentials(creds), grpc.WithChainUnaryInterceptor(creds.unary))
	}
	var auth *tokenAuth
	if cfg.User != "" {
		if !cfg.tls() {
			log.Warn("etcd password sent without TLS; use https:// endpoints", "user", cfg.User)
		}
		auth = &tokenAuth{user: cfg.User, password: cfg.Password}
		opts = append(opts, auth.dialOptions()...)
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		DialTimeout:          cfg.DialTimeout,
		DialKeepAliveTime:    keepaliveTime,
		DialKeepAliveTimeout: keepaliveTimeout,
		Logger:               zapslog.New(log, zapcore.ErrorLevel),
		DialOptions:          opts,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", cfg.Endpoints, err)
	}
	if auth != nil {
		auth.client.Store(c)
	}
	return c, nil
}

// DefaultEndpoint is the etcd a command talks to when neither its -etcd
// flag nor ETCDCTL_ENDPOINTS names one, as for etcdctl.
const DefaultEndpoint = "http://127.0.0.1:2379"

// ResolveEndpoints returns the endpoints a command uses: those of its -etcd
// flag, else those of env (the value of ETCDCTL_ENDPOINTS), else
// DefaultEndpoint.
func ResolveEndpoints(flag, env string) []string {
	if eps := ParseEndpoints(flag); len(eps) > 0 {
		return eps
	}
	if eps := ParseEndpoints(env); len(eps) > 0 {
		return eps
	}
	return []string{DefaultEndpoint}
}

// ParseEndpoints splits a comma-separated endpoint list, as -etcd flags and
// ETCDCTL_ENDPOINTS give it, adding http:// where no scheme is written, as
// etcdctl accepts both forms.
func ParseEndpoints(s string) []string {
	var out []string
	for e := range strings.SplitSeq(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if !strings.Contains(e, "://") {
			e = "http://" + e
		}
		out = append(out, e)
	}
	return out
}
