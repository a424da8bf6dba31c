package dnssec

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var testTTLs = TTLs{DNSKEY: time.Hour, MaxZone: 2 * time.Hour, DS: 24 * time.Hour, Propagation: 5 * time.Minute}

// TestRollover walks a ZSK pre-publish, a KSK double-DS and a CSK
// rollover step by step. Before each step a call one second early is
// refused with the time it becomes safe; at every step the zone's data
// and its DNSKEY RRset are signed with the keys then in force and verify
// against the DNSKEY RRset then published, against the one published at
// the step before (what a resolver may still have cached), and the key
// signing the DNSKEY RRset has its DS at the parent (the DS set of the
// step before, which the operator was told to submit).
func TestRollover(t *testing.T) {
	tests := []struct {
		name  string
		split bool
		kind  Role
		waits []time.Duration // before steps 2 and 3
	}{
		{"zsk pre-publish", true, RoleZSK, []time.Duration{time.Hour, 2 * time.Hour}},
		{"ksk double-ds", true, RoleKSK, []time.Duration{24 * time.Hour, time.Hour}},
		{"csk", false, RoleKSK, []time.Duration{24 * time.Hour, 2 * time.Hour}},
	}
	for _, alg := range []uint8{AlgECDSAP256, AlgEd25519} {
		for _, tc := range tests {
			t.Run(tc.name+"/alg"+dns.AlgorithmToString[alg], func(t *testing.T) {
				c := newClock()
				ks, priv := zoneKeys(t, alg, tc.split, c.t)
				gen := func(r Role) (*Key, error) { return GenerateKey(zone, alg, r, DefaultDNSKEYTTL) }
				original := slices.Clone(ks.Keys)
				prev := ks
				for step := 1; step <= 3; step++ {
					if step > 1 {
						wait := tc.waits[step-2] + testTTLs.Propagation
						c.add(wait - time.Second)
						_, err := Next(prev, tc.kind, c.t, testTTLs, gen)
						var early *TooEarlyError
						if !errors.As(err, &early) || !errors.Is(err, ErrTooEarly) || !early.At.Equal(c.t.Add(time.Second)) {
							t.Fatalf("step %d a second early: %v; want ErrTooEarly safe from %s", step, err, c.t.Add(time.Second))
						}
						c.add(time.Second)
					}
					st, err := Next(prev, tc.kind, c.t, testTTLs, gen)
					if err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					if !strings.HasPrefix(st.Done, "step ") || (step < 3) != !st.NextAt.IsZero() {
						t.Errorf("step %d: done %q, next at %s", step, st.Done, st.NextAt)
					}
					if st.New != nil {
						priv[st.New.Tag()] = st.New.PrivateText()
					}
					for _, tag := range st.Removed {
						delete(priv, tag)
					}
					cur := roundTrip(t, st.Keys)
					checkStep(t, step, prev, cur, priv, c)
					prev = cur
				}
				if prev.Roll != nil {
					t.Errorf("roll still in progress after 3 steps: %+v", prev.Roll)
				}
				// The rolled key is gone, the other one (split) stays.
				for _, r := range original {
					kept := prev.record(r.Tag) != nil
					if want := r.Role != tc.kind && !(tc.kind == RoleKSK && r.Role == RoleCSK); kept != want {
						t.Errorf("original %s %d kept=%v, want %v", r.Role, r.Tag, kept, want)
					}
				}
				if len(prev.Keys) != len(original) || len(prev.DS()) != 1 {
					t.Errorf("after the roll: %d keys, %d DS; want %d and 1", len(prev.Keys), len(prev.DS()), len(original))
				}
			})
		}
	}
}

// checkStep signs with the keys of cur and checks the signatures as
// validators with cur's or prev's DNSKEY RRset cached would.
func checkStep(t *testing.T, step int, prev, cur *KeySet, priv map[uint16]string, c *clock) {
	t.Helper()
	s, err := NewSigner(cur, priv, cfgAt(c))
	if err != nil {
		t.Fatalf("step %d: signer: %v", step, err)
	}
	data := rrs(t, "www.gslb.example.com. 30 IN A 192.0.2.10")
	sig, _, err := s.Sign(data)
	must(t, err)
	for name, set := range map[string]*KeySet{"published": cur, "cached from the step before": prev} {
		if _, err := verify(sig, data, set.DNSKEYs(), c.t); err != nil {
			t.Errorf("step %d: data against the DNSKEY RRset %s: %v", step, name, err)
		}
	}
	ksig, _, err := s.Sign(s.DNSKEY())
	must(t, err)
	if _, err := verify(ksig, s.DNSKEY(), s.DNSKEY(), c.t); err != nil {
		t.Errorf("step %d: DNSKEY RRset: %v", step, err)
	}
	var signer *dns.DNSKEY
	for _, k := range s.DNSKEY() {
		if k.(*dns.DNSKEY).KeyTag() == ksig.KeyTag {
			signer = k.(*dns.DNSKEY)
		}
	}
	ds := signer.ToDS(dns.SHA256)
	for name, set := range map[string]*KeySet{"now": cur, "at the step before": prev} {
		if !slices.ContainsFunc(set.DS(), func(d *dns.DS) bool { return d.Digest == ds.Digest }) {
			t.Errorf("step %d: the key signing the DNSKEY RRset (%d) has no DS at the parent %s", step, ksig.KeyTag, name)
		}
	}
	cds, _, err := s.Sign(s.CDS())
	must(t, err)
	if _, err := verify(cds, s.CDS(), s.DNSKEY(), c.t); err != nil {
		t.Errorf("step %d: CDS: %v", step, err)
	}
}

// TestRolloverRefuses checks rolls that must not start.
func TestRolloverRefuses(t *testing.T) {
	c := newClock()
	gen := func(r Role) (*Key, error) { return GenerateKey(zone, AlgECDSAP256, r, DefaultDNSKEYTTL) }
	csk, _ := zoneKeys(t, AlgECDSAP256, false, c.t)
	if _, err := Next(csk, RoleZSK, c.t, testTTLs, gen); err == nil || !strings.Contains(err.Error(), "roll it with ksk") {
		t.Errorf("zsk roll of a CSK zone: %v", err)
	}
	split, _ := zoneKeys(t, AlgECDSAP256, true, c.t)
	st, err := Next(split, RoleZSK, c.t, testTTLs, gen)
	must(t, err)
	if _, err := Next(st.Keys, RoleKSK, c.t.Add(48*time.Hour), testTTLs, gen); err == nil || !strings.Contains(err.Error(), "zsk rollover is in progress") {
		t.Errorf("ksk roll during a zsk roll: %v", err)
	}
	if len(split.Keys) != 2 || split.Roll != nil {
		t.Error("Next changed the key set it was given")
	}
	if _, err := Next(split, RoleZSK, c.t, testTTLs, func(Role) (*Key, error) { return nil, errors.New("no entropy") }); err == nil {
		t.Error("roll went on without a new key")
	}
}
