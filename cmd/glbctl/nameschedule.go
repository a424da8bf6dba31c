package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// nameSchedule writes (or with --cancel deletes) region's drain schedule
// for the name of --name: <prefix>zones/<zone>/names/<label>/schedules/<region>,
// which glbd applies to the name's weight of the region as it applies a
// region's schedule to the region's weight.
func (a *app) nameSchedule(ctx context.Context, adm *store.Admin, fs *flag.FlagSet, d *drainFlags, region string) error {
	t, err := a.target(ctx, adm, region, &rampFlags{name: d.name, zone: d.zone})
	if err != nil {
		return err
	}
	key := schema.NameScheduleKey(a.g.prefix, t.zone, t.label, t.region)
	if d.cancel {
		other := false
		fs.Visit(func(f *flag.Flag) { other = other || (f.Name != "cancel" && f.Name != "name" && f.Name != "zone") })
		if other {
			return fmt.Errorf("%w: --cancel takes no other flags but --name and --zone", errUsage)
		}
		cctx, cancel := context.WithTimeout(ctx, a.g.timeout)
		defer cancel()
		had, err := adm.DeleteNameSchedule(cctx, t.zone, t.label, t.region)
		if err != nil {
			return a.etcdErr(err)
		}
		if !had {
			fmt.Fprintf(a.stdout, "%s: no drain schedule\n", t)
			return nil
		}
		fmt.Fprintf(a.stdout, "%s: drain schedule cancelled; the name's weight before is in force again\n", t)
		return nil
	}
	s, err := d.schedule(fs, a.now())
	if err != nil {
		return err
	}
	st, err := a.scheduleBefore(ctx, adm, t, s)
	if err != nil {
		return err
	}
	z := st.Zones[t.zone]
	if z == nil || z.Names[t.label] == nil {
		return fmt.Errorf("name %q does not exist (no %s)", t.label, schema.NameKey(a.g.prefix, t.zone, t.label))
	}
	n := z.Names[t.label]
	if !slices.Contains(n.Regions, t.region) {
		return fmt.Errorf("region %q is not one of the name's regions %v: glbd would refuse the schedule", t.region, n.Regions)
	}
	s.TTLFirst = z.Zone.TTLFirst
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "ttl-first" {
			s.TTLFirst = f.Value.String() == "true"
		}
	})
	if s.TTLFirst {
		// The name's longest TTL, as schema.LongestTTL for a region's.
		ttl := max(cmp.Or(n.TTL, z.Zone.TTL, schema.DefaultNameTTL), n.TTLDegraded)
		s.Hold = schema.Duration(time.Duration(ttl) * time.Second)
	}
	if err := checkExpires(s); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	if err := adm.SetNameSchedule(wctx, t.zone, t.label, t.region, s); err != nil {
		return t.err(a, err)
	}
	fmt.Fprintf(a.stdout, "%s: drain schedule written to %s; every glbd carries it out, nothing needs to keep running\n", t, key)
	for _, line := range scheduleLines(s, strings.TrimSuffix(schema.Owner(t.zone, t.label), ".")) {
		fmt.Fprintln(a.stdout, "  "+line)
	}
	fmt.Fprintf(a.stdout, "stop it with: glbctl drain %s --name %s --zone %s --cancel\n", t.region, t.label, t.zone)
	return nil
}

// nameScheduleRow is a per-name drain schedule in glbctl status.
type nameScheduleRow struct {
	Name     string `json:"name"` // the owner, without the trailing dot
	Region   string `json:"region"`
	Weight   int    `json:"weight"` // the name's weight of the region in force
	Schedule string `json:"schedule"`
}

// nameScheduleRows lists st's per-name schedules where they stand at now.
func nameScheduleRows(st *schema.State, now time.Time) []nameScheduleRow {
	var out []nameScheduleRow
	for _, ns := range schema.NameSchedules(st) {
		before := ns.Schedule.Before
		if w, ok := st.Zones[ns.Zone].Weights[ns.Label][ns.Region]; ok {
			before = w
		} else if r := st.Regions[ns.Region]; r != nil {
			before = r.Weight
		}
		out = append(out, nameScheduleRow{Name: strings.TrimSuffix(schema.Owner(ns.Zone, ns.Label), "."), Region: ns.Region,
			Weight: ns.Schedule.WeightAt(now, before), Schedule: describeSchedule(ns.Schedule, now)})
	}
	return out
}

// printNameSchedules lists the per-name drain schedules under the region
// table; nothing when there is none.
func printNameSchedules(w io.Writer, rows []nameScheduleRow) {
	for _, r := range rows {
		fmt.Fprintf(w, "%s for %s: drain %s; name weight in force %d\n", r.Region, r.Name, r.Schedule, r.Weight)
	}
}

// scheduleBefore fills in s.Before with t's weight in force (a region's
// weight key, or a name's weight) and returns the state, which the rest
// of the schedule (TTL-first and its hold) is drawn from.
func (a *app) scheduleBefore(ctx context.Context, adm *store.Admin, t weightTarget, s *schema.Schedule) (*schema.State, error) {
	cur, err := a.readTarget(ctx, adm, t)
	if err != nil {
		return nil, err
	}
	if cur.Value < 0 {
		return nil, fmt.Errorf("the weight of %s holds %q, not a weight; set one first", t, cur.Raw)
	}
	s.Before = cur.Value
	rctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	st, err := adm.ReadState(rctx)
	if err != nil {
		return nil, a.etcdErr(err)
	}
	return st, nil
}

// checkExpires refuses a schedule that would expire before its last step.
func checkExpires(s *schema.Schedule) error {
	if !s.Expires.IsZero() && !s.Expires.After(s.StepAt(len(s.Steps)-1)) {
		return fmt.Errorf("%w: --expires ends the schedule at %s, before its last step at %s", errUsage,
			s.Expires.Format(time.TimeOnly), s.StepAt(len(s.Steps)-1).Format(time.TimeOnly))
	}
	return nil
}

// undrainNameSchedule deletes the name's drain schedule of undrain's
// region, which would otherwise keep overriding the name's weight.
func (a *app) undrainNameSchedule(ctx context.Context, region string, r *rampFlags) error {
	adm, closeFn, err := a.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	t, err := a.target(ctx, adm, region, r)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	had, err := adm.DeleteNameSchedule(dctx, t.zone, t.label, t.region)
	if had {
		fmt.Fprintf(a.stdout, "%s: drain schedule cancelled\n", t)
	}
	return a.etcdErr(err)
}

// noteNameSchedule tells glbctl weight --name about the name's drain
// schedule of the region, which overrides the name's weight key while in
// force: shown (wrote false) with the weight in force, as glbctl status
// does, or after a write, a note when the write changes nothing yet.
func (a *app) noteNameSchedule(ctx context.Context, adm *store.Admin, t weightTarget, cur store.Weight, wrote bool) error {
	rctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	s, err := adm.NameSchedule(rctx, t.zone, t.label, t.region)
	if err != nil || s == nil {
		return a.etcdErr(err)
	}
	now := a.now()
	if !wrote {
		before := s.Before
		if cur.Value >= 0 {
			before = cur.Value
		}
		fmt.Fprintf(a.stdout, "%s: drain %s; name weight in force %d\n", t, describeSchedule(s, now), s.WeightAt(now, before))
		return nil
	}
	if s.PhaseAt(now).Active {
		fmt.Fprintf(a.stdout, "note: %s has a drain %s, which overrides the name's weight key until it ends (glbctl drain %s --name %s --zone %s --cancel)\n",
			t, describeSchedule(s, now), t.region, t.label, t.zone)
	}
	return nil
}
