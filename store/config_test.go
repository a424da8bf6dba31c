package store

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/glb-dns/glb/store/etcdtest"
)

func TestReadConfigLeavesOutLiveKeys(t *testing.T) {
	s, c := seeded(t)
	s.Put(t, testPrefix+"probers/p1", `{"lat":1,"lon":1}`)
	s.Put(t, testPrefix+"health/eu-west/192.0.2.10/p1", `{"up":true,"time":"2026-01-01T00:00:00Z"}`)
	s.Put(t, "/other/regions/x", `{}`)
	s.Put(t, testPrefix+"regions/eu-west/load", "0.5")
	a := NewAdmin(c, testPrefix)
	snap, err := a.ReadConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, v := range testSeed {
		want[testPrefix+k] = v
	}
	if !maps.Equal(snap.Values, want) {
		t.Errorf("values %v\nwant %v", snap.Values, want)
	}
	if snap.Revision == 0 || len(snap.ModRevisions) != len(want) {
		t.Errorf("revision %d, mod revisions %v", snap.Revision, snap.ModRevisions)
	}
}

func TestDiffConfig(t *testing.T) {
	cur := &ConfigSnapshot{Values: map[string]string{
		"/glb/regions/a":        `{"lat": 1, "lon": 2}`,
		"/glb/regions/a/weight": "50\n",
		"/glb/regions/b":        `{"lat":1}`,
		"/glb/regions/c":        `{"lat":1}`,
	}}
	want := map[string]string{
		"/glb/regions/a":        `{"lat":1,"lon":2}`, // same JSON, other spacing
		"/glb/regions/a/weight": "50",                // same weight
		"/glb/regions/b":        `{"lat":2}`,
		"/glb/regions/d":        `{"lat":3}`,
	}
	got := DiffConfig(cur, want)
	exp := []Change{
		{Op: ChangeUpdate, Key: "/glb/regions/b", Old: `{"lat":1}`, New: `{"lat":2}`},
		{Op: ChangeDelete, Key: "/glb/regions/c", Old: `{"lat":1}`},
		{Op: ChangeAdd, Key: "/glb/regions/d", New: `{"lat":3}`},
	}
	if !slices.Equal(got, exp) {
		t.Errorf("diff %+v\nwant %+v", got, exp)
	}
}

// TestApplyConfigIsGuarded: a write based on a read goes through only when
// nothing under regions/ or zones/ changed since the read, whatever the
// change was; otherwise nothing is written.
func TestApplyConfigIsGuarded(t *testing.T) {
	const www = testPrefix + "zones/gslb.example.test/names/www"
	cases := []struct {
		name      string
		meanwhile func(t *testing.T, a *Admin, s *etcdtest.Server)
		conflict  bool
	}{
		{name: "nothing changed", meanwhile: func(*testing.T, *Admin, *etcdtest.Server) {}},
		{name: "a weight changed", conflict: true, meanwhile: func(t *testing.T, _ *Admin, s *etcdtest.Server) {
			s.Put(t, testPrefix+"regions/eu-west/weight", "0")
		}},
		{name: "a key was created", conflict: true, meanwhile: func(t *testing.T, _ *Admin, s *etcdtest.Server) {
			s.Put(t, testPrefix+"zones/gslb.example.test/names/api", `{"regions":["us-east"]}`)
		}},
		{name: "a key was deleted", conflict: true, meanwhile: func(t *testing.T, a *Admin, _ *etcdtest.Server) {
			if _, err := a.c.Delete(t.Context(), testPrefix+"regions/ap-south"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a health report came in", meanwhile: func(t *testing.T, _ *Admin, s *etcdtest.Server) {
			s.Put(t, testPrefix+"health/eu-west/192.0.2.10/p1", `{"up":true,"time":"2026-01-01T00:00:00Z"}`)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c := seeded(t)
			a := NewAdmin(c, testPrefix)
			snap, err := a.ReadConfig(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := maps.Clone(snap.Values)
			want[www] = `{"regions":["us-east"]}`
			delete(want, testPrefix+"regions/eu-west/weight")
			changes := DiffConfig(snap, want)
			tc.meanwhile(t, a, s)
			err = a.ApplyConfig(t.Context(), snap, changes)
			if tc.conflict != errors.Is(err, ErrConflict) || !tc.conflict && err != nil {
				t.Fatalf("ApplyConfig = %v, conflict wanted: %v", err, tc.conflict)
			}
			wantWWW := `{"regions":["us-east"]}`
			if tc.conflict {
				wantWWW = testSeed["zones/gslb.example.test/names/www"]
			}
			if got := s.Get(t, www); got != wantWWW {
				t.Errorf("www = %s, want %s", got, wantWWW)
			}
		})
	}
}

func TestApplyConfigRefusesOtherKeys(t *testing.T) {
	_, c := seeded(t)
	a := NewAdmin(c, testPrefix)
	snap, err := a.ReadConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	err = a.ApplyConfig(t.Context(), snap, []Change{{Op: ChangeAdd, Key: testPrefix + "probers/x", New: "{}"}})
	if err == nil {
		t.Fatal("ApplyConfig wrote a prober key")
	}
}

func TestWeight(t *testing.T) {
	s, c := seeded(t)
	a := NewAdmin(c, testPrefix)
	ctx := t.Context()
	s.Put(t, testPrefix+"regions/ap-south/weight", "lots")
	cases := []struct {
		region string
		want   Weight
		err    error
	}{
		{region: "eu-west", want: Weight{Value: 50, Raw: "50", Set: true}},
		{region: "us-east", want: Weight{Value: 100}},
		{region: "ap-south", want: Weight{Value: -1, Raw: "lots", Set: true}},
		{region: "nowhere", err: ErrNoRegion},
	}
	for _, tc := range cases {
		got, err := a.Weight(ctx, tc.region)
		if !errors.Is(err, tc.err) {
			t.Errorf("Weight(%s) error %v, want %v", tc.region, err, tc.err)
			continue
		}
		got.ModRevision = 0
		if got != tc.want {
			t.Errorf("Weight(%s) = %+v, want %+v", tc.region, got, tc.want)
		}
	}

	if _, err := a.SetWeight(ctx, "nowhere", 5, -1); !errors.Is(err, ErrNoRegion) {
		t.Errorf("SetWeight of a missing region: %v, want ErrNoRegion", err)
	}
	if s.Get(t, testPrefix+"regions/nowhere/weight") != "" {
		t.Error("a weight was written for a missing region")
	}
	if _, err := a.SetWeight(ctx, "eu-west", 1001, -1); err == nil {
		t.Error("SetWeight accepted 1001")
	}
	// Compare-and-swap: absent (0) matches only while absent.
	rev, err := a.SetWeight(ctx, "us-east", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetWeight(ctx, "us-east", 20, 0); !errors.Is(err, ErrConflict) {
		t.Errorf("SetWeight with a stale revision: %v, want ErrConflict", err)
	}
	if _, err := a.SetWeight(ctx, "us-east", 30, rev); err != nil {
		t.Errorf("SetWeight with the current revision: %v", err)
	}
	if got := s.Get(t, testPrefix+"regions/us-east/weight"); got != "30" {
		t.Errorf("us-east weight %q, want 30", got)
	}
}

func TestReadState(t *testing.T) {
	s, c := seeded(t)
	s.Put(t, testPrefix+"regions/bad", `{"lat":1}`)
	st, err := NewAdmin(c, testPrefix).ReadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Regions) != 3 || st.Regions["eu-west"].Weight != 50 {
		t.Errorf("regions %v", st.Regions)
	}
	if len(st.Rejected) != 1 || st.Rejected[0].Key != testPrefix+"regions/bad" {
		t.Errorf("rejected %+v", st.Rejected)
	}
}
