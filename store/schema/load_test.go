package schema

import (
	"strings"
	"testing"
)

func TestParseLoad(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  string
	}{
		{"0", 0, ""}, {" 0.85\n", 0.85, ""}, {"10", 10, ""},
		{"10.5", 0, "outside 0..10"}, {"-0.1", 0, "outside"}, {"NaN", 0, "outside"}, {"high", 0, "not a number"}, {"", 0, "not a number"},
	} {
		got, err := ParseLoad([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestShedAndLoadSourceValidate(t *testing.T) {
	for _, tc := range []struct {
		doc string
		err string
	}{
		{`{"lat":1,"lon":2,"addrs":["192.0.2.1"],"shed":{"low":0.8,"high":0.95}}`, ""},
		{`{"lat":1,"lon":2,"addrs":["192.0.2.1"],"shed":{"low":0.9,"high":0.9}}`, "watermarks"},
		{`{"lat":1,"lon":2,"addrs":["192.0.2.1"],"shed":{"low":-1,"high":0.9}}`, "watermarks"},
		{`{"lat":1,"lon":2,"addrs":["192.0.2.1"],"shed":{"low":0.8,"high":11}}`, "watermarks"},
		{`{"lat":1,"lon":2,"addrs":["192.0.2.1"],"check":{"type":"http","load":{"header":"X-Load"}}}`, ""},
		{`{"lat":1,"lon":2,"addrs":["192.0.2.1"],"check":{"type":"http","load":{"json":"load"}}}`, ""},
		{`{"lat":1,"lon":2,"addrs":["192.0.2.1"],"check":{"type":"https","load":{"metric":"app_utilization"}}}`, ""},
		{`{"lat":1,"lon":2,"addrs":["192.0.2.1"],"check":{"type":"http","load":{}}}`, "exactly one"},
		{`{"lat":1,"lon":2,"addrs":["192.0.2.1"],"check":{"type":"http","load":{"json":"a","header":"b"}}}`, "exactly one"},
		{`{"lat":1,"lon":2,"addrs":["192.0.2.1"],"check":{"type":"tcp","port":80,"load":{"json":"a"}}}`, "tcp check"},
	} {
		_, err := Decode(Key{Kind: KindRegion, Region: "r"}, []byte(tc.doc))
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err %v, want %q", tc.doc, err, tc.err)
		}
	}
}

// TestLoadKey: the load key is live (a change does not rebuild the
// configuration), an invalid value is rejected with the last good one in
// force, and a deleted key drops the load.
func TestLoadKey(t *testing.T) {
	b := NewBuilder(DefaultPrefix)
	b.Put(RegionKey(DefaultPrefix, "eu-west"), []byte(`{"lat":1,"lon":2,"addrs":["192.0.2.1"]}`), 2)
	key := LoadKey(DefaultPrefix, "eu-west")
	if k, err := ParseKey(DefaultPrefix, key); err != nil || k.Kind != KindLoad || k.String() != "regions/eu-west/load" {
		t.Fatalf("ParseKey: %+v %v", k, err)
	}
	b.Put(key, []byte("0.7"), 3)
	st, fresh := b.State(3)
	if st.Loads["eu-west"] != 0.7 || len(fresh) != 0 {
		t.Fatalf("loads %v, rejections %v", st.Loads, fresh)
	}
	cfgRev := st.ConfigRevision
	b.Put(key, []byte("lots"), 4)
	st, fresh = b.State(4)
	if st.Loads["eu-west"] != 0.7 || len(fresh) != 1 || !fresh[0].InForce || fresh[0].Kind != KindLoad {
		t.Fatalf("after a bad value: loads %v, rejections %+v; want 0.7 kept and one rejection in force", st.Loads, fresh)
	}
	if st.ConfigRevision != cfgRev {
		t.Errorf("a load change rebuilt the configuration (revision %d, was %d)", st.ConfigRevision, cfgRev)
	}
	b.Put(key, []byte("0.9"), 5)
	if st, _ = b.State(5); st.Loads["eu-west"] != 0.9 || len(st.Rejected) != 0 {
		t.Errorf("loads %v, rejected %v", st.Loads, st.Rejected)
	}
	b.Delete(key, 6)
	if st, _ = b.State(6); len(st.Loads) != 0 {
		t.Errorf("after delete: loads %v", st.Loads)
	}
}

func TestBalanceValidate(t *testing.T) {
	for _, tc := range []struct {
		balance string
		ok      bool
	}{{"", true}, {"weight", true}, {"headroom", true}, {"least_conn", false}} {
		n := Name{Regions: []string{"a"}, Balance: tc.balance}
		if err := n.Validate(); (err == nil) != tc.ok {
			t.Errorf("balance %q: err %v, want ok %v", tc.balance, err, tc.ok)
		}
	}
}
