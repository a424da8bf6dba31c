package schema

import (
	"strings"
	"testing"
	"time"
)

func TestSchedulePhaseAt(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	s := &Schedule{Steps: []int{50, 10, 0}, Every: Duration(5 * time.Minute), Start: t0, Expires: t0.Add(time.Hour), Before: 100}
	held := *s
	held.Hold = Duration(30 * time.Second)
	for _, tc := range []struct {
		name       string
		s          *Schedule
		at         time.Duration
		step, want int
		active     bool
		next       time.Duration
	}{
		{"first step at once", s, 0, 0, 50, true, 5 * time.Minute},
		{"still step 1", s, 5*time.Minute - time.Nanosecond, 0, 50, true, 5 * time.Minute},
		{"second step", s, 5 * time.Minute, 1, 10, true, 10 * time.Minute},
		{"last step holds until expiry", s, 30 * time.Minute, 2, 0, true, time.Hour},
		{"expired: the weight key", s, time.Hour, -1, 100, false, -1},
		{"before start", s, -time.Second, -1, 100, true, 0},
		{"ttl-first hold", &held, 10 * time.Second, -1, 100, true, 30 * time.Second},
		{"after the hold", &held, 30 * time.Second, 0, 50, true, 30*time.Second + 5*time.Minute},
		{"nil", nil, 0, -1, 100, false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.s.PhaseAt(t0.Add(tc.at))
			if p.Step != tc.step || p.Active != tc.active {
				t.Fatalf("phase %+v, want step %d active %v", p, tc.step, tc.active)
			}
			if got := tc.s.WeightAt(t0.Add(tc.at), 100); got != tc.want {
				t.Fatalf("weight %d, want %d", got, tc.want)
			}
			want := time.Time{}
			if tc.next >= 0 {
				want = t0.Add(tc.next)
			}
			if !p.Next.Equal(want) {
				t.Fatalf("next %v, want %v", p.Next, want)
			}
		})
	}
}

func TestScheduleValidate(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"good", `{"steps":[50,0],"every":"5m","start":"2026-12-06T05:00:00Z","expires":"2026-12-06T09:00:00Z","before":100}`, ""},
		{"no steps", `{"steps":[],"every":"5m","start":"2026-12-06T05:00:00Z"}`, "steps"},
		{"weight too big", `{"steps":[5000],"every":"5m","start":"2026-12-06T05:00:00Z"}`, "outside 0..1000"},
		{"every too short", `{"steps":[1,0],"every":"1ms","start":"2026-12-06T05:00:00Z"}`, "shorter than"},
		{"no start", `{"steps":[0],"every":"5m"}`, "start is missing"},
		{"expires before start", `{"steps":[0],"every":"5m","start":"2026-12-06T05:00:00Z","expires":"2026-12-06T04:00:00Z"}`, "not after start"},
		{"unknown field", `{"steps":[0],"every":"5m","start":"2026-12-06T05:00:00Z","stpes":1}`, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Decode(Key{Kind: KindSchedule, Region: "eu"}, []byte(tc.doc))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s := v.(*Schedule); !s.Start.Equal(t0) || s.WeightAt(t0, 100) != 50 {
					t.Fatalf("decoded %+v", s)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestScheduleKeyAndBuilder(t *testing.T) {
	k, err := ParseKey(DefaultPrefix, DefaultPrefix+"regions/eu-west/schedule")
	if err != nil || k.Kind != KindSchedule || k.Region != "eu-west" || k.String() != "regions/eu-west/schedule" {
		t.Fatalf("ParseKey: %+v, %v", k, err)
	}
	b := NewBuilder(DefaultPrefix)
	b.Put(RegionKey(DefaultPrefix, "eu"), []byte(`{"lat":1,"lon":2,"addrs":["192.0.2.1"]}`), 1)
	b.Put(ScheduleKey(DefaultPrefix, "eu"), []byte(`{"steps":[0],"every":"5m","start":"2026-12-06T05:00:00Z"}`), 2)
	b.Put(ScheduleKey(DefaultPrefix, "gone"), []byte(`{"steps":[0],"every":"5m","start":"2026-12-06T05:00:00Z"}`), 3)
	st, _ := b.State(3)
	if s := st.Regions["eu"].Schedule; s == nil || s.Steps[0] != 0 {
		t.Fatalf("schedule of eu: %+v", s)
	}
	if len(st.Rejected) != 1 || !strings.Contains(st.Rejected[0].Reason, `region "gone" does not exist`) {
		t.Fatalf("rejected: %+v", st.Rejected)
	}
}

func TestTrickleValidate(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"regions":["a","b"],"policy":"failover","trickle":0.01}`, ""},
		{`{"regions":["a","b"],"policy":"failover","trickle":0.6}`, "trickle 0.6 is outside 0..0.5"},
		{`{"regions":["a","b"],"policy":"failover","trickle":-0.1}`, "outside"},
		{`{"regions":["a","b"],"trickle":0.01}`, `trickle is for the failover policy, not "geo"`},
	} {
		_, err := Decode(Key{Kind: KindName, Zone: "z.test", Label: "www"}, []byte(tc.doc))
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.doc, err, tc.want)
		}
	}
}
