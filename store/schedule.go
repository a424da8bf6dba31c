package store

import (
	"context"
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/schema"
)

// SetSchedule writes a region's drain schedule if the region has a
// document. The schedule is validated first, as glbd would, so a bad one is
// refused here rather than rejected by every glbd. The error wraps
// ErrNoRegion when the region does not exist.
func (a *Admin) SetSchedule(ctx context.Context, region string, s *schema.Schedule) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("set drain schedule of region %q: %w", region, err)
	}
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("set drain schedule of region %q: %w", region, err)
	}
	rk, sk := schema.RegionKey(a.prefix, region), schema.ScheduleKey(a.prefix, region)
	resp, err := a.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(rk), ">", 0)).
		Then(clientv3.OpPut(sk, string(v))).Commit()
	if err != nil {
		return fmt.Errorf("set drain schedule of region %q: %w", region, denied(OpWrite, sk, false, err))
	}
	if !resp.Succeeded {
		return fmt.Errorf("set drain schedule of region %q: %w (no %s)", region, ErrNoRegion, rk)
	}
	return nil
}

// Schedule reads a region's drain schedule: nil when it has none. A value
// glbd would refuse is an error naming the key.
func (a *Admin) Schedule(ctx context.Context, region string) (*schema.Schedule, error) {
	return a.readSchedule(ctx, schema.ScheduleKey(a.prefix, region), fmt.Sprintf("read drain schedule of region %q", region))
}

// readSchedule reads the schedule at key sk (a region's or a name's): nil
// when absent; what leads the error of a failed read.
func (a *Admin) readSchedule(ctx context.Context, sk, what string) (*schema.Schedule, error) {
	resp, err := a.c.Get(ctx, sk)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, denied(OpRead, sk, false, err))
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	v, err := schema.Decode(schema.Key{Kind: schema.KindSchedule}, resp.Kvs[0].Value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sk, err)
	}
	return v.(*schema.Schedule), nil
}

// DeleteSchedule deletes a region's drain schedule; it reports whether
// there was one.
func (a *Admin) DeleteSchedule(ctx context.Context, region string) (bool, error) {
	sk := schema.ScheduleKey(a.prefix, region)
	resp, err := a.c.Delete(ctx, sk)
	if err != nil {
		return false, fmt.Errorf("delete drain schedule of region %q: %w", region, denied(OpWrite, sk, false, err))
	}
	return resp.Deleted > 0, nil
}
