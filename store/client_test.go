package store

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestClientConfig(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if _, err := NewClient(Config{}, log); err == nil || !strings.Contains(err.Error(), "endpoints") {
		t.Errorf("NewClient without endpoints: %v, want an error naming endpoints", err)
	}
	if _, err := NewClient(Config{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: -1}, log); err == nil || !strings.Contains(err.Error(), "dial_timeout") {
		t.Errorf("NewClient with a negative dial timeout: %v, want an error naming dial_timeout", err)
	}
	// Nothing listens on port 1: NewClient must still succeed at once, since
	// etcd down at start-up is survivable.
	start := time.Now()
	c, err := NewClient(Config{Endpoints: []string{"http://127.0.0.1:1"}}, log)
	if err != nil {
		t.Fatalf("NewClient with etcd down: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("NewClient with etcd down took %s: it must not wait for a connection", d)
	}
	c.Close()

	// With a user too: the token is fetched on first use, not here
	// (clientv3 would authenticate inside New and fail with etcd down).
	start = time.Now()
	c, err = NewClient(Config{Endpoints: []string{"http://127.0.0.1:1"}, User: "glb-reader", Password: "pw"}, log)
	if err != nil {
		t.Fatalf("NewClient with a user and etcd down: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("NewClient with a user and etcd down took %s: it must not wait for a token", d)
	}
	c.Close()
}
