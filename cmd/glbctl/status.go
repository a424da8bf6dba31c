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
	synopsis: "[-o table|json|yaml]",
	summary:  "regions (weight, health), endpoints per prober, probers, rejected keys",
	help: `Reads everything under the prefix and prints, in tables:

  - each region: its weight, whether it is up, and how many of its
    endpoints are up; an admin state in force shows in HEALTH ("DOWN
    (admin down until ...)"), one past its end as "expired: ..." in -o json;
  - each endpoint: the verdict, and each prober's report on it (up, RTT,
    age of the report);
  - the registered probers: id, location, version;
  - the keys glbd refuses, and why.

Health is aggregated as glbd does it with its default quorum (more than
half of the fresh reports), on this machine's clock. A region that no
prober reports on counts as up ("no data"), as in glbd. Keys are checked
afresh here: glbd may still serve an earlier good value of a rejected key
(its log says "in_force"). The CHECK column names where the check really
goes: its connect address when it has one, else each endpoint at the
check's port.

-o json and -o yaml write the same as one document (times in seconds).`,
	run: runStatus,
}

func runStatus(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.commandFlags(c)
	output := outputFlag(fs)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	st, err := a.readState(ctx)
	if err != nil {
		return err
	}
	doc := newStatusDoc(st, a.g.prefix, a.now())
	if *output != outTable {
		return a.writeDoc(*output, doc)
	}
	fmt.Fprintf(a.stdout, "etcd revision %d, prefix %s\n\n", doc.Revision, doc.Prefix)
	printRegions(a.stdout, doc.Regions)
	printSchedules(a.stdout, doc.Regions)
	printNameSchedules(a.stdout, doc.NameSchedules)
	fmt.Fprintln(a.stdout)
	printEndpoints(a.stdout, doc.Endpoints)
	fmt.Fprintln(a.stdout)
	printProbers(a.stdout, doc.Probers)
	fmt.Fprintln(a.stdout)
	printRejected(a.stdout, doc.Rejected)
	return nil
}

// readState reads everything under the prefix as glbd assembles it.
func (a *app) readState(ctx context.Context) (*schema.State, error) {
	adm, closeFn, err := a.admin()
	if err != nil {
		return nil, err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	st, err := adm.ReadState(ctx)
	if err != nil {
		return nil, a.etcdErr(err)
	}
	return st, nil
}

// statusDoc is what glbctl status shows, as -o json and -o yaml write it.
type statusDoc struct {
	Revision  int64         `json:"revision"`
	Prefix    string        `json:"prefix"`
	Regions   []regionRow   `json:"regions"`
	Endpoints []endpointRow `json:"endpoints"`
	Probers   []proberRow   `json:"probers"`
	Rejected  []rejectedRow `json:"rejected"`
	// NameSchedules are the per-name drain schedules; absent without any.
	NameSchedules []nameScheduleRow `json:"name_schedules,omitempty"`
}

type regionRow struct {
	Region      string `json:"region"`
	Weight      int    `json:"weight"`
	Up          bool   `json:"up"`
	Health      string `json:"health"` // up, up (no check), up (no data), DOWN
	EndpointsUp int    `json:"endpoints_up"`
	Endpoints   int    `json:"endpoints"`
	Check       string `json:"check"` // what is checked and where; "-" without a check
	// Admin is the admin state in force ("admin down until ..."), or
	// one that expired ("expired: down until ...").
	Admin string `json:"admin,omitempty"`
	// Schedule is where the region's drain schedule stands; absent
	// without one. Weight is then the schedule's weight in force.
	Schedule string `json:"schedule,omitempty"`
}

type endpointRow struct {
	Region   string      `json:"region"`
	Endpoint string      `json:"endpoint"`
	Up       bool        `json:"up"`
	UpVotes  int         `json:"up_votes"`
	Votes    int         `json:"votes"`
	Reports  []reportRow `json:"reports"`
	Admin    string      `json:"admin,omitempty"` // the endpoint's own admin state in force
}

type reportRow struct {
	Prober     string  `json:"prober"`
	Up         bool    `json:"up"`
	Error      string  `json:"error,omitempty"`
	RTTSeconds float64 `json:"rtt_seconds,omitempty"`
	AgeSeconds float64 `json:"age_seconds"`
	Stale      bool    `json:"stale,omitempty"`       // older than the reports glbd counts
	ProberGone bool    `json:"prober_gone,omitempty"` // its prober is no longer registered
}

type proberRow struct {
	Prober       string    `json:"prober"`
	Lat          float64   `json:"lat"`
	Lon          float64   `json:"lon"`
	Country      string    `json:"country,omitempty"`
	Version      string    `json:"version,omitempty"`
	Started      time.Time `json:"started,omitzero"`
	UpForSeconds float64   `json:"up_for_seconds,omitempty"`
}

type rejectedRow struct {
	Key     string `json:"key"`
	Kind    string `json:"kind"`
	Reason  string `json:"reason"`
	InForce bool   `json:"in_force"` // glbd may still serve an earlier good value
}

func newStatusDoc(st *schema.State, prefix string, now time.Time) *statusDoc {
	view := health.Aggregate(st, now, health.DefaultPolicy)
	d := &statusDoc{Revision: st.Revision, Prefix: prefix, Regions: []regionRow{}, Endpoints: []endpointRow{},
		Probers: proberRows(st, now), Rejected: []rejectedRow{}, NameSchedules: nameScheduleRows(st, now)}
	for _, id := range slices.Sorted(maps.Keys(st.Regions)) {
		r, rh := st.Regions[id], view.Regions[id]
		row := regionRow{Region: id, Weight: r.Weight, Up: rh.Up || !rh.Checked, Health: regionHealth(r, rh),
			Endpoints: len(rh.Endpoints), Check: checkText(r.Region.Check), Admin: adminText(rh.Admin, rh.AdminUntil)}
		if row.Admin == "" && r.Admin != nil {
			row.Admin = "expired: " + r.Admin.String()
		}
		if r.Schedule != nil {
			row.Weight, row.Schedule = r.Schedule.WeightAt(now, r.Weight), describeSchedule(r.Schedule, now)
		}
		for _, ep := range rh.Endpoints {
			if ep.Up {
				row.EndpointsUp++
			}
			e := endpointRow{Region: id, Endpoint: ep.Endpoint, Up: ep.Up, UpVotes: ep.UpVotes, Votes: ep.Votes, Reports: []reportRow{},
				Admin: adminText(ep.Admin, ep.AdminUntil)}
			reports := st.Health[id][ep.Endpoint]
			for _, p := range slices.Sorted(maps.Keys(reports)) {
				rep := reports[p]
				e.Reports = append(e.Reports, reportRow{Prober: p, Up: rep.Up, Error: rep.Error,
					RTTSeconds: time.Duration(rep.RTT).Seconds(), AgeSeconds: now.Sub(rep.Time).Seconds(),
					Stale: now.Sub(rep.Time) > health.DefaultPolicy.MaxAge, ProberGone: st.Probers[p] == nil})
			}
			d.Endpoints = append(d.Endpoints, e)
		}
		d.Regions = append(d.Regions, row)
	}
	for _, r := range st.Rejected {
		d.Rejected = append(d.Rejected, rejectedRow{Key: r.Key, Kind: r.Kind.String(), Reason: r.Reason, InForce: r.InForce})
	}
	return d
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

func printRegions(w io.Writer, rows []regionRow) {
	t := newTable(w)
	fmt.Fprintln(t, "REGION\tWEIGHT\tHEALTH\tENDPOINTS UP\tCHECK")
	for _, r := range rows {
		fmt.Fprintf(t, "%s\t%s\t%s\t%d/%d\t%s\n", r.Region, drainedText(r.Weight), r.Health, r.EndpointsUp, r.Endpoints, r.Check)
	}
	t.Flush()
}

func drainedText(w int) string {
	if w == 0 {
		return "0 (drained)"
	}
	return fmt.Sprint(w)
}

func regionHealth(r *schema.RegionState, rh *health.RegionHealth) string {
	switch {
	case rh.Admin != "":
		return regionAdminHealth(rh)
	case r.Region.Check == nil && rh.Up:
		return "up (no check)"
	case !rh.Checked:
		return "up (no data)"
	case rh.Up:
		return "up"
	}
	return "DOWN"
}

// checkText says what a check asks and where it really goes: the connect
// address when one is set, else each endpoint at the check's port.
func checkText(c *schema.Check) string {
	if c == nil {
		return "-"
	}
	d := c.WithDefaults()
	target := fmt.Sprintf("<endpoint>:%d", d.Port)
	if d.Connect != "" {
		target = d.Connect
	}
	s := d.Type + " " + target
	if d.Type != "tcp" {
		s += " " + d.Path
	}
	return s + fmt.Sprintf(" every %s", time.Duration(d.Interval))
}

func printEndpoints(w io.Writer, rows []endpointRow) {
	t := newTable(w)
	fmt.Fprintln(t, "REGION\tENDPOINT\tVERDICT\tPROBER\tREPORT\tRTT\tAGE")
	for _, ep := range rows {
		verdict := "up (no data)"
		if ep.Votes > 0 {
			verdict = fmt.Sprintf("%s %d/%d", upDown(ep.Up), ep.UpVotes, ep.Votes)
		}
		if ep.Admin != "" {
			verdict = upDown(ep.Up) + " (" + ep.Admin + ")"
		}
		if len(ep.Reports) == 0 {
			fmt.Fprintf(t, "%s\t%s\t%s\t-\t-\t-\t-\n", ep.Region, ep.Endpoint, verdict)
			continue
		}
		for _, rep := range ep.Reports {
			age := seconds(rep.AgeSeconds).Round(100 * time.Millisecond).String()
			switch {
			case rep.ProberGone:
				age += " (prober gone)"
			case rep.Stale:
				age += " (stale)"
			}
			rtt := "-"
			if rep.RTTSeconds > 0 {
				rtt = seconds(rep.RTTSeconds).Round(10 * time.Microsecond).String()
			}
			report := upDown(rep.Up)
			if rep.Error != "" {
				report += ": " + rep.Error
			}
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ep.Region, ep.Endpoint, verdict, rep.Prober, report, rtt, age)
		}
	}
	t.Flush()
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "DOWN"
}

func proberRows(st *schema.State, now time.Time) []proberRow {
	rows := []proberRow{}
	for _, id := range slices.Sorted(maps.Keys(st.Probers)) {
		p := st.Probers[id]
		r := proberRow{Prober: id, Lat: p.Lat, Lon: p.Lon, Country: p.Country, Version: p.Version, Started: p.Started}
		if !p.Started.IsZero() {
			r.UpForSeconds = now.Sub(p.Started).Round(time.Second).Seconds()
		}
		rows = append(rows, r)
	}
	return rows
}

func printProbers(w io.Writer, rows []proberRow) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no probers registered")
		return
	}
	t := newTable(w)
	fmt.Fprintln(t, "PROBER\tLOCATION\tCOUNTRY\tVERSION\tUP FOR")
	for _, p := range rows {
		upFor := "-"
		if !p.Started.IsZero() {
			upFor = seconds(p.UpForSeconds).String()
		}
		fmt.Fprintf(t, "%s\t%.2f,%.2f\t%s\t%s\t%s\n", p.Prober, p.Lat, p.Lon, dash(p.Country), dash(p.Version), upFor)
	}
	t.Flush()
}

func printRejected(w io.Writer, rows []rejectedRow) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no rejected keys")
		return
	}
	t := newTable(w)
	fmt.Fprintln(t, "REJECTED KEY\tKIND\tREASON")
	for _, r := range rows {
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
