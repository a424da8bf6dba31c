package main

import (
	"maps"
	"strings"
	"testing"
)

// TestNameWeightCommands: with --name, weight, drain and undrain change
// the name's own weight key and nothing else; the key is an override, not
// configuration, so the configuration (what export and apply see) stays.
func TestNameWeightCommands(t *testing.T) {
	const key = "/glb/zones/gslb.example.test/names/www/weights/eu-west"
	cases := []struct {
		name   string
		before map[string]string // keys put first
		args   []string
		code   int
		stdout string
		stderr string
		want   string // the name weight key after, "" absent
	}{
		{name: "show: the region's", args: []string{"weight", "eu-west", "--name", "www"},
			stdout: "eu-west for www.gslb.example.test: weight 100 (no weight for the name: the region's)\n"},
		{name: "show: the name's", before: map[string]string{key: "30"}, args: []string{"weight", "eu-west", "--name", "www"},
			stdout: "eu-west for www.gslb.example.test: weight 30\n", want: "30"},
		{name: "set", args: []string{"weight", "eu-west", "40", "--name", "www", "--zone", "gslb.example.test"},
			stdout: "eu-west for www.gslb.example.test: weight 100 -> 40\n", want: "40"},
		{name: "drain", args: []string{"drain", "eu-west", "--name", "www"},
			stdout: "eu-west for www.gslb.example.test: weight 100 -> 0\n", want: "0"},
		{name: "undrain deletes the name's weight", before: map[string]string{key: "0"}, args: []string{"undrain", "eu-west", "--name", "www"},
			stdout: "eu-west for www.gslb.example.test: weight 0 -> the region's (name weight deleted)\n"},
		{name: "missing name", args: []string{"drain", "eu-west", "--name", "wwww"}, code: 1, stderr: `no zone has a name "wwww"`},
		{name: "missing name in a zone", args: []string{"drain", "eu-west", "--name", "wwww", "--zone", "gslb.example.test"}, code: 1,
			stderr: `name "wwww" does not exist (no /glb/zones/gslb.example.test/names/wwww)`},
		{name: "--zone without --name", args: []string{"drain", "eu-west", "--zone", "gslb.example.test"}, code: 2, stderr: "--zone needs --name"},
		{name: "undrain --name --ramp", args: []string{"undrain", "eu-west", "--name", "www", "--ramp", "1m"}, code: 2, stderr: "ramp with glbctl weight --name"},
	}
	s, env := devEtcd(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.before {
				s.Put(t, k, v)
			}
			before := configOf(t, s).Values
			r := ctl(t, env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
			if got := configOf(t, s).Values; !maps.Equal(got, before) {
				t.Errorf("configuration changed:\n got %v\nwant %v", got, before)
			}
			if got := s.Get(t, key); got != tc.want {
				t.Errorf("%s = %q, want %q", key, got, tc.want)
			}
			if _, err := s.Client(t).Delete(t.Context(), key); err != nil {
				t.Fatal(err)
			}
		})
	}
}
