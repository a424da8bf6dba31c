package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/internal/logformat"
	"github.com/glb-dns/glb/store"
)

func envOf(vals map[string]string) func(string) string {
	return func(k string) string { return vals[k] }
}

func hostnameOf(name string) func() (string, error) {
	return func() (string, error) { return name, nil }
}

// TestFlagsParse checks defaults, the fall-backs for -id and -etcd, and
// that each bad command line is refused with a message naming the flag.
func TestFlagsParse(t *testing.T) {
	noHost := func() (string, error) { return "", errors.New("no uts namespace") }
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		hostname func() (string, error)
		wantErr  string // substring; "" means success
		check    func(t *testing.T, c Config)
	}{
		{name: "defaults", args: []string{"-location", "50.11, 8.68"}, check: func(t *testing.T, c Config) {
			want := Config{ID: "probe-a.example.net", Lat: 50.11, Lon: 8.68, Etcd: []string{store.DefaultEndpoint}, Prefix: "/glb/",
				HTTPAddr: defaultHTTP, LeaseTTL: 10 * time.Second, Refresh: 30 * time.Second}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("config\n %+v, want\n %+v", c, want)
			}
		}},
		{name: "everything set", args: []string{"-id", "ams-1", "-location", "52.37,4.9", "-country", "nl", "-etcd", "e1:2379,http://e2:2379",
			"-prefix", "/x/", "-http", ":9000", "-lease-ttl", "3s", "-refresh", "1m", "-log-level", "debug", "-log-format", "json"},
			check: func(t *testing.T, c Config) {
				if c.ID != "ams-1" || c.Country != "NL" || c.Prefix != "/x/" || c.HTTPAddr != ":9000" ||
					c.LeaseTTL != 3*time.Second || c.Refresh != time.Minute || c.LogLevel.String() != "DEBUG" || c.LogFormat != logformat.JSON {
					t.Errorf("config %+v", c)
				}
				if want := []string{"http://e1:2379", "http://e2:2379"}; !slices.Equal(c.Etcd, want) {
					t.Errorf("etcd %v, want %v", c.Etcd, want)
				}
			}},
		{name: "ETCDCTL_ENDPOINTS is honoured", args: []string{"-location", "0,0"}, env: map[string]string{"ETCDCTL_ENDPOINTS": "10.0.0.1:2379"},
			check: func(t *testing.T, c Config) {
				if !slices.Equal(c.Etcd, []string{"http://10.0.0.1:2379"}) {
					t.Errorf("etcd %v", c.Etcd)
				}
			}},
		{name: "-etcd wins over the environment", args: []string{"-location", "0,0", "-etcd", "a:1"}, env: map[string]string{"ETCDCTL_ENDPOINTS": "b:2"},
			check: func(t *testing.T, c Config) {
				if !slices.Equal(c.Etcd, []string{"http://a:1"}) {
					t.Errorf("etcd %v", c.Etcd)
				}
			}},
		{name: "-location is required", args: nil, wantErr: "-location: required"},
		{name: "location not a pair", args: []string{"-location", "50.11"}, wantErr: "-location"},
		{name: "location not numbers", args: []string{"-location", "north,east"}, wantErr: "-location"},
		{name: "latitude out of range", args: []string{"-location", "91,0"}, wantErr: "-location"},
		{name: "bad country", args: []string{"-location", "0,0", "-country", "Netherlands"}, wantErr: "-country"},
		{name: "bad id", args: []string{"-location", "0,0", "-id", "probe one"}, wantErr: "-id"},
		{name: "host name is not an id", args: []string{"-location", "0,0"}, hostname: hostnameOf("-weird"), wantErr: "-id"},
		{name: "no host name", args: []string{"-location", "0,0"}, hostname: noHost, wantErr: "-id"},
		{name: "short lease", args: []string{"-location", "0,0", "-lease-ttl", "1s"}, wantErr: "-lease-ttl"},
		{name: "zero refresh", args: []string{"-location", "0,0", "-refresh", "0s"}, wantErr: "-refresh"},
		{name: "refresh beyond report age", args: []string{"-location", "0,0", "-refresh", "5m"}, wantErr: "-refresh"},
		{name: "bad http address", args: []string{"-location", "0,0", "-http", "8054"}, wantErr: "-http"},
		{name: "bad prefix", args: []string{"-location", "0,0", "-prefix", "glb"}, wantErr: "-prefix"},
		{name: "bad log level", args: []string{"-location", "0,0", "-log-level", "loud"}, wantErr: "-log-level"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "nope"},
		{name: "stray argument", args: []string{"-location", "0,0", "extra"}, wantErr: "extra"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host := tc.hostname
			if host == nil {
				host = hostnameOf("Probe-A.example.net")
			}
			c, err := parseFlags(tc.args, envOf(tc.env), host, &bytes.Buffer{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestFlagsExitCodes runs main's logic: a bad command line is status 2 with
// one line on stderr, and so is a -ca-file that cannot be used; -h is 0
// with the usage, and a start-up failure is 1.
func TestFlagsExitCodes(t *testing.T) {
	badCA := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(badCA, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String() // a start-up failure, not a bad file: status 1
	cases := []struct {
		name       string
		args       []string
		want       int
		wantStderr string // substring
		oneLine    bool
	}{
		{"unknown flag", []string{"-nope"}, 2, "glbprobe: flag provided but not defined: -nope", true},
		{"missing location", nil, 2, "glbprobe: -location: required", true},
		{"unknown log format", []string{"-location", "0,0", "-log-format", "xml"}, 2, "glbprobe: invalid value \"xml\" for flag -log-format: \"xml\": want text or json", true},
		{"several errors", []string{"-location", "x", "-log-level", "loud"}, 2, "glbprobe: -log-level", true},
		{"help", []string{"-h"}, 0, "Usage: glbprobe", false},
		{"bad ca file", []string{"-location", "0,0", "-http", "127.0.0.1:0", "-ca-file", badCA}, 2, "glbprobe: read -ca-file \"" + badCA + "\": no PEM", true},
		{"missing ca file", []string{"-location", "0,0", "-http", "127.0.0.1:0", "-ca-file", badCA + ".gone"}, 2, "glbprobe: read -ca-file: open " + badCA + ".gone", true},
		{"ca file is a directory", []string{"-location", "0,0", "-http", "127.0.0.1:0", "-ca-file", filepath.Dir(badCA)}, 2, "glbprobe: read -ca-file", true},
		{"positional argument", []string{"-location", "0,0", "extra"}, 2, "glbprobe: unexpected argument \"extra\"", true},
		{"flag without its value", []string{"-location"}, 2, "glbprobe: flag needs an argument: -location", true},
		{"location out of range", []string{"-location", "91,0"}, 2, "glbprobe: -location 91,0", true},
		{"location not numbers", []string{"-location", "north,east"}, 2, "glbprobe: -location \"north,east\"", true},
		{"country not ISO", []string{"-location", "0,0", "-country", "Germany"}, 2, "glbprobe: -country", true},
		{"id with a slash", []string{"-location", "0,0", "-id", "a/b"}, 2, "glbprobe: -id \"a/b\"", true},
		{"http without a port", []string{"-location", "0,0", "-http", "localhost"}, 2, "glbprobe: -http \"localhost\"", true},
		{"prefix without slashes", []string{"-location", "0,0", "-prefix", "glb"}, 2, "glbprobe: -prefix \"glb\"", true},
		{"lease ttl too short", []string{"-location", "0,0", "-lease-ttl", "1s"}, 2, "glbprobe: -lease-ttl 1s", true},
		{"lease ttl not a duration", []string{"-location", "0,0", "-lease-ttl", "long"}, 2, "glbprobe: invalid value \"long\" for flag -lease-ttl", true},
		{"refresh zero", []string{"-location", "0,0", "-refresh", "0s"}, 2, "glbprobe: -refresh 0s", true},
		{"http port taken", []string{"-location", "0,0", "-http", taken}, 1, "glbprobe: ", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := run(tc.args, envOf(nil), hostnameOf("probe-a"), io.Discard, &stderr); got != tc.want {
				t.Errorf("exit %d, want %d; stderr %q", got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.wantStderr)
			}
			if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n") + 1; tc.oneLine && lines != 1 {
				t.Errorf("stderr has %d lines, want 1: %q", lines, stderr.String())
			}
		})
	}
}
