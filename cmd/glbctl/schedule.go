package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// drainFlags are drain's flags: a --ramp that glbctl runs, or a schedule
// that glbd runs (--every, --expires, --ttl-first, --cancel).
type drainFlags struct {
	ramp     time.Duration
	steps    string // a count for --ramp, a list of weights for a schedule
	every    time.Duration
	expires  time.Duration
	cancel   bool
	ttlFirst bool
	stop     bool
	name     string // --name, --zone: the weight (or schedule) of one GSLB name
	zone     string
}

// scheduled says whether the flags ask for a schedule rather than a ramp or
// a plain weight write.
func (d *drainFlags) scheduled(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "every", "expires", "cancel", "ttl-first", "stop-on-unhealthy":
			set = true
		}
	})
	return set
}

func runDrain(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.commandFlags(c)
	d := &drainFlags{}
	fs.DurationVar(&d.ramp, "ramp", 0, "glbctl moves the weight to 0 in steps over this long (glbctl must keep running)")
	fs.StringVar(&d.steps, "steps", strconv.Itoa(defaultSteps), "with --ramp: the number of steps; with --every: the weights, e.g. 50,10,0")
	fs.DurationVar(&d.every, "every", 0, "write a schedule that glbd carries out: one of --steps every this long, the first at once")
	fs.DurationVar(&d.expires, "expires", 0, "the schedule ends this long after now and the weight before returns (0: never)")
	fs.BoolVar(&d.cancel, "cancel", false, "delete the region's schedule: its weight key is in force again at once")
	fs.BoolVar(&d.ttlFirst, "ttl-first", false, "lower the answers' TTL first and move weights after one old TTL (default: the zones' ttl_first)")
	nameFlags(fs, &d.name, &d.zone) // at once, with --ramp, or a per-name schedule
	fs.BoolVar(&d.stop, "stop-on-unhealthy", false, "pause the schedule (the weight key in force) while a region that takes the traffic is down")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "<region>"); err != nil {
		return err
	}
	if !d.scheduled(fs) {
		n, err := strconv.Atoi(d.steps)
		if err != nil {
			return fmt.Errorf("%w: --steps %q: a list of weights needs --every", errUsage, d.steps)
		}
		r := &rampFlags{ramp: d.ramp, steps: n, name: d.name, zone: d.zone}
		if err := r.check(fs); err != nil {
			return err
		}
		return a.setWeight(ctx, pos[0], 0, r)
	}
	if d.ramp != 0 {
		return fmt.Errorf("%w: --ramp is run by glbctl, --every/--expires/--ttl-first by glbd: use one or the other", errUsage)
	}
	adm, closeFn, err := a.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	if d.name != "" {
		return a.nameSchedule(ctx, adm, fs, d, pos[0])
	}
	if d.cancel {
		return a.cancelSchedule(ctx, adm, fs, pos[0])
	}
	s, err := d.schedule(fs, a.now())
	if err != nil {
		return err
	}
	return a.writeSchedule(ctx, adm, fs, pos[0], s)
}

// schedule builds the schedule the flags describe, starting at now; Before
// and Hold are filled in from etcd by writeSchedule.
func (d *drainFlags) schedule(fs *flag.FlagSet, now time.Time) (*schema.Schedule, error) {
	stepsSet := false
	fs.Visit(func(f *flag.Flag) { stepsSet = stepsSet || f.Name == "steps" })
	s := &schema.Schedule{Steps: []int{0}, Every: schema.Duration(d.every), Start: now.UTC().Truncate(time.Second),
		StopOnUnhealthy: d.stop}
	if stepsSet {
		s.Steps = nil
		for f := range strings.SplitSeq(d.steps, ",") {
			w, err := schema.ParseWeight([]byte(f))
			if err != nil {
				return nil, fmt.Errorf("%w: --steps %q: %w", errUsage, d.steps, err)
			}
			s.Steps = append(s.Steps, w)
		}
	}
	if len(s.Steps) > 1 && d.every == 0 {
		return nil, fmt.Errorf("%w: --steps %s needs --every <duration> between them", errUsage, d.steps)
	}
	if d.expires < 0 {
		return nil, fmt.Errorf("%w: --expires %s is negative", errUsage, d.expires)
	}
	if d.expires > 0 {
		s.Expires = s.Start.Add(d.expires)
	}
	return s, nil
}

func (a *app) writeSchedule(ctx context.Context, adm *store.Admin, fs *flag.FlagSet, region string, s *schema.Schedule) error {
	st, err := a.scheduleBefore(ctx, adm, weightTarget{region: region}, s)
	if err != nil {
		return err
	}
	s.TTLFirst = ttlFirstDefault(st, region)
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "ttl-first" {
			s.TTLFirst = f.Value.String() == "true"
		}
	})
	if s.TTLFirst {
		s.Hold = schema.Duration(time.Duration(schema.LongestTTL(st, region)) * time.Second)
	}
	if err := checkExpires(s); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	if err := adm.SetSchedule(wctx, region, s); err != nil {
		return a.etcdErr(err)
	}
	fmt.Fprintf(a.stdout, "%s: drain schedule written to %s; every glbd carries it out, nothing needs to keep running\n",
		region, schema.ScheduleKey(a.g.prefix, region))
	for _, line := range scheduleLines(s, "") {
		fmt.Fprintln(a.stdout, "  "+line)
	}
	fmt.Fprintf(a.stdout, "stop it with: glbctl drain %s --cancel\n", region)
	return nil
}

// ttlFirstDefault says whether a zone with a name that uses region asks
// for TTL-first drains.
func ttlFirstDefault(st *schema.State, region string) bool {
	for _, z := range st.Zones {
		if !z.Zone.TTLFirst {
			continue
		}
		for _, n := range z.Names {
			for _, r := range n.Regions {
				if r == region {
					return true
				}
			}
		}
	}
	return false
}

// scheduleLines spells a schedule out, one line per phase. owner is the
// name of a per-name schedule ("" for a region's): its TTL, pause and
// weight are that name's alone, and the lines say so.
func scheduleLines(s *schema.Schedule, owner string) []string {
	ttls, weight, pause := "TTLs of the names using it lowered to their ttl_degraded", "the weight key", "a region that takes the traffic"
	if owner != "" {
		ttls, weight, pause = "TTL of "+owner+" lowered to its ttl_degraded", "the name's weight", "another region of "+owner
	}
	var out []string
	if s.TTLFirst {
		out = append(out, fmt.Sprintf("%s  %s (or %ds); weights held for one old TTL (%s)",
			clock(s.Start), ttls, schema.DefaultTTLFirst, time.Duration(s.Hold)))
	}
	for i, w := range s.Steps {
		out = append(out, fmt.Sprintf("%s  step %d/%d: weight %d", clock(s.StepAt(i)), i+1, len(s.Steps), w))
	}
	if s.StopOnUnhealthy {
		out = append(out, fmt.Sprintf("pauses (%s in force) while %s is down", weight, pause))
	}
	if s.Expires.IsZero() {
		out = append(out, "never expires: the last step holds until --cancel")
	} else {
		out = append(out, fmt.Sprintf("%s  expires: %s (now %d) is in force again", clock(s.Expires), weight, s.Before))
	}
	return out
}

func clock(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (a *app) cancelSchedule(ctx context.Context, adm *store.Admin, fs *flag.FlagSet, region string) error {
	other := false
	fs.Visit(func(f *flag.Flag) { other = other || f.Name != "cancel" })
	if other {
		return fmt.Errorf("%w: --cancel takes no other flags", errUsage)
	}
	had, err := a.deleteSchedule(ctx, adm, region)
	if err != nil {
		return err
	}
	if !had {
		fmt.Fprintf(a.stdout, "%s: no drain schedule\n", region)
		return nil
	}
	fmt.Fprintf(a.stdout, "%s: drain schedule cancelled; the weight key is in force again\n", region)
	return nil
}

// describeSchedule is the one-line state of a schedule at now, for
// glbctl weight and glbctl status.
func describeSchedule(s *schema.Schedule, now time.Time) string {
	if s == nil {
		return ""
	}
	p := s.PhaseAt(now)
	switch {
	case !p.Active:
		return "schedule expired"
	case p.Step < 0:
		return fmt.Sprintf("schedule: TTLs lowered, step 1/%d at %s", len(s.Steps), clock(p.Next))
	case p.Next.IsZero():
		return fmt.Sprintf("schedule: step %d/%d (weight %d), holds until --cancel", p.Step+1, len(s.Steps), p.Weight)
	case p.Step+1 == len(s.Steps):
		return fmt.Sprintf("schedule: step %d/%d (weight %d), expires %s", p.Step+1, len(s.Steps), p.Weight, clock(p.Next))
	}
	return fmt.Sprintf("schedule: step %d/%d (weight %d), next %s", p.Step+1, len(s.Steps), p.Weight, clock(p.Next))
}

// printSchedules lists the regions' drain schedules under the region
// table; nothing when there is none.
func printSchedules(w io.Writer, rows []regionRow) {
	for _, r := range rows {
		if r.Schedule != "" {
			fmt.Fprintf(w, "%s: drain %s\n", r.Region, r.Schedule)
		}
	}
}

// showSchedule prints the region's drain schedule, if it has one.
func (a *app) showSchedule(ctx context.Context, adm *store.Admin, region string) error {
	s, err := a.readSchedule(ctx, adm, region)
	if err == nil && s != nil {
		fmt.Fprintf(a.stdout, "%s: drain %s; weight in force %d\n", region, describeSchedule(s, a.now()), s.WeightAt(a.now(), s.Before))
	}
	return err
}

func (a *app) readSchedule(ctx context.Context, adm *store.Admin, region string) (*schema.Schedule, error) {
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	s, err := adm.Schedule(ctx, region)
	return s, a.etcdErr(err)
}

func (a *app) deleteSchedule(ctx context.Context, adm *store.Admin, region string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	had, err := adm.DeleteSchedule(ctx, region)
	return had, a.etcdErr(err)
}

// undrainSchedule deletes the drain schedule of undrain's region, which
// would otherwise keep overriding the weight undrain sets.
func (a *app) undrainSchedule(ctx context.Context, region string) error {
	adm, closeFn, err := a.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	had, err := a.deleteSchedule(ctx, adm, region)
	if had {
		fmt.Fprintf(a.stdout, "%s: drain schedule cancelled\n", region)
	}
	return err
}

// noteSchedule says, after a weight write, that a drain schedule in force
// overrides the weight key until it ends.
func (a *app) noteSchedule(ctx context.Context, adm *store.Admin, region string) error {
	s, err := a.readSchedule(ctx, adm, region)
	if err != nil {
		return err
	}
	if s != nil && s.PhaseAt(a.now()).Active {
		fmt.Fprintf(a.stdout, "note: %s has a drain %s, which overrides the weight key until it ends (glbctl drain %s --cancel)\n",
			region, describeSchedule(s, a.now()), region)
	}
	return nil
}
