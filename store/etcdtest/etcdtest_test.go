package etcdtest

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestStopRestartKeepsDataAndPorts(t *testing.T) {
	start := time.Now()
	s := Start(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Start took %s", d)
	}
	eps := s.Endpoints()
	c := s.Client(t)
	// An open watch is what makes a plain etcd shutdown slow.
	wch := c.Watch(t.Context(), "k")
	if _, err := c.Put(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	<-wch

	start = time.Now()
	s.Stop(t)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop with an open watch took %s", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, "k"); err == nil {
		t.Fatal("Get succeeded while etcd is stopped")
	}

	s.Restart(t)
	if !slices.Equal(s.Endpoints(), eps) {
		t.Errorf("endpoints after Restart %v, want %v", s.Endpoints(), eps)
	}
	// The same client reconnects, and the data is still there.
	resp, err := c.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Errorf("after Restart k = %v, want v", resp.Kvs)
	}
}
