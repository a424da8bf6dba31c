// Package etcdtest starts a real single-node etcd for tests of any package:
// no mocks, loopback only, free ports, data in t.TempDir(). It can stop and
// restart the node on the same ports and data, to test what clients do while
// etcd is away.
package etcdtest

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/glb-dns/glb/store/embedded"
)

// startTimeout bounds one start of the node; a loaded CI machine may be slow,
// but a node that takes this long is broken.
const startTimeout = 20 * time.Second

// Server is a running (or stopped) test etcd.
type Server struct {
	mu     sync.Mutex
	cfg    embedded.Config
	etcd   *embedded.Etcd   // nil while stopped
	proxy  proxy            // what clients connect to; see proxy.go
	client *clientv3.Client // for Put and Get; made on first use
	secure *secure          // TLS and auth; nil for a plain node (secure.go)
}

// Start starts a node on loopback with free ports and fsync off, and stops it
// when the test ends. It skips the test under -short.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("etcdtest: skipping test with a real etcd in -short mode")
	}
	s := &Server{cfg: embedded.Config{
		Dir:     filepath.Join(t.TempDir(), "etcd"),
		Name:    "etcdtest",
		NoFsync: true,
		// Auth tests (users.go) log in often.
		FastPasswords: true,
	}}
	s.proxy.addr = "127.0.0.1:0"
	s.start(t)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	e, err := embedded.Start(ctx, s.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	// Pin the ports picked on the first start, so that Restart comes back
	// where clients expect it.
	s.cfg = e.Config()
	_, s.proxy.target, _ = strings.Cut(e.Endpoints()[0], "://")
	if err := s.proxy.start(); err != nil {
		e.Close()
		t.Fatalf("etcdtest: proxy: %v", err)
	}
	s.mu.Lock()
	s.etcd = e
	s.mu.Unlock()
}

// Endpoints returns the node's client URLs; they stay the same across
// Stop and Restart.
func (s *Server) Endpoints() []string {
	if s.secure != nil {
		return []string{"https://" + s.proxy.addr}
	}
	return []string{"http://" + s.proxy.addr}
}

// Client returns a new client of the node, closed when the test ends. It
// reconnects quickly after a Restart and logs nothing. On a node of
// StartSecure it is etcd's root user.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(s.rootConfig(t, clientv3.Config{
		Endpoints:   s.Endpoints(),
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		})},
	}))
	if err != nil {
		t.Fatalf("etcdtest: new client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Stop stops the node and keeps its data directory and ports. Stopping a
// stopped node does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	e := s.etcd
	s.etcd = nil
	s.mu.Unlock()
	if e == nil {
		return
	}
	s.proxy.stop()
	if err := e.Close(); err != nil {
		t.Errorf("etcdtest: stop: %v", err)
	}
}

// Restart starts a stopped node again on the same ports and data directory;
// existing clients reconnect to it.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	running := s.etcd != nil
	s.mu.Unlock()
	if running {
		t.Fatal("etcdtest: Restart of a running node; call Stop first")
	}
	s.start(t)
}

// Put writes key=value through a client of the server's own and returns the
// revision of the write, so tests outside store need no etcd import. It
// retries for up to 10s, as the client's connection may have just been
// dropped (DropConnections).
func (s *Server) Put(t testing.TB, key, value string) int64 {
	t.Helper()
	c := s.ownClient(t)
	resp := retry(t, "put "+key, func(ctx context.Context) (*clientv3.PutResponse, error) {
		return c.Put(ctx, key, value)
	})
	return resp.Header.Revision
}

// Get returns the value of key, or "" when it does not exist.
func (s *Server) Get(t testing.TB, key string) string {
	t.Helper()
	c := s.ownClient(t)
	resp := retry(t, "get "+key, func(ctx context.Context) (*clientv3.GetResponse, error) {
		return c.Get(ctx, key)
	})
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// ownClient is a client made on first use and closed with the test.
func (s *Server) ownClient(t testing.TB) *clientv3.Client {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c != nil {
		return c
	}
	c = s.Client(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = c
	}
	return s.client
}

// DropConnections closes every client connection to the node, which keeps
// running: clients reconnect, with a new handshake, as after a network
// blip.
func (s *Server) DropConnections() { s.proxy.dropConns() }
