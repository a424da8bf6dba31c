package etcdtest

import (
	"context"
	"testing"
	"time"
)

// TestClusterKillRestart checks what the failure tests rely on: a killed
// leader is replaced, a cluster without a quorum refuses writes, and
// killed members come back with their data on their endpoints.
func TestClusterKillRestart(t *testing.T) {
	start := time.Now()
	c := StartCluster(t, 3)
	t.Logf("cluster of 3 ready in %s", time.Since(start).Round(time.Millisecond))
	c.Put(t, "k", "1")

	old := c.Leader(t)
	start = time.Now()
	c.Kill(t, old)
	killed := time.Since(start)
	next := c.Leader(t)
	t.Logf("killing the leader took %s; new leader after %s", killed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if next == old {
		t.Fatalf("leader is still the killed member %d", old)
	}
	c.Put(t, "k", "2")

	// Two of three down: no quorum, so a write cannot succeed.
	c.Kill(t, next)
	cl := c.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := cl.Put(ctx, "k", "3"); err == nil {
		t.Fatal("put succeeded with two of three members killed")
	}

	c.KillAll(t)
	for i := range c.Size() {
		if c.Running(i) {
			t.Errorf("member %d runs after KillAll", i)
		}
	}
	start = time.Now()
	c.RestartAll(t)
	t.Logf("RestartAll took %s", time.Since(start).Round(time.Millisecond))
	if got := c.Get(t, "k"); got != "2" {
		t.Errorf("after RestartAll k = %q, want 2", got)
	}
	// The same client, with the same endpoints, works again.
	if _, err := cl.Put(t.Context(), "k", "4"); err != nil {
		t.Errorf("put through the old client after RestartAll: %v", err)
	}
	if rev := c.Put(t, "k", "5"); rev < 4 {
		t.Errorf("revision %d after four puts", rev)
	}
}
