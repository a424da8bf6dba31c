package main

import (
	"bytes"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glb-dns/glb/internal/logformat"
)

// TestParseFlags checks defaults, the environment fallback for etcd and
// that each bad command line is refused with a message naming the flag.
func TestParseFlags(t *testing.T) {
	env := func(vals map[string]string) func(string) string {
		return func(k string) string { return vals[k] }
	}
	noEnv := env(nil)
	cases := []struct {
		name    string
		args    []string
		env     func(string) string
		wantErr string // substring; "" means success
		check   func(t *testing.T, c Config)
	}{
		{name: "dev defaults", args: []string{"-dev"}, env: noEnv, check: func(t *testing.T, c Config) {
			if c.DNSAddr != "127.0.0.1:5353" || c.GeoIP != defaultDevGeoIP || len(c.Etcd) != 0 || c.Prefix != "/glb/" {
				t.Errorf("dev defaults: %+v", c)
			}
		}},
		{name: "production needs -geoip", args: nil, env: noEnv, wantErr: "-geoip"},
		{name: "instance and log format", args: []string{"-dev", "-instance", "fra-1", "-log-format", "json"}, env: noEnv, check: func(t *testing.T, c Config) {
			if c.Instance != "fra-1" || c.LogFormat != logformat.JSON {
				t.Errorf("instance %q, log format %q; want fra-1, json", c.Instance, c.LogFormat)
			}
		}},
		{name: "instance default", args: []string{"-geoip", "x.mmdb"}, env: noEnv, check: func(t *testing.T, c Config) {
			if host, _ := os.Hostname(); host != "" && c.Instance != host {
				t.Errorf("instance %q, want the host name %q", c.Instance, host)
			}
			if c.LogFormat.String() != "text" {
				t.Errorf("log format %q, want text", c.LogFormat.String())
			}
		}},
		{name: "dev instance default names the DNS address", args: []string{"-dev", "-dns", "127.0.0.1:5400"}, env: noEnv, check: func(t *testing.T, c Config) {
			if !strings.HasSuffix(c.Instance, " 127.0.0.1:5400") {
				t.Errorf("instance %q, want the host name and 127.0.0.1:5400", c.Instance)
			}
		}},
		{name: "ETCDCTL_ENDPOINTS is honoured", args: []string{"-geoip", "x.mmdb"},
			env: env(map[string]string{"ETCDCTL_ENDPOINTS": "10.0.0.1:2379, http://e2:2379"}), check: func(t *testing.T, c Config) {
				if want := []string{"http://10.0.0.1:2379", "http://e2:2379"}; !slices.Equal(c.Etcd, want) {
					t.Errorf("etcd %v, want %v", c.Etcd, want)
				}
				if c.DNSAddr != ":53" {
					t.Errorf("dns %q, want :53", c.DNSAddr)
				}
			}},
		{name: "-etcd wins over the environment", args: []string{"-geoip", "x.mmdb", "-etcd", "a:1"},
			env: env(map[string]string{"ETCDCTL_ENDPOINTS": "b:2"}), check: func(t *testing.T, c Config) {
				if !slices.Equal(c.Etcd, []string{"http://a:1"}) {
					t.Errorf("etcd %v", c.Etcd)
				}
			}},
		{name: "unknown flag", args: []string{"-nope"}, env: noEnv, wantErr: "nope"},
		{name: "bad log level", args: []string{"-dev", "-log-level", "loud"}, env: noEnv, wantErr: "-log-level"},
		{name: "bad dns address", args: []string{"-dev", "-dns", "5353"}, env: noEnv, wantErr: "-dns"},
		{name: "bad prefix", args: []string{"-dev", "-prefix", "glb"}, env: noEnv, wantErr: "-prefix"},
		{name: "-etcd with -dev", args: []string{"-dev", "-etcd", "a:1"}, env: noEnv, wantErr: "-etcd"},
		{name: "quorum out of range", args: []string{"-dev", "-health-quorum", "1"}, env: noEnv, wantErr: "-health-quorum"},
		{name: "stray argument", args: []string{"-dev", "extra"}, env: noEnv, wantErr: "extra"},
		{name: "production cache and poll defaults", args: []string{"-geoip", "x.mmdb"}, env: noEnv, check: func(t *testing.T, c Config) {
			if c.CacheFile != "/var/lib/glbd/cache.json" || !c.cacheDefault || c.GeoIPPoll != 5*time.Second {
				t.Errorf("cache %q (default %v), poll %s; want /var/lib/glbd/cache.json (default), 5s", c.CacheFile, c.cacheDefault, c.GeoIPPoll)
			}
		}},
		{name: "no cache with -dev", args: []string{"-dev"}, env: noEnv, check: func(t *testing.T, c Config) {
			if c.CacheFile != "" {
				t.Errorf("dev cache %q, want none", c.CacheFile)
			}
		}},
		{name: "cache given", args: []string{"-dev", "-cache-file", "/tmp/c.json", "-geoip-poll", "0"}, env: noEnv, check: func(t *testing.T, c Config) {
			if c.CacheFile != "/tmp/c.json" || c.cacheDefault || c.GeoIPPoll != 0 {
				t.Errorf("cache %q (default %v), poll %s; want /tmp/c.json, given, 0", c.CacheFile, c.cacheDefault, c.GeoIPPoll)
			}
		}},
		{name: "cache turned off", args: []string{"-geoip", "x.mmdb", "-cache-file", ""}, env: noEnv, check: func(t *testing.T, c Config) {
			if c.CacheFile != "" {
				t.Errorf("cache %q, want off", c.CacheFile)
			}
		}},
		{name: "cache is a directory", args: []string{"-dev", "-cache-file", "/var/lib/glbd/"}, env: noEnv, wantErr: "-cache-file"},
		{name: "poll negative", args: []string{"-dev", "-geoip-poll", "-1s"}, env: noEnv, wantErr: "-geoip-poll"},
		{name: "poll too often", args: []string{"-dev", "-geoip-poll", "1ms"}, env: noEnv, wantErr: "-geoip-poll"},
		{name: "poll not a duration", args: []string{"-dev", "-geoip-poll", "5"}, env: noEnv, wantErr: "geoip-poll"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, tc.env, &bytes.Buffer{})
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

// TestExitCodes runs main's logic: a bad flag is status 2 with one line on
// stderr, and so is a file it names that cannot be used (a missing GeoIP
// file, an unwritable cache file); a taken port is status 1.
func TestExitCodes(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"-dns", "nope"}, func(string) string { return "" }, &bytes.Buffer{}, &stderr); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n") + 1; lines != 1 || !strings.HasPrefix(stderr.String(), "glbd: ") {
		t.Errorf("bad flag: want one line starting with glbd:, got %q", stderr.String())
	}
	for _, args := range [][]string{{"-dev", "-geoip-poll", "1ms"}, {"-dev", "-cache-file", "d/"}, {"-dev", "-geoip-poll", "x"}} {
		stderr.Reset()
		if code := run(args, func(string) string { return "" }, &bytes.Buffer{}, &stderr); code != 2 ||
			strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 || !strings.Contains(stderr.String(), args[1]) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line naming %s", args, code, stderr.String(), args[1])
		}
	}
	stderr.Reset()
	if code := run([]string{"-h"}, func(string) string { return "" }, &bytes.Buffer{}, &stderr); code != 0 ||
		!strings.Contains(stderr.String(), "-cache-file") || !strings.Contains(stderr.String(), "-geoip-poll") {
		t.Errorf("-h: exit %d, want 0 and the new flags documented:\n%s", code, stderr.String())
	}
	stderr.Reset()
	// A cache file given on the command line that cannot be written is
	// refused before anything listens, like a bad flag.
	code := run([]string{"-geoip", testDB, "-cache-file", "/nonexistent/dir/cache.json", "-dns", "127.0.0.1:0", "-http", "127.0.0.1:0",
		"-etcd", "127.0.0.1:1"}, func(string) string { return "" }, &bytes.Buffer{}, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "-cache-file") {
		t.Errorf("unwritable cache: exit %d, stderr %q; want 2 naming -cache-file", code, stderr.String())
	}
	stderr.Reset()
	code = run([]string{"-geoip", "/nonexistent/city.mmdb", "-dns", "127.0.0.1:0", "-http", "127.0.0.1:0"},
		func(string) string { return "" }, &bytes.Buffer{}, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "/nonexistent/city.mmdb") {
		t.Errorf("missing geoip: exit %d, stderr %q; want 2 naming the path", code, stderr.String())
	}
	stderr.Reset()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code = run([]string{"-geoip", testDB, "-cache-file", "", "-dns", "127.0.0.1:0", "-http", ln.Addr().String(), "-etcd", "127.0.0.1:1"},
		func(string) string { return "" }, &bytes.Buffer{}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), ln.Addr().String()) {
		t.Errorf("http port taken: exit %d, stderr %q; want 1 naming the address", code, stderr.String())
	}
}
