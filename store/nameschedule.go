package store

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/schema"
)

// SetNameSchedule writes a region's drain schedule for one name if the
// name has a document, validated first as glbd would. Errors wrap ErrNoName.
func (a *Admin) SetNameSchedule(ctx context.Context, zone, label, region string, s *schema.Schedule) error {
	what := "set drain schedule of " + region + " for " + label
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	nk, sk := schema.NameKey(a.prefix, zone, label), schema.NameScheduleKey(a.prefix, zone, label, region)
	_, err = a.putIfExists(ctx, nk, sk, clientv3.OpPut(sk, string(v)), -1, ErrNoName, what)
	return err
}

// NameSchedule reads a region's drain schedule for one name: nil when it
// has none. A value glbd would refuse is an error naming the key.
func (a *Admin) NameSchedule(ctx context.Context, zone, label, region string) (*schema.Schedule, error) {
	return a.readSchedule(ctx, schema.NameScheduleKey(a.prefix, zone, label, region), "read drain schedule of "+region+" for "+label)
}

// DeleteNameSchedule deletes a region's drain schedule for one name; it
// reports whether there was one.
func (a *Admin) DeleteNameSchedule(ctx context.Context, zone, label, region string) (bool, error) {
	sk := schema.NameScheduleKey(a.prefix, zone, label, region)
	resp, err := a.c.Delete(ctx, sk)
	if err != nil {
		return false, fmt.Errorf("delete drain schedule of %s for %s: %w", region, label, denied(OpWrite, sk, false, err))
	}
	return resp.Deleted > 0, nil
}
