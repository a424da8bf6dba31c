package dnssec

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TTLs are the times a rollover step must wait for: how long resolvers
// may keep what the zone (or its parent) published before the last step.
type TTLs struct {
	// DNSKEY is the TTL of the DNSKEY RRset (the KeySet's DNSKEYTTL).
	DNSKEY time.Duration
	// MaxZone is the largest TTL of any signed RRset of the zone, the
	// negative TTL included: how long a signature made by a key may be
	// cached.
	MaxZone time.Duration
	// DS is the TTL of the zone's DS RRset at the parent.
	DS time.Duration
	// Propagation is the time for a change to reach every server of the
	// zone (glbd instances watching etcd: seconds) and, for DS changes, to
	// be published by the parent once submitted: a safety margin.
	Propagation time.Duration
}

// ErrTooEarly marks a rollover step refused because caches may still
// hold what the previous step replaced. The error's text says when it
// will be safe; errors.As with *TooEarlyError gives the time.
var ErrTooEarly = errors.New("rollover step not safe yet")

// TooEarlyError is a refused step and the earliest time it is safe.
type TooEarlyError struct {
	At  time.Time
	Why string
}

func (e *TooEarlyError) Error() string {
	return fmt.Sprintf("%s: %s; safe from %s", ErrTooEarly, e.Why, e.At.UTC().Format(time.RFC3339))
}

func (e *TooEarlyError) Unwrap() error { return ErrTooEarly }

// NewKeyFunc makes a new key of a role for a rollover.
type NewKeyFunc func(role Role) (*Key, error)

// Step is the outcome of one rollover step.
type Step struct {
	Keys    *KeySet   // the key set after the step: store it
	New     *Key      // a key made by this step: store its private half with Keys
	Removed []uint16  // tags of keys that left the set: delete their private halves
	Done    string    // what the step did
	Then    string    // what the operator does now, and when the next step is safe
	NextAt  time.Time // earliest time of the next step; zero when the roll is over
}

// Next takes one step of a rollover of the zone's ZSK (kind RoleZSK:
// pre-publish, RFC 6781 4.1.1.1) or KSK (kind RoleKSK: double-DS, RFC
// 6781 4.1.2; on a zone with a CSK, the CSK rolls with its DS and its
// DNSKEY published before it signs, both). Each roll has three steps;
// each call takes the next one, and refuses (wrapping ErrTooEarly) while
// the TTLs in force say resolvers may still hold what the previous step
// replaced. ks is not changed.
func Next(ks *KeySet, kind Role, now time.Time, ttls TTLs, newKey NewKeyFunc) (*Step, error) {
	csk := !ks.Split()
	switch {
	case kind == RoleZSK && csk:
		return nil, fmt.Errorf("roll zsk of %s: the zone has a combined signing key (csk); roll it with ksk", ks.Zone)
	case kind != RoleZSK && kind != RoleKSK:
		return nil, fmt.Errorf("roll %s of %s: want zsk or ksk", kind, ks.Zone)
	case ks.Roll != nil && ks.Roll.Kind != kind && !(csk && ks.Roll.Kind == RoleCSK && kind == RoleKSK):
		return nil, fmt.Errorf("roll %s of %s: a %s rollover is in progress (step %d of 3); finish it first", kind, ks.Zone, ks.Roll.Kind, ks.Roll.Step)
	}
	if csk {
		kind = RoleCSK
	}
	n := ks.clone()
	if n.Roll == nil {
		return n.start(kind, now, ttls, newKey)
	}
	var wait time.Duration
	var why string
	switch {
	case kind == RoleZSK && n.Roll.Step == 1:
		wait, why = ttls.DNSKEY, "resolvers may not have the new ZSK's DNSKEY yet (DNSKEY TTL)"
	case kind == RoleKSK && n.Roll.Step == 1:
		wait, why = ttls.DS, "resolvers may not have the new KSK's DS yet (the parent's DS TTL, counted from this roll's first step)"
	case kind == RoleCSK && n.Roll.Step == 1:
		wait, why = max(ttls.DNSKEY, ttls.DS), "resolvers may not have the new CSK's DNSKEY or DS yet (the longer of the DNSKEY and DS TTLs)"
	case kind == RoleKSK:
		wait, why = ttls.DNSKEY, "resolvers may still hold the DNSKEY RRset signed by the old KSK (DNSKEY TTL)"
	default:
		wait, why = max(ttls.DNSKEY, ttls.MaxZone), "resolvers may still hold signatures of the old key (the zone's largest TTL)"
	}
	if at := n.Roll.Since.Add(wait + ttls.Propagation); now.Before(at) {
		return nil, &TooEarlyError{At: at, Why: why}
	}
	if n.Roll.Step == 1 {
		return n.swap(kind, now, ttls), nil
	}
	return n.finish(kind), nil
}

// clone returns a copy that shares nothing mutable with ks.
func (ks *KeySet) clone() *KeySet {
	n := *ks
	n.Keys = slices.Clone(ks.Keys)
	if ks.Roll != nil {
		r := *ks.Roll
		n.Roll = &r
	}
	return &n
}

// start is step 1: a new key, published in the DNSKEY RRset (ZSK, CSK)
// or only as a DS for the parent (KSK).
func (n *KeySet) start(kind Role, now time.Time, ttls TTLs, newKey NewKeyFunc) (*Step, error) {
	var k *Key
	for range 8 { // a tag already in use, or 0, is drawn again
		var err error
		if k, err = newKey(kind); err != nil {
			return nil, fmt.Errorf("roll %s of %s: %w", kind, n.Zone, err)
		}
		if t := k.Tag(); t != 0 && n.record(t) == nil {
			break
		}
		k = nil
	}
	if k == nil {
		return nil, fmt.Errorf("roll %s of %s: no new key with a free tag", kind, n.Zone)
	}
	st := StatePublished
	then := fmt.Sprintf("wait for the DNSKEY TTL (%s), then roll again", ttls.DNSKEY)
	next := now.Add(ttls.DNSKEY + ttls.Propagation)
	switch kind {
	case RoleKSK:
		st = StateDSPublished
		then = fmt.Sprintf("add the new DS to the parent now (glbctl dnssec ds; CDS and CDNSKEY list it), wait until the parent serves it plus the DS TTL (%s), then roll again", ttls.DS)
		next = now.Add(ttls.DS + ttls.Propagation)
	case RoleCSK:
		then = fmt.Sprintf("add the new DS to the parent now (glbctl dnssec ds; CDS and CDNSKEY list it), wait until the parent serves it plus the longer of the DS and DNSKEY TTLs (%s), then roll again", max(ttls.DS, ttls.DNSKEY))
		next = now.Add(max(ttls.DS, ttls.DNSKEY) + ttls.Propagation)
	}
	n.add(k, st, now)
	n.Roll = &Roll{Kind: kind, Step: 1, Since: now.UTC()}
	return &Step{Keys: n, New: k, NextAt: next, Then: then,
		Done: fmt.Sprintf("step 1 of 3: new %s %d %s", kind, k.Tag(), st)}, nil
}

// swap is step 2: the new key signs, the old one stops.
func (n *KeySet) swap(kind Role, now time.Time, ttls TTLs) *Step {
	var oldTag, newTag uint16
	oldState := StateRetired
	wait := max(ttls.DNSKEY, ttls.MaxZone)
	then := "wait until the old key's signatures have left every cache (%s), then roll again to remove it"
	if kind == RoleKSK {
		// Double-DS: the DNSKEY RRset changes keys at once; validators
		// have both DSes.
		oldState, wait = StateDSRetired, ttls.DNSKEY
		then = "wait until the old DNSKEY RRset has left every cache (%s), then roll again"
	}
	for i := range n.Keys {
		r := &n.Keys[i]
		if r.Role != kind {
			continue
		}
		switch r.State {
		case StateActive:
			r.State, r.Since, oldTag = oldState, now.UTC(), r.Tag
		case StatePublished, StateDSPublished:
			r.State, r.Since, newTag = StateActive, now.UTC(), r.Tag
		}
	}
	n.Roll.Step, n.Roll.Since = 2, now.UTC()
	return &Step{Keys: n, NextAt: now.Add(wait + ttls.Propagation), Then: fmt.Sprintf(then, wait),
		Done: fmt.Sprintf("step 2 of 3: %s %d active, %d %s", kind, newTag, oldTag, oldState)}
}

// finish is step 3: the old key leaves.
func (n *KeySet) finish(kind Role) *Step {
	var removed []uint16
	n.Keys = slices.DeleteFunc(n.Keys, func(r KeyRecord) bool {
		if r.Role == kind && (r.State == StateRetired || r.State == StateDSRetired) {
			removed = append(removed, r.Tag)
			return true
		}
		return false
	})
	n.Roll = nil
	s := &Step{Keys: n, Removed: removed, Done: fmt.Sprintf("step 3 of 3: %s %s removed; the rollover is over", kind, tagList(removed))}
	if kind != RoleZSK {
		s.Then = "remove the old DS from the parent (glbctl dnssec ds shows the DS to keep)"
	}
	return s
}

func tagList(tags []uint16) string {
	s := make([]string, len(tags))
	for i, t := range tags {
		s[i] = strconv.Itoa(int(t))
	}
	return strings.Join(s, ", ")
}
