package server

import (
	"maps"
	"slices"
	"time"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store/schema"
)

// Status is a read-only summary of what the server answers from, for the
// status page and operators' tools. It is built on request from the current
// snapshot, never on the query path.
type Status struct {
	Revision       int64              // etcd revision of the snapshot
	ConfigRevision int64              // revision of the last configuration change
	SwappedAt      time.Time          // when the snapshot was swapped in
	Zones          []ZoneStatus       // sorted by name
	Regions        []RegionStatus     // sorted by id
	Probers        []ProberStatus     // sorted by id
	Rejected       []schema.Rejection // keys refused, sorted by key
}

// ZoneStatus is one served zone.
type ZoneStatus struct {
	Name  string
	Names []NameStatus // sorted by label
}

// NameStatus is one GSLB name.
type NameStatus struct {
	Label   string
	Policy  string
	Regions []string
	TTL     uint32
	Answers int
	// Schedules are the name's drain schedules by region (per-name
	// schedules); nil without any.
	Schedules map[string]*ScheduleStatus
}

// RegionStatus is one region with its weight and health.
type RegionStatus struct {
	ID        string
	Lat, Lon  float64
	Weight    int
	Checked   bool // some fresh prober reports on it
	Up        bool // answered with (up, or no data)
	Endpoints []EndpointStatus
	// Load is the region's load in force (nil: none) and Shed its
	// watermarks (nil: none), with ShedShare the share it sheds now.
	Load      *float64
	Shed      *schema.Shed
	ShedShare float64
	// Admin is the admin state in force on the region ("up", "down"; "":
	// the probers decide), AdminUntil when it ends (zero: never).
	Admin      string
	AdminUntil time.Time
	Schedule   *ScheduleStatus // the region's drain schedule; nil without one
}

// EndpointStatus is one address of a region with each prober's report.
type EndpointStatus struct {
	health.EndpointHealth
	Reports map[string]schema.HealthReport // by prober id
}

// ProberStatus is one registered prober.
type ProberStatus struct {
	ID       string
	Lat, Lon float64
	Version  string
	Started  time.Time
}

// Status returns the current status, or nil before the first snapshot.
func (h *Handler) Status() *Status {
	snap := h.snap.Load()
	if snap == nil {
		return nil
	}
	st := snap.State
	s := &Status{Revision: snap.Revision, ConfigRevision: st.ConfigRevision, SwappedAt: snap.Built, Rejected: st.Rejected}
	for _, name := range slices.Sorted(maps.Keys(st.Zones)) {
		zs := st.Zones[name]
		z := ZoneStatus{Name: name}
		for _, label := range slices.Sorted(maps.Keys(zs.Names)) {
			n := zs.Names[label]
			ttl := n.TTL
			if ttl == 0 {
				ttl = zs.Zone.TTL
			}
			if ttl == 0 {
				ttl = schema.DefaultNameTTL
			}
			z.Names = append(z.Names, NameStatus{Label: label, Policy: n.PolicyOrDefault(), Regions: n.Regions, TTL: ttl, Answers: n.AnswersOrDefault(),
				Schedules: nameScheduleStatus(snap, zs, label, h.now())})
		}
		s.Zones = append(s.Zones, z)
	}
	view := snap.Health.View
	for i, r := range snap.Config.Regions {
		rs := st.Regions[r.ID]
		out := RegionStatus{ID: r.ID, Lat: rs.Region.Lat, Lon: rs.Region.Lon, Weight: rs.Weight, Up: snap.Health.Regions[i].Up}
		if load, ok, _, share, marks := snap.Health.RegionLoad(snap.Config, i); ok || marks != nil {
			if ok {
				out.Load = &load
			}
			out.Shed, out.ShedShare = marks, share
		}
		out.Schedule = scheduleStatus(snap, r.ID, rs.Schedule, h.now())
		var rh *health.RegionHealth
		if view != nil {
			rh = view.Regions[r.ID]
		}
		for j, a := range r.Addrs {
			ep := EndpointStatus{EndpointHealth: health.EndpointHealth{Endpoint: a.String(), Up: true}, Reports: map[string]schema.HealthReport{}}
			if rh != nil && j < len(rh.Endpoints) {
				ep.EndpointHealth = rh.Endpoints[j]
				out.Checked = rh.Checked
			}
			if rh != nil {
				out.Admin, out.AdminUntil = rh.Admin, rh.AdminUntil
			}
			for prober, rep := range st.Health[r.ID][ep.Endpoint] {
				ep.Reports[prober] = *rep
			}
			out.Endpoints = append(out.Endpoints, ep)
		}
		s.Regions = append(s.Regions, out)
	}
	for _, id := range slices.Sorted(maps.Keys(st.Probers)) {
		p := st.Probers[id]
		s.Probers = append(s.Probers, ProberStatus{ID: id, Lat: p.Lat, Lon: p.Lon, Version: p.Version, Started: p.Started})
	}
	return s
}
