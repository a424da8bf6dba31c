package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/internal/lifecycle"
)

// KeysWatcher lists and watches the DNSSEC keys prefix (KeysPrefix) beside
// the configuration's Watcher: one loop per prefix, so that the keys'
// private half never passes through what reads the configuration (the
// cache file, the Builder, export). It hands on every zone's keys, whole,
// after the first list and after each watch response that changed any.
type KeysWatcher struct {
	c      *clientv3.Client
	prefix string // the keys prefix, e.g. /glb-keys/
	log    *slog.Logger
	onKeys func(map[string]*ZoneKeys)
	clock  clock
	bo     *backoff
	kvs    map[string]kvValue // Run's goroutine only
	denied *prometheus.CounterVec
	life   *lifecycle.Lifecycle
}

type kvValue struct {
	value  []byte
	modRev int64
}

// NewKeysWatcher returns a watcher of the keys of the configuration under
// prefix (it watches KeysPrefix(prefix)). onKeys is called from Run's
// goroutine, one call at a time, with every zone's keys by zone name
// (fully qualified, as glbctl dnssec writes them); it must not keep or
// change the map's values.
func NewKeysWatcher(c *clientv3.Client, prefix string, log *slog.Logger, m *Metrics, onKeys func(map[string]*ZoneKeys)) *KeysWatcher {
	w := &KeysWatcher{c: c, prefix: KeysPrefix(prefix), log: log.With("component", "store", "watch", "dnssec keys"), onKeys: onKeys,
		denied: m.denied, clock: realClock{}, bo: newBackoff(backoffMin, backoffMax)}
	w.life = lifecycle.New(lifecycle.Config{Name: "dnssec keys watcher", Logger: w.log, Panics: m.panics})
	return w
}

// Run lists and watches until ctx is done or Close is called, retrying
// with backoff while etcd cannot be read (a credential without read access
// to the keys prefix is said as such). The keys handed on last stay in
// force meanwhile.
func (w *KeysWatcher) Run(ctx context.Context) error {
	return w.life.Run(ctx, func(ctx context.Context) error {
		for {
			rev, err := w.list(ctx)
			if err == nil {
				w.watch(ctx, rev)
			}
			if ctx.Err() != nil {
				return nil
			}
			d := w.bo.next()
			if err != nil && !reportDenied(w.log, w.denied, OpList, w.prefix, true, err) {
				w.log.Warn("list etcd prefix", "prefix", w.prefix, "err", err, "retry_in_seconds", d.Seconds())
			}
			if !sleep(ctx, w.clock, d) {
				return nil
			}
		}
	})
}

// Close stops Run and waits for it to return.
func (w *KeysWatcher) Close() { _ = w.life.Close() }

func (w *KeysWatcher) list(ctx context.Context) (int64, error) {
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	resp, err := w.c.Get(lctx, w.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("list etcd prefix %q: %w", w.prefix, denied(OpList, w.prefix, true, err))
	}
	w.kvs = make(map[string]kvValue, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		w.kvs[string(kv.Key)] = kvValue{kv.Value, kv.ModRevision}
	}
	w.emit()
	return resp.Header.Revision, nil
}

func (w *KeysWatcher) watch(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range w.c.Watch(wctx, w.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			if !errors.Is(err, rpctypes.ErrCompacted) {
				reportDenied(w.log, w.denied, OpWatch, w.prefix, true, err)
			}
			w.log.Info("restarting etcd watch", "prefix", w.prefix, "reason", err.Error())
			return
		}
		if len(resp.Events) == 0 {
			continue
		}
		w.bo.reset()
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypeDelete {
				delete(w.kvs, string(ev.Kv.Key))
			} else {
				w.kvs[string(ev.Kv.Key)] = kvValue{ev.Kv.Value, ev.Kv.ModRevision}
			}
		}
		w.emit() // one hand-on per response: a rollover step is one transaction
	}
}

// emit groups the keys by zone and hands them on. Keys that fit neither
// layout are logged and left out.
func (w *KeysWatcher) emit() {
	zones := map[string]*ZoneKeys{}
	zone := func(name string) *ZoneKeys {
		if zones[name] == nil {
			zones[name] = &ZoneKeys{Private: map[uint16]string{}}
		}
		return zones[name]
	}
	for _, k := range slices.Sorted(maps.Keys(w.kvs)) {
		v := w.kvs[k]
		rest := strings.TrimPrefix(k, w.prefix)
		switch {
		case strings.HasPrefix(rest, "public/") && !strings.Contains(rest[len("public/"):], "/"):
			zk := zone(rest[len("public/"):])
			zk.Public, zk.ModRevision = v.value, v.modRev
		case strings.HasPrefix(rest, "private/"):
			name, tagText, ok := strings.Cut(rest[len("private/"):], "/")
			tag, err := strconv.ParseUint(tagText, 10, 16)
			if !ok || err != nil {
				w.log.Warn("ignored etcd key: not a private key's place", "key", k)
				continue
			}
			zone(name).Private[uint16(tag)] = string(v.value)
		default:
			w.log.Warn("ignored etcd key: not a dnssec key's place", "key", k)
		}
	}
	w.onKeys(zones)
}
