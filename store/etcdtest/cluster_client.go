package etcdtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// opTimeout bounds one helper operation, retries included: long enough to
// ride out an election on a loaded machine.
const opTimeout = 10 * time.Second

// attemptTimeout bounds one try: a write that reached a member whose leader
// was just killed waits for nothing, and another try after the election
// succeeds at once.
const attemptTimeout = 500 * time.Millisecond

// Client returns a new client of the given members (of every member when
// none is given), closed when the test ends. It reconnects quickly after a
// Restart and logs nothing.
func (c *Cluster) Client(t testing.TB, members ...int) *clientv3.Client {
	t.Helper()
	eps := c.Endpoints()
	if len(members) > 0 {
		eps = nil
		for _, i := range members {
			eps = append(eps, c.Endpoint(i))
		}
	}
	cl, err := clientv3.New(clientv3.Config{
		Endpoints:   eps,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		t.Fatalf("etcdtest: new cluster client: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// ownClient is a client made on first use and closed with the test.
func (c *Cluster) ownClient(t testing.TB) *clientv3.Client {
	c.clientOnce.Do(func() { c.client = c.Client(t) })
	return c.client
}

// retry runs op until it succeeds or opTimeout passes: a helper called
// while a member is being killed must not fail the test for it.
func retry[T any](t testing.TB, what string, op func(ctx context.Context) (T, error)) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	defer cancel()
	for {
		octx, ocancel := context.WithTimeout(ctx, attemptTimeout)
		v, err := op(octx)
		ocancel()
		if err == nil {
			return v
		}
		if ctx.Err() != nil {
			t.Fatalf("etcdtest: %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Put writes key=value, retrying for up to 10s, and returns the revision
// of the write.
func (c *Cluster) Put(t testing.TB, key, value string) int64 {
	t.Helper()
	cl := c.ownClient(t)
	resp := retry(t, "put "+key, func(ctx context.Context) (*clientv3.PutResponse, error) {
		return cl.Put(ctx, key, value)
	})
	return resp.Header.Revision
}

// get reads key, retrying for up to 10s.
func (c *Cluster) get(t testing.TB, key string, opts ...clientv3.OpOption) *clientv3.GetResponse {
	t.Helper()
	cl := c.ownClient(t)
	return retry(t, "get "+key, func(ctx context.Context) (*clientv3.GetResponse, error) {
		return cl.Get(ctx, key, opts...)
	})
}

// Get returns the value of key, or "" when it does not exist.
func (c *Cluster) Get(t testing.TB, key string) string {
	t.Helper()
	resp := c.get(t, key)
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// Lease returns the id of the lease key is attached to: 0 when it has none
// or does not exist.
func (c *Cluster) Lease(t testing.TB, key string) int64 {
	t.Helper()
	resp := c.get(t, key)
	if len(resp.Kvs) == 0 {
		return 0
	}
	return resp.Kvs[0].Lease
}

// GetPrefix returns every key under prefix with its value, and the
// revision the read saw.
func (c *Cluster) GetPrefix(t testing.TB, prefix string) (map[string]string, int64) {
	t.Helper()
	resp := c.get(t, prefix, clientv3.WithPrefix())
	out := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out, resp.Header.Revision
}

// Compact compacts the key space up to rev, physically: once it returns,
// no member serves an older revision.
func (c *Cluster) Compact(t testing.TB, rev int64) {
	t.Helper()
	cl := c.ownClient(t)
	retry(t, "compact", func(ctx context.Context) (*clientv3.CompactResponse, error) {
		resp, err := cl.Compact(ctx, rev, clientv3.WithCompactPhysical())
		if errors.Is(err, rpctypes.ErrCompacted) {
			return nil, nil // a retry after a compaction that did happen
		}
		return resp, err
	})
}
