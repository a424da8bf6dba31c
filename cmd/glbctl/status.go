package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store/schema"
)

var statusCmd = &command{
	name:     "status",
	synopsis: "",
	summary:  "regions (weight, health), endpoints per prober, probers, rejected keys",
	help: `Reads everything under the prefix and prints, in tables:

  - each region: its weight, whether it is up, and how many of its
    endpoints are up;
  - each endpoint: the verdict, and each prober's report on it (up, RTT,
    age of the report);
  - the registered probers: id, location, version;
  - the keys glbd refuses, and why.

Health is aggregated as glbd does it with its default quorum (more than
half of the fresh reports), on this machine's clock. A region that no
prober reports on counts as up ("no data"), as in glbd. Keys are checked
afresh here: glbd may still serve an earlier good value of a rejected key
(its log says "in_force").`,
	run: runStatus,
}

func runStatus(ctx context.Context, a *app, c *command, args []string) error {
	pos, err := a.parse(c, a.commandFlags(c), args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	adm, closeFn, err := a.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	st, err := adm.ReadState(ctx)
	if err != nil {
		return a.etcdErr(err)
	}
	now := a.now()
	view := health.Aggregate(st, now, health.DefaultPolicy)
	fmt.Fprintf(a.stdout, "etcd revision %d, prefix %s\n\n", st.Revision, a.g.prefix)
	printRegions(a.stdout, st, view)
	fmt.Fprintln(a.stdout)
	printEndpoints(a.stdout, st, view, now)
	fmt.Fprintln(a.stdout)
	printProbers(a.stdout, st, now)
	fmt.Fprintln(a.stdout)
	printRejected(a.stdout, st)
	return nil
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

func printRegions(w io.Writer, st *schema.State, view *health.View) {
	t := newTable(w)
	fmt.Fprintln(t, "REGION\tWEIGHT\tHEALTH\tENDPOINTS UP\tCHECK")
	for _, id := range slices.Sorted(maps.Keys(st.Regions)) {
		r, rh := st.Regions[id], view.Regions[id]
		weight := fmt.Sprint(r.Weight)
		if r.Weight == 0 {
			weight += " (drained)"
		}
		up := 0
		for _, ep := range rh.Endpoints {
			if ep.Up {
				up++
			}
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%d/%d\t%s\n", id, weight, regionHealth(r, rh), up, len(rh.Endpoints), checkText(r.Region.Check))
	}
	t.Flush()
}

func regionHealth(r *schema.RegionState, rh *health.RegionHealth) string {
	switch {
	case r.Region.Check == nil:
		return "up (no check)"
	case !rh.Checked:
		return "up (no data)"
	case rh.Up:
		return "up"
	}
	return "DOWN"
}

func checkText(c *schema.Check) string {
	if c == nil {
		return "-"
	}
	d := c.WithDefaults()
	s := fmt.Sprintf("%s :%d", d.Type, d.Port)
	if d.Type != "tcp" {
		s += " " + d.Path
	}
	return s + fmt.Sprintf(" every %s", time.Duration(d.Interval))
}

func printEndpoints(w io.Writer, st *schema.State, view *health.View, now time.Time) {
	t := newTable(w)
	fmt.Fprintln(t, "REGION\tENDPOINT\tVERDICT\tPROBER\tREPORT\tRTT\tAGE")
	for _, id := range slices.Sorted(maps.Keys(st.Regions)) {
		for _, ep := range view.Regions[id].Endpoints {
			verdict := "up (no data)"
			if ep.Votes > 0 {
				verdict = fmt.Sprintf("%s %d/%d", upDown(ep.Up), ep.UpVotes, ep.Votes)
			}
			reports := st.Health[id][ep.Endpoint]
			if len(reports) == 0 {
				fmt.Fprintf(t, "%s\t%s\t%s\t-\t-\t-\t-\n", id, ep.Endpoint, verdict)
				continue
			}
			for _, p := range slices.Sorted(maps.Keys(reports)) {
				rep := reports[p]
				age := now.Sub(rep.Time).Round(100 * time.Millisecond).String()
				switch {
				case st.Probers[p] == nil:
					age += " (prober gone)"
				case now.Sub(rep.Time) > health.DefaultPolicy.MaxAge:
					age += " (stale)"
				}
				rtt := "-"
				if rep.RTT > 0 {
					rtt = time.Duration(rep.RTT).Round(10 * time.Microsecond).String()
				}
				report := upDown(rep.Up)
				if rep.Error != "" {
					report += ": " + rep.Error
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, ep.Endpoint, verdict, p, report, rtt, age)
			}
		}
	}
	t.Flush()
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "DOWN"
}

func printProbers(w io.Writer, st *schema.State, now time.Time) {
	if len(st.Probers) == 0 {
		fmt.Fprintln(w, "no probers registered")
		return
	}
	t := newTable(w)
	fmt.Fprintln(t, "PROBER\tLOCATION\tCOUNTRY\tVERSION\tUP FOR")
	for _, id := range slices.Sorted(maps.Keys(st.Probers)) {
		p := st.Probers[id]
		upFor := "-"
		if !p.Started.IsZero() {
			upFor = now.Sub(p.Started).Round(time.Second).String()
		}
		fmt.Fprintf(t, "%s\t%.2f,%.2f\t%s\t%s\t%s\n", id, p.Lat, p.Lon, dash(p.Country), dash(p.Version), upFor)
	}
	t.Flush()
}

func printRejected(w io.Writer, st *schema.State) {
	if len(st.Rejected) == 0 {
		fmt.Fprintln(w, "no rejected keys")
		return
	}
	t := newTable(w)
	fmt.Fprintln(t, "REJECTED KEY\tKIND\tREASON")
	for _, r := range st.Rejected {
		fmt.Fprintf(t, "%s\t%s\t%s\n", r.Key, r.Kind, strings.ReplaceAll(r.Reason, "\n", "; "))
	}
	t.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
