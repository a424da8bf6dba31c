package statuspage

import (
	"time"

	"github.com/glb-dns/glb/server"
	"github.com/glb-dns/glb/store/schema"
)

// The /status.json document, in snake_case like /readyz and /explain. It
// has its own types rather than server.Status's, so that the JSON names are
// chosen here, once, and a field added to server.Status does not appear in
// an operator-facing document unnoticed.

// statusDoc is /status.json.
type statusDoc struct {
	Instance string          `json:"instance"` // the instance's name (-instance)
	Version  string          `json:"version"`  // glbd's version
	Now      time.Time       `json:"now"`
	Status   *statusJSON     `json:"status"` // null before the first snapshot
	Answers  answerSeriesDoc `json:"answers"`
}

// statusJSON is server.Status.
type statusJSON struct {
	Revision       int64          `json:"revision"`
	ConfigRevision int64          `json:"config_revision"`
	SwappedAt      time.Time      `json:"swapped_at"`
	RejectedKeys   int            `json:"rejected_keys"` // len(rejected), as in the page's header
	Zones          []zoneJSON     `json:"zones"`
	Regions        []regionJSON   `json:"regions"`
	Probers        []proberJSON   `json:"probers"`
	Rejected       []rejectedJSON `json:"rejected"`
}

type zoneJSON struct {
	Name  string     `json:"name"`
	Names []nameJSON `json:"names"`
}

type nameJSON struct {
	Label   string   `json:"label"`
	Policy  string   `json:"policy"`
	Regions []string `json:"regions"`
	TTL     uint32   `json:"ttl"`
	Answers int      `json:"answers"`
	// Schedules are the name's drain schedules by region, absent without.
	Schedules map[string]*server.ScheduleStatus `json:"schedules,omitempty"`
}

type regionJSON struct {
	ID        string         `json:"id"`
	Lat       float64        `json:"lat"`
	Lon       float64        `json:"lon"`
	Weight    int            `json:"weight"`
	Checked   bool           `json:"checked"`
	Up        bool           `json:"up"`
	Endpoints []endpointJSON `json:"endpoints"`
	Load      *float64       `json:"load,omitempty"` // nil: no load known
	Shed      *shedJSON      `json:"shed,omitempty"` // nil: no watermarks
	// Admin is the operator's admin state in force ("up", "down"), which
	// overrides the probers; AdminUntil (RFC 3339) when it ends.
	Admin      string `json:"admin,omitempty"`
	AdminUntil string `json:"admin_until,omitempty"`
	// Schedule is the region's drain schedule, absent without one.
	Schedule *server.ScheduleStatus `json:"schedule,omitempty"`
}

// shedJSON is a region's watermarks and the share it sheds now.
type shedJSON struct {
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
	Share float64 `json:"share"`
}

type endpointJSON struct {
	Endpoint string                         `json:"endpoint"`
	Up       bool                           `json:"up"`
	UpVotes  int                            `json:"up_votes"`
	Votes    int                            `json:"votes"`
	Reports  map[string]schema.HealthReport `json:"reports"` // by prober id; up, rtt, time, error as in etcd
	// Admin is the endpoint's own admin state in force, as the region's.
	Admin      string `json:"admin,omitempty"`
	AdminUntil string `json:"admin_until,omitempty"`
}

type proberJSON struct {
	ID      string    `json:"id"`
	Lat     float64   `json:"lat"`
	Lon     float64   `json:"lon"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
}

type rejectedJSON struct {
	Key         string `json:"key"`
	Kind        string `json:"kind"`
	Reason      string `json:"reason"`
	ModRevision int64  `json:"mod_revision"`
	InForce     bool   `json:"in_force"`
}

// answerSeriesDoc is the sampled ring.
type answerSeriesDoc struct {
	IntervalSeconds float64            `json:"interval_seconds"`
	WindowSeconds   float64            `json:"window_seconds"`
	Regions         []string           `json:"regions"` // every region answered with in the window, sorted
	Buckets         []answerBucketJSON `json:"buckets"` // oldest first
	Error           string             `json:"error,omitempty"`
}

type answerBucketJSON struct {
	Start   time.Time        `json:"start"`
	End     time.Time        `json:"end"`
	Answers map[string]int64 `json:"answers"` // by region
}

// statusOf converts the status; nil stays nil. Empty lists are [] rather
// than null, so that consumers can iterate without a check.
func statusOf(st *server.Status) *statusJSON {
	if st == nil {
		return nil
	}
	out := &statusJSON{Revision: st.Revision, ConfigRevision: st.ConfigRevision, SwappedAt: st.SwappedAt,
		RejectedKeys: len(st.Rejected), Zones: []zoneJSON{}, Regions: []regionJSON{}, Probers: []proberJSON{}, Rejected: []rejectedJSON{}}
	for _, z := range st.Zones {
		zj := zoneJSON{Name: z.Name, Names: []nameJSON{}}
		for _, n := range z.Names {
			zj.Names = append(zj.Names, nameJSON{Label: n.Label, Policy: n.Policy, Regions: n.Regions, TTL: n.TTL, Answers: n.Answers, Schedules: n.Schedules})
		}
		out.Zones = append(out.Zones, zj)
	}
	for _, r := range st.Regions {
		rj := regionJSON{ID: r.ID, Lat: r.Lat, Lon: r.Lon, Weight: r.Weight, Checked: r.Checked, Up: r.Up, Endpoints: []endpointJSON{}, Load: r.Load}
		if r.Shed != nil {
			rj.Shed = &shedJSON{Low: r.Shed.Low, High: r.Shed.High, Share: r.ShedShare}
		}
		rj.Admin, rj.AdminUntil = r.Admin, rfc3339(r.AdminUntil)
		rj.Schedule = r.Schedule
		for _, e := range r.Endpoints {
			rj.Endpoints = append(rj.Endpoints, endpointJSON{Endpoint: e.Endpoint, Up: e.Up, UpVotes: e.UpVotes, Votes: e.Votes, Reports: e.Reports,
				Admin: e.Admin, AdminUntil: rfc3339(e.AdminUntil)})
		}
		out.Regions = append(out.Regions, rj)
	}
	for _, p := range st.Probers {
		out.Probers = append(out.Probers, proberJSON{ID: p.ID, Lat: p.Lat, Lon: p.Lon, Version: p.Version, Started: p.Started})
	}
	for _, r := range st.Rejected {
		out.Rejected = append(out.Rejected, rejectedJSON{Key: r.Key, Kind: r.Kind.String(), Reason: r.Reason,
			ModRevision: r.ModRevision, InForce: r.InForce})
	}
	return out
}

// bucketsOf converts the sampled buckets.
func bucketsOf(buckets []answerBucket) []answerBucketJSON {
	out := make([]answerBucketJSON, 0, len(buckets))
	for _, b := range buckets {
		out = append(out, answerBucketJSON{Start: b.Start, End: b.End, Answers: b.Answers})
	}
	return out
}
