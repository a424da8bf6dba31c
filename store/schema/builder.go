package schema

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Builder turns the raw key/value pairs under the prefix into States. It
// keeps the last good value of every key: when a key's new value is invalid,
// the previous valid one stays in force and the key is listed as rejected.
//
// Values are decoded once, when they are put; assembling a State only redoes
// the checks that span keys (a name's regions exist, a CNAME stands alone),
// so that a region created after the name that uses it is picked up without
// the name being written again.
//
// Prober and health keys change far more often than the configuration, so
// they are kept apart: a State whose configuration did not change shares the
// previous State's Regions and Zones (and says so with ConfigRevision), and
// only the live part is assembled again.
//
// A Builder is not safe for concurrent use; its States are.
type Builder struct {
	prefix   string
	entries  map[string]*entry // configuration keys etcd holds now
	live     map[string]*entry // prober and health keys etcd holds now
	good     map[string]*entry // last value accepted for each configuration key
	reported map[string]string // key -> reason last returned as a new rejection
	deleted  map[string]int64  // zone -> revision of the latest delete of one of its keys

	goodLoad map[string]*entry // last value accepted for each load key (loads.go)

	dirty  bool   // a configuration key changed since the last State
	config *State // the configuration part of the last State
}

type entry struct {
	key    Key
	keyErr error
	value  any
	err    error
	modRev int64
}

// NewBuilder returns an empty Builder for keys under prefix.
func NewBuilder(prefix string) *Builder {
	return &Builder{
		prefix:   prefix,
		entries:  map[string]*entry{},
		good:     map[string]*entry{},
		reported: map[string]string{},
		deleted:  map[string]int64{},
		live:     map[string]*entry{},
		goodLoad: map[string]*entry{},
		dirty:    true,
	}
}

// isLive says which keys are the live part. A region's load is live: an
// autoscaler may write it every few seconds, which must not rebuild the
// configuration.
func isLive(k Kind) bool { return k == KindProber || k == KindHealth || k == KindLoad }

// Put records the value of a key at its mod revision, decoding it now.
func (b *Builder) Put(key string, value []byte, modRev int64) {
	e := &entry{modRev: modRev}
	e.key, e.keyErr = ParseKey(b.prefix, key)
	if e.keyErr == nil {
		e.value, e.err = Decode(e.key, value)
	}
	if e.keyErr == nil && isLive(e.key.Kind) {
		if e.key.Kind == KindLoad {
			b.putLoad(key, e)
		}
		b.live[key] = e
		return
	}
	b.entries[key] = e
	b.dirty = true
}

// Delete forgets a key and its last good value. rev is the revision of the
// delete, which moves the zone's SOA serial forward like any other change.
func (b *Builder) Delete(key string, rev int64) {
	if _, ok := b.live[key]; ok {
		delete(b.live, key)
		delete(b.goodLoad, key)
		return
	}
	if k, err := ParseKey(b.prefix, key); err == nil && k.Zone != "" {
		b.deleted[k.Zone] = max(b.deleted[k.Zone], rev)
	}
	delete(b.entries, key)
	delete(b.good, key)
	b.dirty = true
}

// Reset forgets what etcd holds, but not the last good values, before a full
// re-list. Keys that the re-list does not put again are dropped at the next
// State.
func (b *Builder) Reset() {
	clear(b.entries)
	clear(b.live)
	b.dirty = true
}

// State assembles a new State at revision rev. It also returns the
// rejections that are new since the last call (a key newly rejected, or for a
// new reason), which the caller logs and counts once.
func (b *Builder) State(rev int64) (*State, []Rejection) {
	if b.dirty || b.config == nil {
		b.config = b.configState(rev)
		b.dirty = false
	}
	st := &State{
		Revision:       rev,
		ConfigRevision: b.config.ConfigRevision,
		Regions:        b.config.Regions,
		Zones:          b.config.Zones,
		Rejected:       slices.Clone(b.config.Rejected),
	}
	st.Nets = b.config.Nets
	st.NetASNs = b.config.NetASNs
	b.liveState(st)
	slices.SortStableFunc(st.Rejected, func(x, y Rejection) int { return strings.Compare(x.Key, y.Key) })

	var fresh []Rejection
	seen := map[string]bool{}
	for _, r := range st.Rejected {
		seen[r.Key] = true
		if b.reported[r.Key] != r.Reason {
			fresh = append(fresh, r)
			b.reported[r.Key] = r.Reason
		}
	}
	for k := range b.reported {
		if !seen[k] {
			delete(b.reported, k)
		}
	}
	return st, fresh
}

// liveState fills in the probers and health reports. Invalid ones are
// rejected and simply not counted: a report has no last good value worth
// keeping, the prober writes a new one soon.
//
// Reports come in two layouts during an upgrade (see parseHealth). A prober
// that writes any per-prober key is counted from that layout only: its
// legacy keys can only be leftovers from before its upgrade, and the
// per-prober keys are the ones etcd's RBAC lets no one else write. So the
// same prober is never counted twice for one endpoint.
func (b *Builder) liveState(st *State) {
	st.Probers = map[string]*ProberInfo{}
	st.Health = map[string]map[string]map[string]*HealthReport{}
	st.Loads = map[string]float64{}
	b.pruneLoads()
	upgraded, owners := b.proberIDs()
	for key, e := range b.live {
		if e.key.Kind == KindLoad {
			b.liveLoad(st, key, e)
			continue
		}
		if e.err != nil {
			st.Rejected = append(st.Rejected, Rejection{Key: key, Kind: e.key.Kind, Reason: e.err.Error(), ModRevision: e.modRev})
			continue
		}
		k := e.key
		switch k.Kind {
		case KindProber:
			st.Probers[k.Prober] = e.value.(*ProberInfo)
		case KindHealth:
			if k.Legacy && upgraded[k.Prober] {
				continue // superseded by the prober's per-prober keys
			}
			if k.Legacy && owners[k.Region] {
				// The key lies inside that prober's own health prefix,
				// which its etcd role may write: it could be a forgery
				// of another prober's vote.
				st.Rejected = append(st.Rejected, Rejection{Key: key, Kind: KindHealth, ModRevision: e.modRev,
					Reason: fmt.Sprintf("legacy health key inside the health prefix of prober %q (%s), which may "+
						"have written it: not counted; a prober id must not be a region id",
						k.Region, ProberHealthPrefix(b.prefix, k.Region))})
				continue
			}
			eps := st.Health[k.Region]
			if eps == nil {
				eps = map[string]map[string]*HealthReport{}
				st.Health[k.Region] = eps
			}
			if eps[k.Endpoint] == nil {
				eps[k.Endpoint] = map[string]*HealthReport{}
			}
			eps[k.Endpoint][k.Prober] = e.value.(*HealthReport)
		}
	}
}

// proberIDs returns the probers that write per-prober health keys, and
// those plus the registered ones: every id whose health prefix a prober
// credential may write.
func (b *Builder) proberIDs() (upgraded, owners map[string]bool) {
	upgraded, owners = map[string]bool{}, map[string]bool{}
	for _, e := range b.live {
		switch {
		case e.key.Kind == KindHealth && !e.key.Legacy && e.key.Prober != "":
			upgraded[e.key.Prober] = true
			owners[e.key.Prober] = true
		case e.key.Kind == KindProber:
			owners[e.key.Prober] = true
		}
	}
	return upgraded, owners
}

// configState assembles the configuration part: regions, zones and their
// rejections.
func (b *Builder) configState(rev int64) *State {
	for k, g := range b.good {
		if _, ok := b.entries[k]; !ok {
			// Gone in a re-list: deleted while we were not watching. Its
			// zone changed at some revision up to rev, so the serial moves.
			if g.key.Zone != "" {
				b.deleted[g.key.Zone] = max(b.deleted[g.key.Zone], rev)
			}
			delete(b.good, k)
		}
	}
	a := assembly{b: b, st: &State{
		Revision:       rev,
		ConfigRevision: rev,
		Regions:        map[string]*RegionState{},
		Zones:          map[string]*ZoneState{},
	}}
	keys := slices.Sorted(maps.Keys(b.entries))
	// Order matters: regions and zones first, since names and records are
	// checked against them.
	for _, kinds := range [][]Kind{{KindRegion, KindZone, KindNets}, {KindWeight, KindSchedule, KindName, KindAdmin}, {KindRecord, KindNameWeight, KindNameSchedule}} {
		for _, k := range keys {
			if e := b.entries[k]; e.keyErr == nil && slices.Contains(kinds, e.key.Kind) {
				a.add(k, e)
			}
		}
	}
	for _, k := range keys {
		if e := b.entries[k]; e.keyErr != nil {
			a.reject(k, e, e.keyErr)
		}
	}
	// Records are checked against names and each other after all are in.
	a.checkRecords()
	a.finish()

	return a.st
}

type assembly struct {
	b  *Builder
	st *State
}

// add files one entry into the state, or rejects it and falls back to the
// key's last good value.
func (a *assembly) add(key string, e *entry) {
	if e.key.Kind == KindProber || e.key.Kind == KindHealth {
		return // read by the health view, not part of the configuration
	}
	err := e.err
	if err == nil {
		err = a.crossCheck(e)
	}
	if err == nil {
		a.b.good[key] = e
		a.use(e)
		return
	}
	g, ok := a.b.good[key]
	inForce := ok && a.fallbackOK(g)
	if inForce {
		a.use(g)
	}
	a.st.Rejected = append(a.st.Rejected, Rejection{
		Key: key, Kind: e.key.Kind, Reason: err.Error(), ModRevision: e.modRev, InForce: inForce,
	})
}

// fallbackOK says whether a key's last good value can still be served. A
// name keeps serving when one of its regions is deleted (the server skips
// the missing region), but nothing outlives its zone or its region.
func (a *assembly) fallbackOK(g *entry) bool {
	if g.key.Kind == KindName {
		return a.st.Zones[g.key.Zone] != nil
	}
	return a.crossCheck(g) == nil
}

func (a *assembly) reject(key string, e *entry, err error) {
	a.st.Rejected = append(a.st.Rejected, Rejection{
		Key: key, Kind: e.key.Kind, Reason: err.Error(), ModRevision: e.modRev,
	})
}

// crossCheck applies the checks that need other keys.
func (a *assembly) crossCheck(e *entry) error {
	switch e.key.Kind {
	case KindWeight, KindSchedule:
		// Refused rather than ignored, so that a drain of a mistyped region
		// shows up as a rejected key instead of doing nothing silently.
		if a.st.Regions[e.key.Region] == nil {
			return fmt.Errorf("region %q does not exist (no valid %s)", e.key.Region, RegionKey(a.b.prefix, e.key.Region))
		}
	case KindName:
		if a.st.Zones[e.key.Zone] == nil {
			return fmt.Errorf("zone %q has no valid %s document", e.key.Zone, ZoneKey(a.b.prefix, e.key.Zone))
		}
		for _, r := range e.value.(*Name).Regions {
			if a.st.Regions[r] == nil {
				return fmt.Errorf("region %q does not exist (no valid %s)", r, RegionKey(a.b.prefix, r))
			}
		}
	case KindRecord:
		if a.st.Zones[e.key.Zone] == nil {
			return fmt.Errorf("zone %q has no valid %s document", e.key.Zone, ZoneKey(a.b.prefix, e.key.Zone))
		}
		if e.key.Type == "CNAME" && e.key.Label == "@" {
			return fmt.Errorf("a CNAME is not allowed at the zone apex")
		}
	}
	return a.crossCheckTraffic(e)
}

func (a *assembly) use(e *entry) {
	k := e.key
	switch k.Kind {
	case KindRegion:
		a.st.Regions[k.Region] = &RegionState{ID: k.Region, Region: e.value.(*Region), Weight: DefaultWeight}
	case KindWeight:
		if r := a.st.Regions[k.Region]; r != nil {
			r.Weight = e.value.(int)
		}
	case KindSchedule:
		if r := a.st.Regions[k.Region]; r != nil {
			r.Schedule = e.value.(*Schedule)
		}
	case KindZone:
		a.st.Zones[k.Zone] = &ZoneState{
			Name: k.Zone, Zone: e.value.(*Zone), Serial: uint32(e.modRev),
			Names: map[string]*Name{}, Records: map[string]map[string]*Record{},
		}
	case KindName:
		z := a.st.Zones[k.Zone]
		z.Names[k.Label] = e.value.(*Name)
		z.Serial = max(z.Serial, uint32(e.modRev))
	case KindRecord:
		z := a.st.Zones[k.Zone]
		if z.Records[k.Label] == nil {
			z.Records[k.Label] = map[string]*Record{}
		}
		z.Records[k.Label][k.Type] = e.value.(*Record)
		z.Serial = max(z.Serial, uint32(e.modRev))
	default:
		a.useTraffic(e)
	}
}

// checkRecords drops records that clash with others at the same owner: a
// CNAME must stand alone (RFC 1034 3.6.2), and A/AAAA at a GSLB name would
// be ambiguous. The CNAME, or the static address record, is the one refused.
func (a *assembly) checkRecords() {
	for _, z := range a.st.Zones {
		for label, types := range z.Records {
			var bad []string
			if _, ok := types["CNAME"]; ok && (len(types) > 1 || z.Names[label] != nil) {
				bad = append(bad, "CNAME")
			}
			if z.Names[label] != nil {
				for _, t := range []string{"A", "AAAA"} {
					if _, ok := types[t]; ok {
						bad = append(bad, t)
					}
				}
			}
			for _, t := range bad {
				key := RecordKey(a.b.prefix, z.Name, label, t)
				reason := "a CNAME cannot share its name with other records or a GSLB name"
				if t != "CNAME" {
					reason = fmt.Sprintf("%s records clash with the GSLB name %s", t, NameKey(a.b.prefix, z.Name, label))
				}
				e := a.b.entries[key]
				a.st.Rejected = append(a.st.Rejected, Rejection{Key: key, Kind: KindRecord, Reason: reason, ModRevision: e.modRev})
				delete(types, t)
			}
			if len(types) == 0 {
				delete(z.Records, label)
			}
		}
	}
}

func (a *assembly) finish() {
	slices.SortStableFunc(a.st.Rejected, func(x, y Rejection) int { return strings.Compare(x.Key, y.Key) })
	// A key refused twice (its own value, then its fallback clashing) is
	// listed once with both reasons.
	out := a.st.Rejected[:0]
	for _, r := range a.st.Rejected {
		if n := len(out); n > 0 && out[n-1].Key == r.Key {
			out[n-1].Reason += "; " + r.Reason
			out[n-1].InForce = false
			continue
		}
		out = append(out, r)
	}
	a.st.Rejected = out
	for _, z := range a.st.Zones {
		z.Serial = max(z.Serial, uint32(a.b.deleted[z.Name]))
		if z.Zone.SOA.Serial != 0 {
			z.Serial = z.Zone.SOA.Serial
		}
	}
}
