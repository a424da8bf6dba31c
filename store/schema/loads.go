package schema

import "maps"

// Load keys are live keys (see isLive) that keep their last good value
// like configuration keys: a writer's typo must not make a loaded region
// look idle.

// putLoad remembers a load key's value when it is valid. A Reset (re-list)
// keeps goodLoad; a key the re-list does not put again is dropped by the
// next liveState.
func (b *Builder) putLoad(key string, e *entry) {
	if e.err == nil {
		b.goodLoad[key] = e
	}
}

// liveLoad puts a load key's value, or its last good one, into st, and
// rejects an invalid value.
func (b *Builder) liveLoad(st *State, key string, e *entry) {
	good := b.goodLoad[key]
	if e.err != nil {
		st.Rejected = append(st.Rejected, Rejection{Key: key, Kind: KindLoad, Reason: e.err.Error(),
			ModRevision: e.modRev, InForce: good != nil})
	}
	if good != nil {
		st.Loads[e.key.Region] = good.value.(float64)
	}
}

// pruneLoads forgets the last good values of load keys etcd no longer
// holds (gone in a re-list).
func (b *Builder) pruneLoads() {
	maps.DeleteFunc(b.goodLoad, func(k string, _ *entry) bool { _, ok := b.live[k]; return !ok })
}
