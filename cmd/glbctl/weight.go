package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// Ramp limits: a ramp is bounded in steps and time, so it ends by itself.
const (
	defaultSteps = 10
	maxSteps     = 100
	maxRamp      = 24 * time.Hour
)

var weightCmd = &command{
	name:     "weight",
	synopsis: "<region> [<n>] [--name <label> [--zone <zone>]] [--ramp <duration> [--steps <n>]]",
	summary:  "show or set a region's weight, at once or in steps",
	help: `Without <n>, shows the region's weight (100 when its weight key is
absent). With <n> (0..1000), sets the weight key, which is what
'etcdctl put <prefix>regions/<region>/weight <n>' does, after checking that
the region exists. Within the nearest tier traffic is split in proportion
to weight; 0 drains the region.

With --ramp, the weight moves from its current value to <n> in --steps
equal steps spread over the duration, the last one landing at its end.
Before each step the region's health is read from etcd (the probers'
reports, aggregated as glbd does): if the region is down, or someone else
changed its weight, the ramp stops, leaving the last step in place, and
glbctl exits with 1 naming the step reached. Ctrl-C stops it the same way.
A ramp does not start while the region is down.

With --name <label>, the weight is the region's weight for that GSLB name
only (<prefix>zones/<zone>/names/<label>/weights/<region>): the other
names keep the region's weight. --zone says which zone the name is in; it
may be left out when only one zone has a name with that label.

  glbctl weight eu-west 100 --ramp 10m --steps 10
  glbctl weight us-east 10 --name www`,
	run: runWeight,
}

var drainCmd = &command{
	name:     "drain",
	synopsis: "<region> [--name <label> [--zone <zone>]] [--ramp <duration> [--steps <n>] | --steps <w>,<w>... --every <duration> [--expires <duration>] [--ttl-first] [--stop-on-unhealthy] | --cancel]",
	summary:  "set a region's weight to 0, at once, in steps, or by a schedule glbd runs",
	help: `Sets the region's weight to 0, as 'glbctl weight <region> 0'; --ramp as there
(glbctl runs the ramp and must stay running).

With --every, --expires or --ttl-first, glbctl instead writes a drain
schedule to <prefix>regions/<region>/schedule and returns: every glbd
applies the step in force by its own clock, so the drain carries on with
no glbctl running, across glbd restarts and etcd leader changes. The first
of --steps (weights, default 0) applies at once, the next after each
--every; the last holds until --expires (counted from now), when the
weight key, which the schedule never writes, is in force again; without
--expires it holds until --cancel. --ttl-first (default: the ttl_first
field of the zones using the region) first lowers the TTL of the answers
of every name using the region to its ttl_degraded (or 5s) and moves the
first step one old TTL later, so resolvers' caches have emptied before the
weights move. --stop-on-unhealthy pauses the schedule while a region that
shares a name with it (one that takes its traffic) is down: the weight key
is in force meanwhile, and the step due by the clock returns when they are
up again. --cancel deletes the schedule.

  glbctl drain eu-west --steps 50,10,0 --every 5m --expires 4h
  glbctl drain eu-west --ttl-first
  glbctl drain eu-west --cancel

With --name, the weight of that name only (at once, with --ramp, or by a
schedule): the other names still get the region. A schedule with --name
goes to <prefix>zones/<zone>/names/<label>/schedules/<region> and moves the
name's weight of the region as a region's schedule moves the region's
weight; --ttl-first lowers that name's TTL only, --stop-on-unhealthy
watches the name's other regions, and on expiry or --cancel --name the
name's weight before is in force again.

  glbctl drain eu-west --name www --steps 50,0 --every 10m --expires 2h
  glbctl drain eu-west --name www --cancel`,
	run: runDrain,
}

var undrainCmd = &command{
	name:     "undrain",
	synopsis: "<region> [--name <label> [--zone <zone>]] [--ramp <duration> [--steps <n>]]",
	summary:  "set a region's weight back to 100, the default",
	help: `Sets the region's weight to 100, the default, as 'glbctl weight <region>
100' (and as 'etcdctl put <prefix>regions/<region>/weight 100'). A region
that had another weight before it was drained does not get it back: set it
with glbctl weight. --ramp as there. A drain schedule of the region (see
glbctl drain) is deleted first.

With --name, deletes the name's own weight for the region, so the name
follows the region's weight again (no --ramp: ramp with glbctl weight
--name instead); the region's schedule stays.`,
	run: func(ctx context.Context, a *app, c *command, args []string) error {
		return runFixedWeight(ctx, a, c, args, undrainWeight)
	},
}

// undrainWeight is undrain's weight: the default for a region, and for a
// name its own weight deleted.
const undrainWeight = -1

// rampFlags are the flags of a weight change.
type rampFlags struct {
	ramp       time.Duration
	steps      int
	name, zone string // --name, --zone: the weight of one GSLB name
}

func (a *app) weightFlags(c *command) (*flag.FlagSet, *rampFlags) {
	fs := a.commandFlags(c)
	r := &rampFlags{}
	fs.DurationVar(&r.ramp, "ramp", 0, "move the weight in steps over this long, e.g. 5m (0: at once)")
	fs.IntVar(&r.steps, "steps", defaultSteps, "number of steps of a --ramp (1.."+strconv.Itoa(maxSteps)+")")
	nameFlags(fs, &r.name, &r.zone)
	return fs, r
}

// nameFlags registers --name and --zone, which point weight, drain and
// undrain at one GSLB name's weight instead of the region's.
func nameFlags(fs *flag.FlagSet, name, zone *string) {
	fs.StringVar(name, "name", "", "the weight of this GSLB name only, by its label in the zone (e.g. www)")
	fs.StringVar(zone, "zone", "", "the zone of --name (needed only when several zones have that label)")
}

// check checks the ramp flags; fs tells whether --steps was given, which
// without --ramp would be silently ignored.
func (r *rampFlags) check(fs *flag.FlagSet) error {
	if r.ramp < 0 || r.ramp > maxRamp {
		return fmt.Errorf("%w: --ramp %s: want 0..%s", errUsage, r.ramp, maxRamp)
	}
	steps := false
	fs.Visit(func(f *flag.Flag) { steps = steps || f.Name == "steps" })
	if steps && r.ramp == 0 {
		return fmt.Errorf("%w: --steps needs --ramp <duration>", errUsage)
	}
	if r.steps < 1 || r.steps > maxSteps {
		return fmt.Errorf("%w: --steps %d: want 1..%d", errUsage, r.steps, maxSteps)
	}
	return nil
}

func runWeight(ctx context.Context, a *app, c *command, args []string) error {
	fs, r := a.weightFlags(c)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 2, "<region> [<n>]"); err != nil {
		return err
	}
	if err := r.check(fs); err != nil {
		return err
	}
	if len(pos) == 1 {
		if r.ramp > 0 {
			return fmt.Errorf("%w: --ramp needs the weight to move to", errUsage)
		}
		return a.showWeight(ctx, pos[0], r)
	}
	w, err := schema.ParseWeight([]byte(pos[1]))
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return a.setWeight(ctx, pos[0], w, r)
}

func runFixedWeight(ctx context.Context, a *app, c *command, args []string, w int) error {
	fs, r := a.weightFlags(c)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "<region>"); err != nil {
		return err
	}
	if err := r.check(fs); err != nil {
		return err
	}
	if r.name == "" { // a name's weight leaves the region's schedule alone
		if err := a.undrainSchedule(ctx, pos[0]); err != nil {
			return err
		}
	} else if err := a.undrainNameSchedule(ctx, pos[0], r); err != nil {
		return err
	}
	return a.setWeight(ctx, pos[0], w, r)
}

func (a *app) showWeight(ctx context.Context, region string, r *rampFlags) error {
	adm, closeFn, err := a.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	t, err := a.target(ctx, adm, region, r)
	if err != nil {
		return err
	}
	cur, err := a.readTarget(ctx, adm, t)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: %s\n", t, describeTarget(t, cur))
	if t.label != "" {
		return a.noteNameSchedule(ctx, adm, t, cur, false)
	}
	return a.showSchedule(ctx, adm, t.region)
}

func describeWeight(w store.Weight) string {
	switch {
	case !w.Set:
		return fmt.Sprintf("weight %d (no weight key: the default)", w.Value)
	case w.Value < 0:
		return fmt.Sprintf("weight key %q is invalid (glbd keeps its last good weight, else %d)", w.Raw, schema.DefaultWeight)
	case w.Value == 0:
		return "weight 0 (drained)"
	}
	return fmt.Sprintf("weight %d", w.Value)
}

func (a *app) readWeight(ctx context.Context, adm *store.Admin, region string) (store.Weight, error) {
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	w, err := adm.Weight(ctx, region)
	if errors.Is(err, store.ErrNoRegion) {
		return w, fmt.Errorf("region %q does not exist (no %s)", region, schema.RegionKey(a.g.prefix, region))
	}
	return w, a.etcdErr(err)
}

func (a *app) setWeight(ctx context.Context, region string, w int, r *rampFlags) error {
	adm, closeFn, err := a.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	t, err := a.target(ctx, adm, region, r)
	if err != nil {
		return err
	}
	if w == undrainWeight && t.label == "" {
		w = schema.DefaultWeight
	}
	if w == undrainWeight && r.ramp > 0 {
		return fmt.Errorf("%w: undrain --name deletes the name's weight at once; ramp with glbctl weight --name", errUsage)
	}
	cur, err := a.readTarget(ctx, adm, t)
	if err != nil {
		return err
	}
	if r.ramp > 0 {
		return a.ramp(ctx, adm, t, cur, w, r)
	}
	if _, err := a.writeTarget(ctx, adm, t, w, -1); err != nil {
		return err
	}
	if w == undrainWeight {
		fmt.Fprintf(a.stdout, "%s: weight %s -> the region's (name weight deleted)\n", t, weightText(cur))
		return nil
	}
	fmt.Fprintf(a.stdout, "%s: weight %s -> %d\n", t, weightText(cur), w)
	if t.label != "" {
		return a.noteNameSchedule(ctx, adm, t, cur, true)
	}
	return a.noteSchedule(ctx, adm, t.region)
}

func weightText(w store.Weight) string {
	if w.Value < 0 {
		return strconv.Quote(w.Raw)
	}
	return strconv.Itoa(w.Value)
}

// ramp moves the weight in r.steps steps. Each step waits its share of the
// duration, checks the region's health and then writes, comparing on the
// weight key's revision so that a concurrent change stops the ramp instead
// of being overwritten.
func (a *app) ramp(ctx context.Context, adm *store.Admin, t weightTarget, cur store.Weight, to int, r *rampFlags) error {
	region := t.region
	if cur.Value < 0 {
		return fmt.Errorf("the weight key of %s holds %q, not a weight; set one first", t, cur.Raw)
	}
	from := cur.Value
	if from == to {
		fmt.Fprintf(a.stdout, "%s: weight is %d already\n", t, to)
		return nil
	}
	if err := a.checkUp(ctx, adm, region); err != nil {
		return fmt.Errorf("not ramping: %w", err)
	}
	every := r.ramp / time.Duration(r.steps)
	fmt.Fprintf(a.stdout, "%s: ramping weight %d -> %d in %d steps over %s (one every %s); stops if %s goes down\n",
		t, from, to, r.steps, r.ramp, every, region)
	at, rev := from, cur.ModRevision
	for i := 1; i <= r.steps; i++ {
		stopped := func(why string) error {
			return fmt.Errorf("%s; ramp stopped after step %d/%d, the weight stays at %d", why, i-1, r.steps, at)
		}
		if err := a.sleep(ctx, every); err != nil {
			return stopped("interrupted")
		}
		if err := a.checkUp(ctx, adm, region); err != nil {
			return stopped(err.Error())
		}
		next := from + (to-from)*i/r.steps
		if next == at {
			continue // small moves over many steps repeat a value
		}
		newRev, err := a.writeTarget(ctx, adm, t, next, rev)
		switch {
		case errors.Is(err, store.ErrConflict):
			return stopped("someone else changed the weight meanwhile")
		case err != nil:
			return stopped(err.Error())
		}
		fmt.Fprintf(a.stdout, "step %d/%d: %s weight %d -> %d\n", i, r.steps, t, at, next)
		at, rev = next, newRev
	}
	fmt.Fprintf(a.stdout, "%s: ramp done, weight %d\n", t, at)
	return nil
}

// checkUp reads everything under the prefix and aggregates the probers'
// reports as glbd does (health.DefaultPolicy, glbctl's clock): nil when the
// region is up, which includes having no fresh reports at all.
func (a *app) checkUp(ctx context.Context, adm *store.Admin, region string) error {
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	st, err := adm.ReadState(ctx)
	if err != nil {
		return a.etcdErr(err)
	}
	if st.Regions[region] == nil {
		return fmt.Errorf("region %s is gone or invalid", region)
	}
	rh := health.Aggregate(st, a.now(), health.DefaultPolicy).Regions[region]
	if rh != nil && !rh.Up {
		up := 0
		for _, ep := range rh.Endpoints {
			if ep.Up {
				up++
			}
		}
		return fmt.Errorf("region %s is down (%d/%d endpoints up)", region, up, len(rh.Endpoints))
	}
	return nil
}
