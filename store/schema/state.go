package schema

// State is one consistent view of everything glb serves, assembled from
// etcd at one revision. A State is immutable once built: consumers share it
// and the pointers in it across goroutines and must not modify them.
type State struct {
	Revision int64                   // etcd revision this state reflects
	Regions  map[string]*RegionState // by region id
	Zones    map[string]*ZoneState   // by zone name (lower case, no trailing dot)
	Rejected []Rejection             // keys whose current value is refused, sorted by key
	Nets     map[string]Nets         // network collections by id; nil when there are none
	NetASNs  map[string]NetASNs      // the AS numbers of those collections, by id; nil when none lists any

	// ConfigRevision is the revision of the last change to Regions or
	// Zones. States with the same ConfigRevision share those maps, so a
	// consumer can skip rebuilding what derives from them.
	ConfigRevision int64

	// Probers and Health are the live part, written by probers under their
	// leases: registered probers by id, and reports by region, endpoint
	// (address text) and prober id. Reports of unregistered probers or
	// unknown regions may be present; consumers ignore them.
	Probers map[string]*ProberInfo
	Health  map[string]map[string]map[string]*HealthReport
	// Loads are the values of the regions' load keys, by region id: the
	// live figure an autoscaler or operator wrote (see load.go). An
	// invalid value leaves the last good one here and is rejected.
	Loads map[string]float64
}

// RegionState is a region's document with its weight. A name accepted
// earlier may still list a region that has since been deleted; consumers
// skip regions missing from State.Regions.
type RegionState struct {
	ID     string
	Region *Region
	Weight int // 0..MaxWeight; DefaultWeight when the weight key is absent
	// Admin and EndpointAdmin are the operator's admin states of the
	// region and of its endpoints (by address text); nil when absent.
	// Whether one is in force depends on the clock (AdminState.InForce).
	Admin         *AdminState
	EndpointAdmin map[string]*AdminState
	// Schedule is the region's drain schedule, nil when it has none. While
	// it is in force it overrides Weight (see Schedule.WeightAt).
	Schedule *Schedule
}

// ZoneState is a zone's document with its names and static records.
type ZoneState struct {
	Name    string                        // the zone, e.g. "gslb.example.test"
	Zone    *Zone                         // its document
	Serial  uint32                        // SOA serial: Zone.SOA.Serial or the highest mod revision of its keys
	Names   map[string]*Name              // GSLB names by label ("@" for the apex)
	Records map[string]map[string]*Record // static records by label, then type
	// Weights are per-name weights by label, then region: they override
	// the region's weight for that name only. Nil when there are none.
	Weights map[string]map[string]int
	// Schedules are per-name drain schedules by label, then region
	// (nameschedule.go): while one is in force its step replaces the
	// name's weight of the region. Nil when there are none.
	Schedules map[string]map[string]*Schedule
}

// Rejection records why the current value of a key is refused.
type Rejection struct {
	Key         string // the full etcd key
	Kind        Kind
	Reason      string
	ModRevision int64 // mod revision of the refused value
	InForce     bool  // an earlier good value of the key is still served
}
