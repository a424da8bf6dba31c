package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/schema"
)

// Errors of the Admin's writes, checked with errors.Is.
var (
	// ErrConflict: the keys changed between the read a write was based on
	// and the write; nothing was written.
	ErrConflict = errors.New("the configuration changed since it was read")
	// ErrNoRegion: the region of a weight has no document.
	ErrNoRegion = errors.New("region does not exist")
)

// MaxTxnOps is etcd's default limit on the operations, and separately the
// compares, of one transaction (--max-txn-ops). ApplyConfig writes every
// change in one transaction, so a change set is limited to this size.
const MaxTxnOps = 128

// Admin reads and writes the configuration keys for operator tools
// (glbctl): whole-configuration reads and compare-and-swap writes, and
// weights. glbd and glbprobe never write the configuration.
type Admin struct {
	c      *clientv3.Client
	prefix string
}

// NewAdmin returns an Admin of the keys under prefix.
func NewAdmin(c *clientv3.Client, prefix string) *Admin { return &Admin{c: c, prefix: prefix} }

// ConfigSnapshot is the configuration part of the prefix, everything under
// regions/ and zones/, as read at one revision. Prober and health keys are
// left out: they change every few seconds and are not configuration; so are
// drain schedules (regions/<region>/schedule), which glbctl drain owns.
type ConfigSnapshot struct {
	Revision     int64             // etcd revision of the read
	Values       map[string]string // full key -> value
	ModRevisions map[string]int64  // full key -> revision of its last change
}

// configPrefixes are the sub-prefixes holding configuration.
func (a *Admin) configPrefixes() []string {
	return []string{a.prefix + "regions/", a.prefix + "zones/"}
}

// ReadConfig reads the configuration keys. Both ranges are read in one
// transaction, so they reflect the same revision.
func (a *Admin) ReadConfig(ctx context.Context) (*ConfigSnapshot, error) {
	var ops []clientv3.Op
	for _, p := range a.configPrefixes() {
		ops = append(ops, clientv3.OpGet(p, clientv3.WithPrefix()))
	}
	resp, err := a.c.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, fmt.Errorf("read configuration under %q: %w", a.prefix, denied(OpRead, a.prefix, true, err))
	}
	s := &ConfigSnapshot{Revision: resp.Header.Revision, Values: map[string]string{}, ModRevisions: map[string]int64{}}
	for _, r := range resp.Responses {
		for _, kv := range r.GetResponseRange().Kvs {
			if isOverride(a.prefix, string(kv.Key)) {
				continue
			}
			s.Values[string(kv.Key)] = string(kv.Value)
			s.ModRevisions[string(kv.Key)] = kv.ModRevision
		}
	}
	return s, nil
}

// ChangeOp is what a Change does to its key.
type ChangeOp int

// The kinds of change.
const (
	ChangeAdd    ChangeOp = iota // the key is new
	ChangeUpdate                 // the key's value changes
	ChangeDelete                 // the key goes
)

// Change is one key's difference between etcd and the wanted configuration.
type Change struct {
	Op       ChangeOp
	Key      string // full key
	Old, New string // Old is empty for ChangeAdd, New for ChangeDelete
}

// DiffConfig lists, sorted by key, what turns cur into want (full key ->
// value). Values that differ only in JSON formatting or in a weight's
// surrounding space are equal: rewriting them would change nothing glbd
// serves, only move revisions.
func DiffConfig(cur *ConfigSnapshot, want map[string]string) []Change {
	var out []Change
	for _, k := range slices.Sorted(maps.Keys(want)) {
		old, ok := cur.Values[k]
		switch {
		case !ok:
			out = append(out, Change{Op: ChangeAdd, Key: k, New: want[k]})
		case !sameValue(old, want[k]):
			out = append(out, Change{Op: ChangeUpdate, Key: k, Old: old, New: want[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cur.Values)) {
		if _, ok := want[k]; !ok {
			out = append(out, Change{Op: ChangeDelete, Key: k, Old: cur.Values[k]})
		}
	}
	slices.SortStableFunc(out, func(x, y Change) int { return strings.Compare(x.Key, y.Key) })
	return out
}

func sameValue(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == b {
		return true
	}
	var ca, cb bytes.Buffer
	return json.Compact(&ca, []byte(a)) == nil && json.Compact(&cb, []byte(b)) == nil && ca.String() == cb.String()
}

// ApplyConfig writes changes (from DiffConfig against cur) in one
// transaction, on condition that the configuration is still as cur read
// it: no key under regions/ or zones/ was written after cur.Revision (that
// also catches keys created since), and every key cur read still exists at
// the revision it had (a deletion leaves no key to compare, so each is
// compared on its own while the compares fit in MaxTxnOps; beyond that a
// concurrent deletion goes unnoticed). When the condition fails nothing is
// written and the error wraps ErrConflict: two operators cannot overwrite
// each other's changes unseen.
func (a *Admin) ApplyConfig(ctx context.Context, cur *ConfigSnapshot, changes []Change) error {
	return a.applyConfig(ctx, cur, changes, nil)
}

// applyConfig is ApplyConfig with extra conditions of the transaction.
func (a *Admin) applyConfig(ctx context.Context, cur *ConfigSnapshot, changes []Change, cmps []clientv3.Cmp) error {
	if len(changes) == 0 {
		return nil
	}
	if len(changes) > MaxTxnOps {
		return fmt.Errorf("apply configuration: %d changes are more than etcd's %d operations per transaction; apply them in parts", len(changes), MaxTxnOps)
	}
	for _, p := range a.configPrefixes() {
		// Holds when every key in the range satisfies it, and is checked
		// against a zero key when the range is empty.
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(p).WithPrefix(), "<", cur.Revision+1))
	}
	if len(cmps)+len(cur.ModRevisions) <= MaxTxnOps {
		for _, k := range slices.Sorted(maps.Keys(cur.ModRevisions)) {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", cur.ModRevisions[k]))
		}
	}
	ops := make([]clientv3.Op, 0, len(changes))
	for _, ch := range changes {
		if !a.isConfigKey(ch.Key) {
			return fmt.Errorf("apply configuration: key %q is not under %sregions/ or %szones/", ch.Key, a.prefix, a.prefix)
		}
		if ch.Op == ChangeDelete {
			ops = append(ops, clientv3.OpDelete(ch.Key))
		} else {
			ops = append(ops, clientv3.OpPut(ch.Key, ch.New))
		}
	}
	resp, err := a.c.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("apply configuration: %w", denied(OpWrite, a.prefix, true, err))
	}
	if !resp.Succeeded {
		return fmt.Errorf("apply configuration read at revision %d: %w", cur.Revision, ErrConflict)
	}
	return nil
}

func (a *Admin) isConfigKey(k string) bool {
	for _, p := range a.configPrefixes() {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// ReadState lists everything under the prefix, the live part included,
// and assembles it with a schema.Builder as glbd does. A fresh Builder has
// no last good values, so a rejected key is simply missing from the State.
func (a *Admin) ReadState(ctx context.Context) (*schema.State, error) {
	resp, err := a.c.Get(ctx, a.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list etcd prefix %q: %w", a.prefix, denied(OpRead, a.prefix, true, err))
	}
	b := schema.NewBuilder(a.prefix)
	for _, kv := range resp.Kvs {
		b.Put(string(kv.Key), kv.Value, kv.ModRevision)
	}
	st, _ := b.State(resp.Header.Revision)
	return st, nil
}

// Weight is a region's weight key as read.
type Weight struct {
	Value       int    // the weight in force: DefaultWeight when the key is absent, -1 when its value is invalid
	Raw         string // the key's value; "" when absent
	Set         bool   // the key exists
	ModRevision int64  // revision of its last change; 0 when absent
}

// Weight reads a region's weight. The error wraps ErrNoRegion when the
// region has no document.
func (a *Admin) Weight(ctx context.Context, region string) (Weight, error) {
	resp, err := a.c.Txn(ctx).Then(
		clientv3.OpGet(schema.RegionKey(a.prefix, region), clientv3.WithCountOnly()),
		clientv3.OpGet(schema.WeightKey(a.prefix, region)),
	).Commit()
	if err != nil {
		return Weight{}, fmt.Errorf("read weight of region %q: %w", region, denied(OpRead, schema.WeightKey(a.prefix, region), false, err))
	}
	if resp.Responses[0].GetResponseRange().Count == 0 {
		return Weight{}, fmt.Errorf("read weight of region %q: %w (no %s)", region, ErrNoRegion, schema.RegionKey(a.prefix, region))
	}
	return weightOf(resp.Responses[1].GetResponseRange().Kvs), nil
}

func weightOf(kvs []*mvccpb.KeyValue) Weight {
	if len(kvs) == 0 {
		return Weight{Value: schema.DefaultWeight}
	}
	w := Weight{Raw: string(kvs[0].Value), Set: true, ModRevision: kvs[0].ModRevision}
	v, err := schema.ParseWeight(kvs[0].Value)
	if err != nil {
		v = -1
	}
	w.Value = v
	return w
}

// SetWeight writes a region's weight (0..schema.MaxWeight) if the region
// has a document, and, when ifModRev >= 0, only if the weight key's mod
// revision is still ifModRev (0: the key is still absent), so that a ramp
// stops rather than fight another operator. It returns the revision of the
// write. Errors wrap ErrNoRegion or ErrConflict.
func (a *Admin) SetWeight(ctx context.Context, region string, w int, ifModRev int64) (int64, error) {
	if _, err := schema.ParseWeight([]byte(strconv.Itoa(w))); err != nil {
		return 0, fmt.Errorf("set weight of region %q: %w", region, err)
	}
	rk, wk := schema.RegionKey(a.prefix, region), schema.WeightKey(a.prefix, region)
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(rk), ">", 0)}
	if ifModRev >= 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(wk), "=", ifModRev))
	}
	resp, err := a.c.Txn(ctx).If(cmps...).
		Then(clientv3.OpPut(wk, strconv.Itoa(w))).
		Else(clientv3.OpGet(rk, clientv3.WithCountOnly())).Commit()
	if err != nil {
		return 0, fmt.Errorf("set weight of region %q: %w", region, denied(OpWrite, wk, false, err))
	}
	if !resp.Succeeded {
		if resp.Responses[0].GetResponseRange().Count == 0 {
			return 0, fmt.Errorf("set weight of region %q: %w (no %s)", region, ErrNoRegion, rk)
		}
		return 0, fmt.Errorf("set weight of region %q: %w (the weight was changed meanwhile)", region, ErrConflict)
	}
	return resp.Header.Revision, nil
}
