package embedded

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func startNode(t *testing.T, cfg Config) *Etcd {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real etcd")
	}
	cfg.NoFsync = true
	e, err := Start(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func client(t *testing.T, e *Etcd) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTempDirRemovedOnClose(t *testing.T) {
	e := startNode(t, Config{})
	dir := e.Config().Dir
	if _, err := os.Stat(filepath.Join(dir, "member")); err != nil {
		t.Fatalf("data dir %s not in use: %v", dir, err)
	}
	if _, err := client(t, e).Put(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp data dir %s after Close: %v, want it removed", dir, err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestGivenDirKeptAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	e := startNode(t, Config{Dir: dir, Name: "one"})
	if _, err := client(t, e).Put(t.Context(), "k", "kept"); err != nil {
		t.Fatal(err)
	}
	cfg := e.Config()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "member")); err != nil {
		t.Fatalf("given data dir after Close: %v, want it kept", err)
	}

	// Config() carries the ports picked, so the node comes back where it was.
	e2 := startNode(t, cfg)
	if !slices.Equal(e2.Endpoints(), e.Endpoints()) {
		t.Errorf("restarted on %v, want %v", e2.Endpoints(), e.Endpoints())
	}
	resp, err := client(t, e2).Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "kept" {
		t.Errorf("after restart k = %v, want kept", resp.Kvs)
	}
}

func TestTwoSideBySide(t *testing.T) {
	a := startNode(t, Config{Name: "a"})
	b := startNode(t, Config{Name: "b"})
	if slices.Equal(a.Endpoints(), b.Endpoints()) || a.Config().PeerURL == b.Config().PeerURL {
		t.Fatalf("both on %v / %s", a.Endpoints(), a.Config().PeerURL)
	}
	ca, cb := client(t, a), client(t, b)
	if _, err := ca.Put(t.Context(), "k", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Put(t.Context(), "k", "b"); err != nil {
		t.Fatal(err)
	}
	for c, want := range map[*clientv3.Client]string{ca: "a", cb: "b"} {
		resp, err := c.Get(t.Context(), "k")
		if err != nil {
			t.Fatal(err)
		}
		if got := string(resp.Kvs[0].Value); got != want {
			t.Errorf("k = %q, want %q: the two nodes share data", got, want)
		}
	}
}

func TestStartHonoursContext(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real etcd")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dir := filepath.Join(t.TempDir(), "etcd")
	e, err := Start(ctx, Config{Dir: dir, NoFsync: true}, slog.New(slog.DiscardHandler))
	if err == nil {
		// The node may have been ready before the cancelled ctx was seen.
		e.Close()
		t.Skip("node was ready at once")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestBadURL(t *testing.T) {
	_, err := Start(t.Context(), Config{ClientURL: "http://[::1", NoFsync: true}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("Start accepted a bad client URL")
	}
}

// TestQuietStartAndStop starts, uses and stops a node, and checks that
// nothing is logged at ERROR: etcd writes one such line at every start on
// a new data directory and one per listener at every stop, none of which
// means anything is wrong (see harmless), and an operator who sees ERROR at
// every dev start learns to ignore ERROR.
func TestQuietStartAndStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real etcd")
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"new data directory", Config{}},
		{"fsync on", Config{Dir: t.TempDir()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf lockedBuffer
			e, err := Start(t.Context(), tc.cfg, slog.New(slog.NewTextHandler(&buf, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client(t, e).Put(t.Context(), "k", "v"); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if out := buf.String(); out != "" {
				t.Errorf("logged at a normal start and stop:\n%s", out)
			}
		})
	}
}

// lockedBuffer is a log sink etcd's goroutines write while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
