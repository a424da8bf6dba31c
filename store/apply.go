package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ApplyOptions change what Apply does.
type ApplyOptions struct {
	// DryRun computes the changes and writes nothing.
	DryRun bool
	// IfEmpty writes only when no key at all exists under the prefix,
	// probers and health included, as dev mode seeds: a configuration an
	// operator wrote is never overwritten. When the prefix holds keys,
	// Apply writes nothing and returns no error.
	IfEmpty bool
	// BeforeWrite, when set, runs between the read and the write. Tests
	// use it to change etcd in that gap.
	BeforeWrite func()
}

// ApplyResult is what Apply found and did.
type ApplyResult struct {
	Revision int64    // the revision the changes were computed against
	Changes  []Change // what turns the configuration into the wanted one
	Written  bool     // the changes were written
}

// Apply makes the configuration under the prefix what want (full key ->
// value, keys under regions/ and zones/) says: it reads the configuration,
// computes the changes with DiffConfig and writes them with ApplyConfig, in
// one transaction that holds only if nothing changed since the read. It is
// the one way a whole configuration is written: glbctl apply and glbd -dev's
// seed both call it. The result is returned with the error, so that a
// refused write can still show what it would have changed.
func (a *Admin) Apply(ctx context.Context, want map[string]string, opt ApplyOptions) (*ApplyResult, error) {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if !a.isConfigKey(k) {
			return nil, fmt.Errorf("apply configuration: key %q is not under %sregions/ or %szones/", k, a.prefix, a.prefix)
		}
	}
	cur, err := a.ReadConfig(ctx)
	if err != nil {
		return nil, err
	}
	res := &ApplyResult{Revision: cur.Revision, Changes: DiffConfig(cur, want)}
	if opt.IfEmpty && len(cur.Values) > 0 || opt.DryRun || len(res.Changes) == 0 {
		return res, nil
	}
	if opt.BeforeWrite != nil {
		opt.BeforeWrite()
	}
	var extra []clientv3.Cmp
	if opt.IfEmpty {
		// A range compare holds when every key in the range satisfies it,
		// and is checked against a zero key when the range is empty: so
		// this is "no key under the prefix exists".
		extra = append(extra, clientv3.Compare(clientv3.CreateRevision(a.prefix), "=", 0).WithPrefix())
	}
	if err := a.applyConfig(ctx, cur, res.Changes, extra); err != nil {
		if opt.IfEmpty && errors.Is(err, ErrConflict) {
			return res, nil
		}
		return res, err
	}
	res.Written = true
	return res, nil
}
