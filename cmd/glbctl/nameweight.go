package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// weightTarget is what a weight command changes: a region's weight, or
// with --name the region's weight for one GSLB name.
type weightTarget struct {
	region      string
	zone, label string // "" for the region's own weight
}

// String names the target in output: "eu-west" or "eu-west for www.gslb.example.test".
func (t weightTarget) String() string {
	if t.label == "" {
		return t.region
	}
	return t.region + " for " + strings.TrimSuffix(schema.Owner(t.zone, t.label), ".")
}

// target resolves the --name and --zone flags: without --zone, the zone is
// the only one that has a name with that label.
func (a *app) target(ctx context.Context, adm *store.Admin, region string, r *rampFlags) (weightTarget, error) {
	t := weightTarget{region: region, zone: r.zone, label: r.name}
	if t.label == "" {
		if t.zone != "" {
			return t, fmt.Errorf("%w: --zone needs --name", errUsage)
		}
		return t, nil
	}
	if _, err := schema.ParseKey("/", schema.NameKey("/", "example.test", t.label)); err != nil {
		return t, fmt.Errorf("%w: --name %q is not a label of a name (relative to its zone, \"@\" for the apex)", errUsage, t.label)
	}
	if t.zone != "" {
		return t, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	zones, err := adm.ZonesWithName(ctx, t.label)
	if err != nil {
		return t, a.etcdErr(err)
	}
	switch len(zones) {
	case 0:
		return t, fmt.Errorf("no zone has a name %q (no %s)", t.label, schema.NameKey(a.g.prefix, "<zone>", t.label))
	case 1:
		t.zone = zones[0]
		return t, nil
	}
	return t, fmt.Errorf("%w: zones %s all have a name %q: say which with --zone", errUsage, strings.Join(zones, ", "), t.label)
}

// readTarget reads the weight in force for t.
func (a *app) readTarget(ctx context.Context, adm *store.Admin, t weightTarget) (store.Weight, error) {
	if t.label == "" {
		return a.readWeight(ctx, adm, t.region)
	}
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	w, err := adm.NameWeight(ctx, t.zone, t.label, t.region)
	return w, a.targetErr(t, err)
}

// writeTarget writes t's weight (negative: delete a name's own weight),
// compare-and-swap on rev as Admin.SetWeight.
func (a *app) writeTarget(ctx context.Context, adm *store.Admin, t weightTarget, w int, rev int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	if t.label == "" {
		n, err := adm.SetWeight(ctx, t.region, w, rev)
		return n, a.targetErr(t, err)
	}
	n, err := adm.SetNameWeight(ctx, t.zone, t.label, t.region, w, rev)
	return n, a.targetErr(t, err)
}

func (a *app) targetErr(t weightTarget, err error) error { return t.err(a, err) }

// err says what a store error means for t.
func (t weightTarget) err(a *app, err error) error {
	switch {
	case errors.Is(err, store.ErrNoRegion):
		return fmt.Errorf("region %q does not exist (no %s)", t.region, schema.RegionKey(a.g.prefix, t.region))
	case errors.Is(err, store.ErrNoName):
		return fmt.Errorf("name %q does not exist (no %s)", t.label, schema.NameKey(a.g.prefix, t.zone, t.label))
	case errors.Is(err, store.ErrConflict):
		return err
	}
	return a.etcdErr(err)
}

// describeTarget describes the weight read for t.
func describeTarget(t weightTarget, w store.Weight) string {
	if t.label != "" && !w.Set {
		return fmt.Sprintf("weight %d (no weight for the name: the region's)", w.Value)
	}
	return describeWeight(w)
}
