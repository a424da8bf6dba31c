package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/schema"
)

// ErrNoName: the GSLB name of a per-name weight has no document.
var ErrNoName = errors.New("name does not exist")

// NameWeight reads a region's weight for one name: the name's own weight
// key when it is set; otherwise Set is false and Value is the region's
// weight in force. The error wraps ErrNoName or ErrNoRegion.
func (a *Admin) NameWeight(ctx context.Context, zone, label, region string) (Weight, error) {
	nk, wk := schema.NameKey(a.prefix, zone, label), schema.NameWeightKey(a.prefix, zone, label, region)
	resp, err := a.c.Txn(ctx).Then(
		clientv3.OpGet(nk, clientv3.WithCountOnly()),
		clientv3.OpGet(wk),
	).Commit()
	if err != nil {
		return Weight{}, fmt.Errorf("read weight of %s for %s: %w", region, label, denied(OpRead, wk, false, err))
	}
	if resp.Responses[0].GetResponseRange().Count == 0 {
		return Weight{}, fmt.Errorf("read weight of %s for %s: %w (no %s)", region, label, ErrNoName, nk)
	}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		return weightOf(kvs), nil
	}
	w, err := a.Weight(ctx, region)
	w.Set, w.Raw, w.ModRevision = false, "", 0
	return w, err
}

// SetNameWeight writes a region's weight for one name (0..MaxWeight), or
// deletes it when w is negative so that the region's weight applies again,
// if the name has a document; ifModRev as SetWeight's. Errors wrap
// ErrNoName or ErrConflict.
func (a *Admin) SetNameWeight(ctx context.Context, zone, label, region string, w int, ifModRev int64) (int64, error) {
	nk, wk := schema.NameKey(a.prefix, zone, label), schema.NameWeightKey(a.prefix, zone, label, region)
	op := clientv3.OpDelete(wk)
	if w >= 0 {
		if _, err := schema.ParseWeight([]byte(strconv.Itoa(w))); err != nil {
			return 0, fmt.Errorf("set weight of %s for %s: %w", region, label, err)
		}
		op = clientv3.OpPut(wk, strconv.Itoa(w))
	}
	return a.putIfExists(ctx, nk, wk, op, ifModRev, ErrNoName, "set weight of "+region+" for "+label)
}

// SetAdmin writes the admin state of a region, or of one of its endpoints
// when endpoint is not "", if the region has a document; a nil state
// deletes the key, so the probers decide again. Errors wrap ErrNoRegion.
func (a *Admin) SetAdmin(ctx context.Context, region, endpoint string, st *schema.AdminState) (int64, error) {
	rk, ak := schema.RegionKey(a.prefix, region), schema.AdminKey(a.prefix, region, endpoint)
	op := clientv3.OpDelete(ak)
	if st != nil {
		op = clientv3.OpPut(ak, st.String())
	}
	return a.putIfExists(ctx, rk, ak, op, -1, ErrNoRegion, "set admin state of "+region)
}

// putIfExists runs op on key if parent exists and, when ifModRev >= 0,
// key's mod revision is still ifModRev; noParent is the error wrapped when
// the parent is missing.
func (a *Admin) putIfExists(ctx context.Context, parent, key string, op clientv3.Op, ifModRev int64, noParent error, what string) (int64, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(parent), ">", 0)}
	if ifModRev >= 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", ifModRev))
	}
	resp, err := a.c.Txn(ctx).If(cmps...).Then(op).Else(clientv3.OpGet(parent, clientv3.WithCountOnly())).Commit()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, denied(OpWrite, key, false, err))
	}
	if !resp.Succeeded {
		if resp.Responses[0].GetResponseRange().Count == 0 {
			return 0, fmt.Errorf("%s: %w (no %s)", what, noParent, parent)
		}
		return 0, fmt.Errorf("%s: %w (%s was changed meanwhile)", what, ErrConflict, key)
	}
	return resp.Header.Revision, nil
}

// ZonesWithName lists the zones that have a GSLB name with label, so a
// tool can take a bare label when only one zone has it.
func (a *Admin) ZonesWithName(ctx context.Context, label string) ([]string, error) {
	p := a.prefix + "zones/"
	resp, err := a.c.Get(ctx, p, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("list zones: %w", denied(OpRead, p, true, err))
	}
	var zones []string
	for _, kv := range resp.Kvs {
		if k, err := schema.ParseKey(a.prefix, string(kv.Key)); err == nil && k.Kind == schema.KindName && k.Label == label {
			zones = append(zones, k.Zone)
		}
	}
	return zones, nil
}

// isOverride says whether key is an operator's override (a per-name
// weight, an admin state) rather than configuration: the configuration
// file leaves them out, so export does not list them and apply never
// deletes them (a file applied during an incident must not undo a drain
// or an admin state); glbctl status lists them.
func isOverride(prefix, key string) bool {
	k, err := schema.ParseKey(prefix, key)
	if err != nil {
		return false
	}
	// A region's load lies under regions/ too, and is live data (an
	// autoscaler's); a drain schedule is an operation in progress: apply
	// must neither show nor delete either.
	switch k.Kind {
	case schema.KindNameWeight, schema.KindAdmin, schema.KindLoad, schema.KindSchedule, schema.KindNameSchedule:
		return true
	}
	return false
}
