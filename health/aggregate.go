package health

import (
	"cmp"
	"slices"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

// Policy says how reports from many probers become one verdict.
type Policy struct {
	// Quorum: an endpoint is up when more than this share of the fresh
	// reports on it say up. Default 0.5, "more than half": with three
	// probers two must agree, so one prober with a bad path cannot take a
	// region out, and one that sees it fine cannot keep it in.
	Quorum float64
	// MaxAge: a report whose time is older than this (on the reader's
	// clock) no longer counts. Default schema.MaxReportAge. Probers refresh
	// unchanged verdicts well within it, so only a stuck prober goes stale.
	MaxAge time.Duration
}

// DefaultPolicy is the policy glbd uses unless configured otherwise.
var DefaultPolicy = Policy{Quorum: 0.5, MaxAge: schema.MaxReportAge}

func (p Policy) withDefaults() Policy {
	if p.Quorum <= 0 || p.Quorum >= 1 {
		p.Quorum = DefaultPolicy.Quorum
	}
	if p.MaxAge <= 0 {
		p.MaxAge = DefaultPolicy.MaxAge
	}
	return p
}

// View is the aggregated health of every region at one moment. It is
// immutable once returned.
type View struct {
	Regions map[string]*RegionHealth // every region of the state, by id
	Probers []ProberLocation         // registered probers, sorted by id
}

// RegionHealth is one region's verdict.
type RegionHealth struct {
	// Checked is true when at least one fresh report exists for the
	// region. An unchecked region (no check configured, or no prober has
	// reported yet) counts as up: missing data must not take traffic away.
	Checked bool
	// Up: not checked, or at least one endpoint is up.
	Up bool
	// Endpoints by address, in the region's order.
	Endpoints []EndpointHealth
	// RTT is the round trip each prober measured to the region: the lowest
	// RTT over the region's endpoints that the prober reports up. Probers
	// without such a report are absent.
	RTT map[string]time.Duration
	// Admin is the operator's admin state in force ("up", "down"; "": the
	// probers decide), and AdminUntil when it ends (zero: never).
	Admin      string
	AdminUntil time.Time
}

// EndpointHealth is the verdict on one address of a region.
type EndpointHealth struct {
	Endpoint string // address text, as in health keys
	Up       bool   // unknown (no fresh reports) counts as up
	UpVotes  int    // fresh reports saying up
	Votes    int    // fresh reports
	// Admin is the admin state in force on the endpoint itself, as
	// RegionHealth.Admin; the region's does not show here.
	Admin      string
	AdminUntil time.Time
}

// ProberLocation is a registered prober's position, for the latency policy.
type ProberLocation struct {
	ID       string
	Lat, Lon float64
}

// Aggregate turns the probers' reports in st into a View at time now. It is
// pure: the same inputs give the same View.
func Aggregate(st *schema.State, now time.Time, p Policy) *View {
	p = p.withDefaults()
	v := &View{Regions: make(map[string]*RegionHealth, len(st.Regions))}
	for id, info := range st.Probers {
		v.Probers = append(v.Probers, ProberLocation{ID: id, Lat: info.Lat, Lon: info.Lon})
	}
	slices.SortFunc(v.Probers, func(a, b ProberLocation) int { return cmp.Compare(a.ID, b.ID) })
	for id, r := range st.Regions {
		v.Regions[id] = aggregateRegion(st, id, r.Region, now, p)
		applyAdmin(v.Regions[id], r, now)
	}
	return v
}

func aggregateRegion(st *schema.State, id string, r *schema.Region, now time.Time, p Policy) *RegionHealth {
	rh := &RegionHealth{Up: true, RTT: map[string]time.Duration{}}
	reports := st.Health[id]
	anyUp := false
	for _, a := range r.Addrs {
		ep := EndpointHealth{Endpoint: schema.EndpointKey(a), Up: true}
		for prober, rep := range reports[ep.Endpoint] {
			if st.Probers[prober] == nil || now.Sub(rep.Time) > p.MaxAge {
				continue // its lease is gone, or it stopped refreshing
			}
			ep.Votes++
			if rep.Up {
				ep.UpVotes++
				rtt := time.Duration(rep.RTT)
				if old, ok := rh.RTT[prober]; !ok || rtt < old {
					rh.RTT[prober] = rtt
				}
			}
		}
		if ep.Votes > 0 {
			rh.Checked = true
			ep.Up = float64(ep.UpVotes) > p.Quorum*float64(ep.Votes)
		}
		anyUp = anyUp || ep.Up
		rh.Endpoints = append(rh.Endpoints, ep)
	}
	if rh.Checked {
		rh.Up = anyUp
	}
	return rh
}
