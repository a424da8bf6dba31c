// Package embedded runs a single-node etcd inside the process, for glbd's
// dev mode and for tests. It is a thin wrapper over
// go.etcd.io/etcd/server/v3/embed that picks free loopback ports, keeps
// etcd's logging quiet and waits until the node can serve.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap/zapcore"

	"github.com/glb-dns/glb/store/internal/zapslog"
)

// readyTimeout bounds the wait for a node to elect itself and serve, on top
// of the caller's ctx: a single node that is not ready by then will not be.
const readyTimeout = 30 * time.Second

// portAttempts is how often Start retries when a port it picked itself was
// taken by someone else between picking and binding.
const portAttempts = 3

// Config describes the node. The zero value is a throw-away node on free
// loopback ports with its data in a temporary directory.
type Config struct {
	// Dir is the data directory. "" means a temporary directory that Close
	// removes.
	Dir string
	// ClientURL is where clients connect, e.g. "http://127.0.0.1:2379".
	// "" or port 0 means 127.0.0.1 on a free port.
	ClientURL string
	// PeerURL is the raft peer URL, unused by a single node but required by
	// etcd. "" or port 0 means 127.0.0.1 on a free port.
	PeerURL string
	// Name is the member name, default "glb".
	Name string
	// NoFsync turns off fsync: much faster, and loses data on a crash. For
	// tests only.
	NoFsync bool
	// TLS, when set, serves clients over https:// (ClientURL's scheme
	// then defaults to https). Tests use it; dev mode does not.
	TLS *TLS
	// AuthTokenTTL is how long an unused simple auth token lives; 0 means
	// etcd's 300s. Tests shorten it to see a token expire.
	AuthTokenTTL time.Duration
	// FastPasswords hashes users' passwords at bcrypt's lowest cost, so
	// that tests with auth on (each login checks a hash) stay quick under
	// the race detector. Weak hashes: for tests only.
	FastPasswords bool
}

// TLS are the node's server certificate files.
type TLS struct {
	CertFile, KeyFile string
	// TrustedCAFile is the CA of client certificates.
	TrustedCAFile string
	// ClientCertAuth requires a client certificate signed by TrustedCAFile;
	// with auth on, its CN is the user name.
	ClientCertAuth bool
}

// Etcd is a running single-node etcd.
type Etcd struct {
	etcd    *embed.Etcd
	cfg     Config // with URLs and Dir resolved
	tempDir bool
	closing *atomic.Bool // set when Close starts; quiets etcd's shutdown lines
	once    sync.Once
	err     error
}

// Start starts a node and waits until it serves clients, or until ctx is
// done or 30 seconds have passed.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Etcd, error) {
	log = log.With("component", "etcd")
	if cfg.Name == "" {
		cfg.Name = "glb"
	}
	tempDir := false
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "glb-etcd-*")
		if err != nil {
			return nil, fmt.Errorf("create etcd data dir: %w", err)
		}
		cfg.Dir, tempDir = d, true
	}
	// A port picked here is free when picked but may be taken before etcd
	// binds it; only then is another try worth it.
	var err error
	closing := new(atomic.Bool)
	for range portAttempts {
		var e *embed.Etcd
		var picked bool
		e, picked, err = start(ctx, cfg, log, closing)
		if err == nil {
			return &Etcd{etcd: e, cfg: resolved(cfg, e), tempDir: tempDir, closing: closing}, nil
		}
		if !picked || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if tempDir {
		os.RemoveAll(cfg.Dir)
	}
	return nil, err
}

// start makes one attempt. picked reports whether a URL was given a port
// chosen here.
func start(ctx context.Context, cfg Config, log *slog.Logger, closing *atomic.Bool) (e *embed.Etcd, picked bool, err error) {
	scheme := "http"
	if cfg.TLS != nil {
		scheme = "https"
	}
	curl, p1, err := loopbackURL(cfg.ClientURL, scheme)
	if err != nil {
		return nil, false, fmt.Errorf("etcd client url: %w", err)
	}
	purl, p2, err := loopbackURL(cfg.PeerURL, "http")
	if err != nil {
		return nil, false, fmt.Errorf("etcd peer url: %w", err)
	}
	picked = p1 || p2

	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.Dir
	ec.ListenClientUrls = []url.URL{*curl}
	ec.AdvertiseClientUrls = []url.URL{*curl}
	ec.ListenPeerUrls = []url.URL{*purl}
	ec.AdvertisePeerUrls = []url.URL{*purl}
	ec.InitialCluster = ec.InitialClusterFromName(cfg.Name)
	// etcd logs every step of its start and stop at info; only its errors
	// interest a glb operator, and those go through our slog.
	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zapslog.NewFiltered(log, zapcore.ErrorLevel, harmless(closing)))
	ec.UnsafeNoFsync = cfg.NoFsync
	if cfg.TLS != nil {
		ec.ClientTLSInfo = transport.TLSInfo{CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile,
			TrustedCAFile: cfg.TLS.TrustedCAFile, ClientCertAuth: cfg.TLS.ClientCertAuth}
	}
	if cfg.AuthTokenTTL > 0 {
		ec.AuthTokenTTL = uint(max(1, cfg.AuthTokenTTL/time.Second))
	}
	if cfg.FastPasswords {
		ec.BcryptCost = 4 // bcrypt.MinCost
	}
	// A single node has no peers to time out, so short raft ticks cost
	// nothing but shorten its first election from about a second to about
	// a tenth: start-up is what dev mode and tests wait for.
	ec.TickMs, ec.ElectionMs = 10, 100

	e, err = embed.StartEtcd(ec)
	if err != nil {
		return nil, picked, fmt.Errorf("start etcd in %q: %w", cfg.Dir, err)
	}
	wait, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	select {
	case <-e.Server.ReadyNotify():
		return e, picked, nil
	case err = <-e.Err():
		err = fmt.Errorf("start etcd in %q: %w", cfg.Dir, err)
	case <-wait.Done():
		err = fmt.Errorf("start etcd in %q: wait for ready: %w", cfg.Dir, wait.Err())
	}
	e.Close()
	return nil, picked, err
}

// harmless recognises the ERROR lines etcd writes at every normal start and
// stop of a single node, which say nothing is wrong (read in etcd v3.6's
// server code):
//
//   - "failed to update storage version" with "missing term information":
//     on a new data directory the storage-version monitor runs as soon as
//     the cluster version is set, before the backend has committed its
//     first batch, which is what records the raft term it looks for. The
//     monitor tries again every few seconds (monitorVersionInterval) and
//     then succeeds; nothing we configure orders the two.
//   - "setting up serving from embedded etcd failed." once Close started:
//     embed logs the error of every listener's Serve as it returns, and
//     Close makes each return one ("use of closed network connection",
//     "http: Server closed", "mux: server closed").
//
// Any other error, and these two in any other situation, still reach the
// log.
func harmless(closing *atomic.Bool) zapslog.Drop {
	return func(msg string, fields map[string]any) bool {
		switch msg {
		case "failed to update storage version":
			err, _ := fields["error"].(string)
			return strings.HasSuffix(err, "missing term information")
		case "setting up serving from embedded etcd failed.":
			return closing.Load()
		}
		return false
	}
}

// loopbackURL parses u, or makes "scheme://127.0.0.1:0" of "", and replaces
// port 0 with a free port. etcd itself could listen on port 0, but it would
// then advertise port 0 to clients and its own member list.
func loopbackURL(u, scheme string) (*url.URL, bool, error) {
	if u == "" {
		u = scheme + "://127.0.0.1:0"
	}
	p, err := url.Parse(u)
	if err != nil {
		return nil, false, err
	}
	if p.Port() != "0" {
		return p, false, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(p.Hostname(), "0"))
	if err != nil {
		return nil, false, fmt.Errorf("find a free port on %s: %w", p.Hostname(), err)
	}
	p.Host = l.Addr().String()
	return p, true, l.Close()
}

// resolved is cfg with the URLs etcd actually listens on.
func resolved(cfg Config, e *embed.Etcd) Config {
	c := e.Config()
	cfg.ClientURL = c.ListenClientUrls[0].String()
	cfg.PeerURL = c.ListenPeerUrls[0].String()
	return cfg
}

// Endpoints returns the client URLs the node listens on.
func (e *Etcd) Endpoints() []string {
	out := make([]string, 0, len(e.etcd.Clients))
	for _, l := range e.etcd.Clients {
		scheme := "http://"
		if e.cfg.TLS != nil {
			scheme = "https://"
		}
		out = append(out, scheme+l.Addr().String())
	}
	return out
}

// Config returns the configuration the node runs with, with the ports it
// picked filled in; starting a node again with it reuses them and the data
// directory (unless that was a temporary one, which Close removed).
func (e *Etcd) Config() Config { return e.cfg }

// Close stops the node and removes its data directory if Start created it.
// It is safe to call more than once.
func (e *Etcd) Close() error {
	e.once.Do(func() {
		e.closing.Store(true)
		e.etcd.Close()
		if e.tempDir {
			if err := os.RemoveAll(e.cfg.Dir); err != nil {
				e.err = fmt.Errorf("remove etcd data dir: %w", err)
			}
		}
	})
	return e.err
}
