package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store/schema"
)

// maxAdminExpiry bounds --expires: an admin state is for an incident, not
// a way of life (one without --expires stays until it is deleted).
const maxAdminExpiry = 30 * 24 * time.Hour

var adminCmd = &command{
	name:     "admin",
	synopsis: "<region> [<endpoint>] up|down|auto [--expires <duration>]",
	summary:  "force a region or one endpoint up or down whatever the probers say",
	help: `Writes the admin state of a region (<prefix>regions/<region>/admin) or of
one of its endpoints (<prefix>regions/<region>/admin/<endpoint>, the
endpoint an address of the region): "up" answers with it as if every
prober said up, "down" never answers with it, as if every prober said
down; "auto" deletes the key, so the probers decide again. An endpoint's
state wins over its region's.

With --expires, the state ends by itself after that long: the value holds
its end ("down until 2026-12-06T08:00:00Z"), and every glbd drops it on
its own clock when that time passes, with nothing left running. The key
stays until deleted; glbctl status shows it as expired.

  glbctl admin eu-west down --expires 2h
  glbctl admin eu-west 198.51.100.11 up
  glbctl admin eu-west auto`,
	run: runAdmin,
}

func runAdmin(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.commandFlags(c)
	expires := fs.Duration("expires", 0, "the state ends by itself after this long, e.g. 2h (0: until deleted)")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 2, 3, "<region> [<endpoint>] up|down|auto"); err != nil {
		return err
	}
	region, endpoint, state := pos[0], "", pos[len(pos)-1]
	if len(pos) == 3 {
		ep, err := netip.ParseAddr(pos[1])
		if err != nil {
			return fmt.Errorf("%w: endpoint %q is not an IP address", errUsage, pos[1])
		}
		endpoint = schema.EndpointKey(ep)
	}
	if err := checkRegion(region); err != nil {
		return err
	}
	var st *schema.AdminState
	switch state {
	case schema.AdminUp, schema.AdminDown:
		st = &schema.AdminState{State: state}
	case "auto":
		if *expires != 0 {
			return fmt.Errorf("%w: --expires goes with up or down, not auto", errUsage)
		}
	default:
		return fmt.Errorf("%w: state %q: want up, down or auto", errUsage, state)
	}
	if *expires < 0 || *expires > maxAdminExpiry {
		return fmt.Errorf("%w: --expires %s: want 0..%s", errUsage, *expires, maxAdminExpiry)
	}
	if st != nil && *expires > 0 {
		st.Until = a.now().Add(*expires).UTC().Truncate(time.Second)
	}
	adm, closeFn, err := a.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	if endpoint != "" {
		// Checked here too so that a typo is refused at once instead of
		// showing up later as a rejected key.
		cur, err := a.readState(ctx)
		if err != nil {
			return err
		}
		if r := cur.Regions[region]; r != nil && !endpointOf(r.Region, endpoint) {
			return fmt.Errorf("%s is not one of region %s's addrs %v", endpoint, region, r.Region.Addrs)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	if _, err := adm.SetAdmin(wctx, region, endpoint, st); err != nil {
		return (&weightTarget{region: region}).err(a, err)
	}
	what := region
	if endpoint != "" {
		what = region + " " + endpoint
	}
	if st == nil {
		fmt.Fprintf(a.stdout, "%s: admin state deleted: the probers decide\n", what)
		return nil
	}
	fmt.Fprintf(a.stdout, "%s: admin %s\n", what, st)
	return nil
}

func endpointOf(r *schema.Region, ep string) bool {
	for _, a := range r.Addrs {
		if schema.EndpointKey(a) == ep {
			return true
		}
	}
	return false
}

// adminText describes an admin state in force for status tables: "" when
// none.
func adminText(state string, until time.Time) string {
	if state == "" {
		return ""
	}
	if until.IsZero() {
		return "admin " + state
	}
	return "admin " + state + " until " + until.UTC().Format(time.RFC3339)
}

// regionAdminHealth is the HEALTH column of a region under an admin state.
func regionAdminHealth(rh *health.RegionHealth) string {
	if rh.Up {
		return "up (" + adminText(rh.Admin, rh.AdminUntil) + ")"
	}
	return "DOWN (" + adminText(rh.Admin, rh.AdminUntil) + ")"
}
