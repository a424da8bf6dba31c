package store

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestKeysWatcher: the keys watcher hands on what the first list finds,
// then each transaction as one whole, grouped by zone; keys that fit
// neither layout are left out; the configuration's keys are never read.
func TestKeysWatcher(t *testing.T) {
	_, c := seeded(t)
	kp := KeysPrefix(testPrefix)
	put := func(k, v string) {
		if _, err := c.Put(t.Context(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	put(DNSSECPublicKey(kp, "a.test"), `{"zone":"a.test."}`)
	put(DNSSECPrivateKey(kp, "a.test", 7), "secret-7")
	put(kp+"private/a.test/not-a-tag", "x")

	var mu sync.Mutex
	var got []map[string]*ZoneKeys
	w := NewKeysWatcher(c, testPrefix, slog.New(slog.DiscardHandler), NewMetrics(prometheus.NewRegistry()), func(z map[string]*ZoneKeys) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, z)
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	last := func() map[string]*ZoneKeys {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			return nil
		}
		return got[len(got)-1]
	}
	wait := func(what string, cond func(map[string]*ZoneKeys) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond(last()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s; last %+v", what, last())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("the first list", func(z map[string]*ZoneKeys) bool {
		a := z["a.test"]
		return a != nil && string(a.Public) == `{"zone":"a.test."}` && a.ModRevision > 0 && len(a.Private) == 1 && a.Private[7] == "secret-7"
	})
	if len(last()) != 1 {
		t.Errorf("zones %v, want only a.test (the configuration is not the keys)", last())
	}

	// A rollover step: the key set and a new private key in one transaction.
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if _, err := c.Txn(t.Context()).Then(
		clientv3.OpPut(DNSSECPublicKey(kp, "a.test"), `{"zone":"a.test.","step":2}`),
		clientv3.OpPut(DNSSECPrivateKey(kp, "a.test", 8), "secret-8"),
	).Commit(); err != nil {
		t.Fatal(err)
	}
	wait("the step", func(z map[string]*ZoneKeys) bool { a := z["a.test"]; return a != nil && len(a.Private) == 2 })
	mu.Lock()
	handed := len(got) - n
	mu.Unlock()
	if handed != 1 {
		t.Errorf("the step was handed on in %d parts, want 1", handed)
	}
	if _, err := c.Delete(t.Context(), DNSSECPrivateKey(kp, "a.test", 7)); err != nil {
		t.Fatal(err)
	}
	wait("the delete", func(z map[string]*ZoneKeys) bool {
		a := z["a.test"]
		return a != nil && len(a.Private) == 1 && a.Private[8] == "secret-8"
	})
}
