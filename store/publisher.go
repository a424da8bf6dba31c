package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/internal/lifecycle"
	"github.com/glb-dns/glb/store/schema"
)

// Publisher lease limits. etcd grants TTLs in whole seconds.
const (
	DefaultLeaseTTL = 10 * time.Second // PublisherConfig.LeaseTTL when zero
	MinLeaseTTL     = 2 * time.Second  // shorter TTLs are raised to this
)

// Publisher timing. A write is one small key; the timeouts only bound the
// wait on a sick etcd, so that a prober never stalls behind it for long.
const (
	publishTimeout  = 2 * time.Second // one Publish or Withdraw
	grantTimeout    = 5 * time.Second // a grant and the rewrite that follows it
	revokeTimeout   = 2 * time.Second // a revoke on the way out
	leaseBackoffMin = 100 * time.Millisecond
	leaseBackoffMax = 5 * time.Second
	// txnOps keeps each rewrite transaction under etcd's default limit of
	// 128 operations per transaction (--max-txn-ops).
	txnOps = 100
)

// PublisherConfig says who the prober is and how its lease behaves.
type PublisherConfig struct {
	// Prefix is the etcd key prefix, e.g. schema.DefaultPrefix.
	Prefix string
	// ProberID names the prober in its keys; it must be a valid schema id.
	ProberID string
	// Info is written at <Prefix>probers/<ProberID> under the lease.
	Info schema.ProberInfo
	// LeaseTTL is how long the prober's keys outlive it. Default 10s,
	// at least 2s; rounded up to whole seconds.
	LeaseTTL time.Duration
}

// Publisher writes a prober's registration and verdicts into etcd under a
// lease, in the manner of etcd's concurrency.Session: it grants a lease,
// keeps it alive and, when the prober stops cleanly, revokes it, so the
// prober's results disappear at once; when the prober dies, they expire with
// the lease. It implements health.Publisher.
//
// It remembers the latest verdict on every endpoint, so that when the lease
// is lost (etcd was away longer than the TTL) it can grant a new one and
// write everything again: results come back on their own after an outage.
//
// etcd write load, per prober: one put per Publish (the prober publishes on
// every verdict change and every refresh interval) and one delete per
// Withdraw, one keepalive every TTL/3, and after a lost lease a rewrite of
// the registration and all verdicts in transactions of up to 100 keys.
type Publisher struct {
	c      *clientv3.Client
	prefix string
	id     string
	info   schema.ProberInfo
	ttl    time.Duration
	log    *slog.Logger
	m      *PublisherMetrics

	clock        clock
	backoff      *backoff
	grantTimeout time.Duration // grantTimeout; tests shorten it
	// skipRevoke makes Run exit without revoking its lease, as a prober
	// that crashed would: tests use it to see keys expire with the lease.
	skipRevoke bool

	// switchMu orders writes around a change of lease. Publish and Withdraw
	// hold it shared while they write, so they run in parallel; Run holds
	// it exclusively while it writes everything under a new lease or
	// retries failed writes, so that an older value it writes can never
	// land in etcd after a newer one written by Publish.
	switchMu sync.RWMutex

	mu       sync.Mutex
	lease    clientv3.LeaseID    // NoLease while none is held
	verdicts map[string]*verdict // by health key
	seq      uint64

	life *lifecycle.Lifecycle
}

// verdict is what the Publisher remembers about one health key.
type verdict struct {
	value []byte // JSON report; nil for a withdrawn key whose delete failed
	seq   uint64 // set by each Publish or Withdraw of the key
	dirty bool   // etcd may not hold value (or still hold the withdrawn key)
}

// NewPublisher returns a Publisher for the prober cfg describes. It does
// nothing until Run.
func NewPublisher(c *clientv3.Client, cfg PublisherConfig, log *slog.Logger, m *PublisherMetrics) *Publisher {
	ttl := cfg.LeaseTTL
	if ttl == 0 {
		ttl = DefaultLeaseTTL
	}
	ttl = max(ttl, MinLeaseTTL)
	p := &Publisher{
		c:            c,
		prefix:       cfg.Prefix,
		id:           cfg.ProberID,
		info:         cfg.Info,
		ttl:          ttl,
		log:          log.With("component", "publisher", "prober", cfg.ProberID),
		m:            m,
		clock:        realClock{},
		backoff:      newBackoff(leaseBackoffMin, leaseBackoffMax),
		grantTimeout: grantTimeout,
		verdicts:     map[string]*verdict{},
	}
	p.life = lifecycle.New(lifecycle.Config{Name: "prober publisher", Logger: p.log, Panics: m.panics})
	return p
}

// Run holds the prober's lease until ctx is cancelled or Close is called,
// then revokes it (waiting at most 2s) and returns nil. While etcd is
// unreachable, including at start-up, it retries with capped backoff; a
// lease lost meanwhile is replaced and everything is written again. It
// returns an error if the prober's id or info is invalid, if it is already
// running or has run, or if a panic was recovered.
func (p *Publisher) Run(ctx context.Context) error {
	info, err := p.checkConfig()
	if err != nil {
		return err
	}
	return p.life.Run(ctx, func(ctx context.Context) error {
		p.loop(ctx, info)
		return nil
	})
}

// Close stops Run, which revokes the lease, and waits for it to return. A
// Publisher cannot be run again after Close.
func (p *Publisher) Close() {
	_ = p.life.Close() // a stop timeout is logged by lifecycle
}

// checkConfig validates the id and info, and encodes the info: a bad value
// would only be rejected by every reader, so it is refused here instead.
func (p *Publisher) checkConfig() ([]byte, error) {
	key := schema.ProberKey(p.prefix, p.id)
	if _, err := schema.ParseKey(p.prefix, key); err != nil {
		return nil, fmt.Errorf("prober key %q: %w", key, err)
	}
	if err := p.info.Validate(); err != nil {
		return nil, fmt.Errorf("prober info: %w", err)
	}
	info, err := json.Marshal(p.info)
	if err != nil {
		return nil, fmt.Errorf("encode prober info: %w", err)
	}
	return info, nil
}

// Publish remembers r as the verdict on endpoint of region and writes it
// under the lease, waiting at most 2s. Without a lease (before the first
// grant, or after one was lost) it only remembers it: Run writes it when a
// lease comes. A failed write is retried by Run once etcd answers again.
// Calls for one endpoint must not overlap.
func (p *Publisher) Publish(ctx context.Context, region, endpoint string, r schema.HealthReport) error {
	val, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("publish health: encode report: %w", err)
	}
	return p.set(ctx, "publish health", region, endpoint, val)
}

// Withdraw forgets the verdict on endpoint of region and deletes its key,
// waiting at most 2s. Without a lease there is nothing to delete that the
// next grant would not remove: Run revokes the lost lease, and its keys
// with it.
func (p *Publisher) Withdraw(ctx context.Context, region, endpoint string) error {
	return p.set(ctx, "withdraw health", region, endpoint, nil)
}

// set remembers value (nil: withdrawn) as dirty and writes it under the
// current lease, if there is one.
func (p *Publisher) set(ctx context.Context, what, region, endpoint string, value []byte) error {
	key := schema.HealthKey(p.prefix, region, endpoint, p.id)
	// A key readers would reject is refused here, where the caller sees it.
	if _, err := schema.ParseKey(p.prefix, key); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	p.switchMu.RLock()
	defer p.switchMu.RUnlock()
	p.mu.Lock()
	p.seq++
	lease, seq := p.lease, p.seq
	if value == nil && lease == clientv3.NoLease {
		delete(p.verdicts, key)
	} else {
		p.verdicts[key] = &verdict{value: value, seq: seq, dirty: true}
	}
	p.mu.Unlock()
	if lease == clientv3.NoLease {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if err := p.writeBatch(ctx, lease, []pending{{key: key, value: value, seq: seq}}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// markClean records that etcd holds what was remembered as seq. p.mu must
// be held.
func (p *Publisher) markClean(key string, seq uint64) {
	v := p.verdicts[key]
	switch {
	case v == nil || v.seq != seq:
		// Something newer was remembered; its own write will settle it.
	case v.value == nil:
		delete(p.verdicts, key)
	default:
		v.dirty = false
	}
}

// loop grants a lease, holds it until it is lost or ctx is done, and starts
// again, until ctx is done; then it revokes the lease it holds.
func (p *Publisher) loop(ctx context.Context, info []byte) {
	bo := p.backoff
	var lost clientv3.LeaseID // a lease lost and not yet revoked
	for {
		started := p.clock.Now()
		lease, keepAlive, stop, n, err := p.establish(ctx, info)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			waitedOut(bo, p.clock.Now().Sub(started), p.grantTimeout)
			d := bo.next()
			p.log.Warn("grant prober lease", "err", err, "retry_in_seconds", d.Seconds())
			if !sleep(ctx, p.clock, d) {
				return
			}
			continue
		}
		bo.reset()
		p.m.leaseUp.Set(1)
		p.log.Info("prober lease granted", "lease", fmt.Sprintf("%x", int64(lease)),
			"ttl_seconds", p.ttl.Seconds(), "verdicts", n)
		if lost != clientv3.NoLease {
			// Everything current was rewritten under the new lease; what the
			// old one still holds (verdicts withdrawn during the outage) must
			// go now rather than when it expires.
			p.revoke(ctx, lost)
			lost = clientv3.NoLease
		}
		p.hold(ctx, lease, keepAlive)
		stop()
		// Writes in flight under the lease finish first; later ones are
		// only remembered, and none fails for the revoke below.
		p.switchMu.Lock()
		p.mu.Lock()
		p.lease = clientv3.NoLease
		p.mu.Unlock()
		p.switchMu.Unlock()
		p.m.leaseUp.Set(0)
		if ctx.Err() != nil {
			if !p.skipRevoke {
				// The parent is done, but the revoke must still go out.
				p.revoke(context.WithoutCancel(ctx), lease)
			}
			p.log.Info("prober lease released", "lease", fmt.Sprintf("%x", int64(lease)), "revoked", !p.skipRevoke)
			return
		}
		p.log.Warn("prober lease lost; granting a new one", "lease", fmt.Sprintf("%x", int64(lease)))
		lost = lease
	}
}

// establish grants a lease, starts keeping it alive and writes the
// registration and every remembered verdict under it. stop ends the
// keepalive; n is the number of verdicts written. On failure it revokes the
// new lease, so no half-written set of keys outlives it.
//
// The results are not named: a failed return zeroes them, and the cleanup
// must still see the lease it revokes and the keepalive it stops.
func (p *Publisher) establish(ctx context.Context, info []byte) (clientv3.LeaseID,
	<-chan *clientv3.LeaseKeepAliveResponse, context.CancelFunc, int, error) {
	gctx, cancel := context.WithTimeout(ctx, p.grantTimeout)
	defer cancel()
	resp, err := p.c.Grant(gctx, int64((p.ttl+time.Second-1)/time.Second))
	if err != nil {
		reportDenied(p.log, p.m.denied, OpLeaseGrant, schema.ProberKey(p.prefix, p.id), false, err)
		return 0, nil, nil, 0, fmt.Errorf("grant lease of %s: %w", p.ttl, denied(OpLeaseGrant, schema.ProberKey(p.prefix, p.id), false, err))
	}
	p.m.grants.Inc()
	lease := resp.ID
	kctx, stop := context.WithCancel(ctx)
	fail := func(err error) (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse, context.CancelFunc, int, error) {
		stop()
		p.revoke(context.WithoutCancel(ctx), lease)
		return 0, nil, nil, 0, err
	}
	// Keepalives start before the rewrite, so that a long one cannot let
	// the lease expire under it.
	keepAlive, err := p.c.KeepAlive(kctx, lease)
	if err != nil {
		return fail(fmt.Errorf("keep lease %x alive: %w", int64(lease), err))
	}
	p.switchMu.Lock()
	defer p.switchMu.Unlock()
	ops := append([]pending{{key: schema.ProberKey(p.prefix, p.id), value: info}}, p.collect(true)...)
	if err := p.writeBatch(gctx, lease, ops); err != nil {
		return fail(fmt.Errorf("write prober keys under lease %x: %w", int64(lease), err))
	}
	p.mu.Lock()
	p.lease = lease
	p.mu.Unlock()
	return lease, keepAlive, stop, len(ops) - 1, nil
}

// hold drains the lease's keepalive responses until the channel closes (the
// lease expired, or etcd did not answer within the TTL) or ctx is done. A
// response shows that etcd answers again, so writes that failed meanwhile
// are retried then.
func (p *Publisher) hold(ctx context.Context, lease clientv3.LeaseID, keepAlive <-chan *clientv3.LeaseKeepAliveResponse) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-keepAlive:
			if !ok {
				return
			}
			if err := p.flush(ctx, lease); err != nil {
				p.log.Warn("retry prober writes", "err", err)
			}
		}
	}
}

// flush writes again every verdict whose last write failed.
func (p *Publisher) flush(ctx context.Context, lease clientv3.LeaseID) error {
	if len(p.collect(false)) == 0 {
		return nil
	}
	p.switchMu.Lock()
	defer p.switchMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.grantTimeout)
	defer cancel()
	return p.writeBatch(ctx, lease, p.collect(false))
}

// collect lists the verdicts to write: the dirty ones, or all of them for a
// new lease. A new lease drops withdrawn keys whose delete failed: they
// are under the lost lease, which is revoked or expires, taking them along.
func (p *Publisher) collect(all bool) []pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ops []pending
	for k, v := range p.verdicts {
		switch {
		case all && v.value == nil:
			delete(p.verdicts, k)
		case all || v.dirty:
			ops = append(ops, pending{key: k, value: v.value, seq: v.seq})
		}
	}
	return ops
}

// pending is one key to write in a batch; a nil value is a delete.
type pending struct {
	key   string
	value []byte
	seq   uint64
}

// writeBatch writes ops under lease in transactions of up to txnOps keys,
// so a rewrite costs a few round trips rather than one per key, and marks
// each verdict written clean.
func (p *Publisher) writeBatch(ctx context.Context, lease clientv3.LeaseID, ops []pending) error {
	for len(ops) > 0 {
		chunk := ops[:min(len(ops), txnOps)]
		ops = ops[len(chunk):]
		txn := make([]clientv3.Op, len(chunk))
		var puts, dels float64
		for i, o := range chunk {
			if o.value == nil {
				txn[i] = clientv3.OpDelete(o.key)
				dels++
			} else {
				txn[i] = clientv3.OpPut(o.key, string(o.value), clientv3.WithLease(lease))
				puts++
			}
		}
		p.m.writes.WithLabelValues(opPut).Add(puts)
		p.m.writes.WithLabelValues(opDelete).Add(dels)
		if _, err := p.c.Txn(ctx).Then(txn...).Commit(); err != nil {
			p.m.writeErrors.WithLabelValues(opPut).Add(puts)
			p.m.writeErrors.WithLabelValues(opDelete).Add(dels)
			// A prober whose role lacks a key says which, and goes on
			// checking; the write is retried like any other failed one.
			reportDenied(p.log, p.m.denied, OpWrite, chunk[0].key, false, err)
			err = denied(OpWrite, chunk[0].key, false, err)
			if len(chunk) == 1 {
				return fmt.Errorf("write %q: %w", chunk[0].key, err)
			}
			return fmt.Errorf("write %d keys: %w", len(chunk), err)
		}
		p.mu.Lock()
		for _, o := range chunk {
			if o.seq != 0 {
				p.markClean(o.key, o.seq)
			}
		}
		p.mu.Unlock()
	}
	return nil
}

// revoke revokes lease, waiting at most 2s; a lease that is already gone
// is fine. A failure is only logged: the lease expires within its TTL.
func (p *Publisher) revoke(ctx context.Context, lease clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	if _, err := p.c.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		p.log.Warn("revoke prober lease", "lease", fmt.Sprintf("%x", int64(lease)), "err", err)
	}
}

// Write operations, the values of the op label.
const (
	opPut    = "put"
	opDelete = "delete"
)
