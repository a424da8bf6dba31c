package statuspage

import (
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/glb-dns/glb/server"
	"github.com/glb-dns/glb/store/schema"
)

// statusView is what the page template renders: server.Status turned into
// display strings and geometry, so the template holds no logic beyond loops.
type statusView struct {
	Ready          bool   // a snapshot is loaded
	Instance       string // Options.Instance
	Version        string // Options.Version
	Now            string
	Revision       int64
	ConfigRevision int64
	SwappedAt      string
	SwapAge        string
	Up, Down       int // regions by state, for the header
	Drained        int
	Zones          []statusZoneView
	Regions        []statusRegionView
	ProberCols     []statusProberCol // the columns of the region table's report matrix
	Probers        []statusProberView
	Rejected       []statusRejectedView
	Map            mapView
	Chart          chartView
	SampleError    string // why the last answer sample failed
	StaleAfter     string // report age at which it stops counting
	CSS            template.CSS
	JS             template.JS
}

// Region states: the CSS class of a region everywhere on the page. Drained
// wins over health: a region of weight 0 gets no answers whatever its
// probers say, and grey says so at a glance.
const (
	statusUp      = "up"
	statusDown    = "down"
	statusDrained = "drained"
)

// statusRegionView is one region: a row group of the health table and a
// circle on the map.
type statusRegionView struct {
	ID        string
	State     string // up, down or drained
	Health    string // the health verdict in words
	Note      string // what qualifies it: no fresh reports, drained
	Weight    int
	Lat, Lon  float64
	Where     string
	Color     string // the region's colour in the answer chart
	Endpoints []statusEndpointView
	Load      string // the load against the watermarks in words, "" when neither is known
}

// statusEndpointView is one address of a region: a row of the matrix.
type statusEndpointView struct {
	Addr    string
	Up      bool               // the aggregated verdict, which decides whether it is answered
	Votes   string             // fresh up reports / fresh reports, or "–" when unchecked
	Reports []statusReportView // one per ProberCols entry
}

// statusReportView is one prober's report on one endpoint: a cell of the matrix.
type statusReportView struct {
	Class string // ok, bad, stale, or none (no report)
	Up    bool
	RTT   string
	Age   string
	Error string
}

// statusProberCol heads a column of the report matrix.
type statusProberCol struct {
	ID         string
	Registered bool // reports of unregistered probers are shown but not counted
}

// statusZoneView is one zone of the names table.
type statusZoneView struct {
	Name  string
	Names []statusNameView
}

// statusNameView is one GSLB name with its regions in the name's order,
// coloured by state, so that a name whose regions are all red stands out.
type statusNameView struct {
	FQDN    string
	Policy  string
	TTL     uint32
	Answers int
	Regions []statusNameRegion
	// Schedules say where the name's drain schedules stand, one line a
	// region: "eu-west: drain schedule: step 1/2 (weight 50), ...".
	Schedules []string
}

// statusNameRegion is a region of a name; State is "missing" for a region
// deleted after the name was accepted.
type statusNameRegion struct{ ID, State string }

// statusProberView is one registered prober.
type statusProberView struct {
	ID       string
	Lat, Lon float64
	Where    string
	Version  string
	Uptime   string
	Reports  int    // reports on record from this prober
	LastSeen string // age of its newest report
}

// statusRejectedView is one key whose value etcd holds but glb refuses.
type statusRejectedView struct {
	Key         string
	Kind        string
	Reason      string
	InForce     bool
	ModRevision int64
}

// buildStatusView turns the status (nil before the first snapshot) and the
// sampled answers into the page's view at time now.
func buildStatusView(st *server.Status, buckets []answerBucket, now time.Time) *statusView {
	// glbd leaves health.Policy.MaxAge at its default, schema.MaxReportAge,
	// so that is the age at which the aggregation stops counting a report.
	v := &statusView{Now: now.UTC().Format("2006-01-02 15:04:05 UTC"), CSS: template.CSS(statusCSS), JS: template.JS(statusJS),
		StaleAfter: fmt.Sprintf("%g min", schema.MaxReportAge.Minutes())}
	colors := chartColors(st, buckets)
	if st != nil {
		v.Ready = true
		v.Revision, v.ConfigRevision = st.Revision, st.ConfigRevision
		v.SwappedAt = st.SwappedAt.UTC().Format("15:04:05 UTC")
		v.SwapAge = fmtAge(now.Sub(st.SwappedAt))
		states := map[string]string{}
		v.ProberCols = statusProberCols(st)
		for _, r := range st.Regions {
			rv := statusRegionOf(r, v.ProberCols, now)
			rv.Color = colors[r.ID]
			states[r.ID] = rv.State
			switch rv.State {
			case statusUp:
				v.Up++
			case statusDown:
				v.Down++
			default:
				v.Drained++
			}
			v.Regions = append(v.Regions, rv)
		}
		for _, z := range st.Zones {
			v.Zones = append(v.Zones, statusZoneOf(z, states))
		}
		v.Probers = statusProberViews(st, now)
		for _, r := range st.Rejected {
			v.Rejected = append(v.Rejected, statusRejectedView{Key: r.Key, Kind: r.Kind.String(), Reason: r.Reason,
				InForce: r.InForce, ModRevision: r.ModRevision})
		}
	}
	v.Map = buildStatusMap(v.Regions, v.Probers)
	v.Chart = buildAnswerChart(buckets, colors, now)
	return v
}

// statusProberCols returns the registered probers and any others that reported,
// sorted by id.
func statusProberCols(st *server.Status) []statusProberCol {
	reg := map[string]bool{}
	for _, p := range st.Probers {
		reg[p.ID] = true
	}
	ids := maps.Clone(reg)
	for _, r := range st.Regions {
		for _, e := range r.Endpoints {
			for id := range e.Reports {
				ids[id] = true
			}
		}
	}
	var out []statusProberCol
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		out = append(out, statusProberCol{ID: id, Registered: reg[id]})
	}
	return out
}

// statusRegionOf is one region's view, with its reports laid out in the
// matrix's prober columns.
func statusRegionOf(r server.RegionStatus, cols []statusProberCol, now time.Time) statusRegionView {
	rv := statusRegionView{ID: r.ID, Weight: r.Weight, Lat: r.Lat, Lon: r.Lon, Where: fmtLatLon(r.Lat, r.Lon), Load: loadWords(r)}
	switch {
	case r.Weight == 0:
		rv.State = statusDrained
	case r.Up:
		rv.State = statusUp
	default:
		rv.State = statusDown
	}
	rv.Health = "up"
	if !r.Up {
		rv.Health = "down"
	}
	switch {
	case r.Weight == 0:
		rv.Note = "drained"
	case r.Admin != "":
		rv.Note = adminNote(r.Admin, r.AdminUntil)
	case !r.Checked:
		rv.Note = "no fresh reports"
	}
	if r.Schedule != nil && r.Schedule.Active {
		rv.Note = r.Schedule.Text()
	}
	for _, e := range r.Endpoints {
		ev := statusEndpointView{Addr: e.Endpoint, Up: e.Up, Votes: "–"}
		if e.Votes > 0 {
			ev.Votes = fmt.Sprintf("%d/%d", e.UpVotes, e.Votes)
		}
		if e.Admin != "" {
			ev.Votes = adminNote(e.Admin, e.AdminUntil)
		}
		// A cell is coloured by whether the report counts and what it
		// says, mirroring health.Aggregate: reports that are stale or
		// from unregistered probers are shown greyed, because a prober
		// that went quiet is exactly what an operator looks for here.
		for _, c := range cols {
			rep, ok := e.Reports[c.ID]
			if !ok {
				ev.Reports = append(ev.Reports, statusReportView{Class: "none"})
				continue
			}
			d := now.Sub(rep.Time)
			cell := statusReportView{Class: "ok", Up: rep.Up, Age: fmtAge(d), Error: rep.Error}
			switch {
			case d > schema.MaxReportAge || !c.Registered:
				cell.Class = "stale" // not counted, whatever it says
			case !rep.Up:
				cell.Class = "bad"
			}
			if rep.RTT > 0 { // 0: the prober never reached it
				cell.RTT = fmtRTT(time.Duration(rep.RTT))
			}
			ev.Reports = append(ev.Reports, cell)
		}
		rv.Endpoints = append(rv.Endpoints, ev)
	}
	return rv
}

// statusZoneOf is one zone's names, each region tagged with its state.
func statusZoneOf(z server.ZoneStatus, states map[string]string) statusZoneView {
	zv := statusZoneView{Name: z.Name}
	for _, n := range z.Names {
		fqdn := z.Name
		if n.Label != "@" {
			fqdn = n.Label + "." + z.Name
		}
		nv := statusNameView{FQDN: fqdn, Policy: n.Policy, TTL: n.TTL, Answers: n.Answers}
		for _, id := range n.Regions {
			s, ok := states[id]
			if !ok {
				s = "missing" // a region deleted after the name was accepted
			}
			nv.Regions = append(nv.Regions, statusNameRegion{ID: id, State: s})
		}
		for _, id := range slices.Sorted(maps.Keys(n.Schedules)) {
			if sc := n.Schedules[id]; sc.Active {
				nv.Schedules = append(nv.Schedules, id+": "+sc.Text())
			}
		}
		zv.Names = append(zv.Names, nv)
	}
	return zv
}

// statusProberViews lists the probers with how many reports each has on record
// and how old its newest one is: a prober that stopped shows a growing age.
func statusProberViews(st *server.Status, now time.Time) []statusProberView {
	count := map[string]int{}
	newest := map[string]time.Time{}
	for _, r := range st.Regions {
		for _, e := range r.Endpoints {
			for id, rep := range e.Reports {
				count[id]++
				if rep.Time.After(newest[id]) {
					newest[id] = rep.Time
				}
			}
		}
	}
	var out []statusProberView
	for _, p := range st.Probers {
		pv := statusProberView{ID: p.ID, Lat: p.Lat, Lon: p.Lon, Where: fmtLatLon(p.Lat, p.Lon), Version: p.Version,
			Reports: count[p.ID], LastSeen: "never"}
		if pv.Version == "" {
			pv.Version = "unknown"
		}
		if !p.Started.IsZero() {
			pv.Uptime = fmtAge(now.Sub(p.Started))
		}
		if t, ok := newest[p.ID]; ok {
			pv.LastSeen = fmtAge(now.Sub(t)) + " ago"
		}
		out = append(out, pv)
	}
	return out
}

// fmtLatLon writes a position as people read it, "51.51°N 0.13°W", rather
// than as signed numbers.
func fmtLatLon(lat, lon float64) string {
	ns, ew := "N", "E"
	if lat < 0 {
		ns, lat = "S", -lat
	}
	if lon < 0 {
		ew, lon = "W", -lon
	}
	return fmt.Sprintf("%.2f°%s %.2f°%s", lat, ns, lon, ew)
}

// fmtAge formats a duration for people at a glance: "4s", "3m12s", "5h07m",
// "2d03h". Negative ages (clock skew between prober and glbd) read "0s".
func fmtAge(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// fmtRTT formats a round-trip time in milliseconds with useful precision.
func fmtRTT(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return strings.TrimSuffix(fmt.Sprintf("%.2f", ms), "0") + " ms"
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// loadWords says a region's load against its watermarks: "load 0.88 of
// 0.80–0.95, shedding 50 %", "" when it has neither.
func loadWords(r server.RegionStatus) string {
	load := "load unknown"
	if r.Load != nil {
		load = fmt.Sprintf("load %.2f", *r.Load)
	}
	switch {
	case r.Shed == nil && r.Load == nil:
		return ""
	case r.Shed == nil:
		return load
	case r.ShedShare > 0:
		return fmt.Sprintf("%s of %.2f–%.2f, shedding %.0f %%", load, r.Shed.Low, r.Shed.High, r.ShedShare*100)
	}
	return fmt.Sprintf("%s of %.2f–%.2f", load, r.Shed.Low, r.Shed.High)
}
