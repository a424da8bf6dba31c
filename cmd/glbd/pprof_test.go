package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPprofFlag checks that -pprof parses and that the profiles are served
// only with it.
func TestPprofFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"off by default", []string{"-dev"}, http.StatusNotFound},
		{"on with -pprof", []string{"-dev", "-pprof"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			c.Runtime.routes(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap"} {
				resp, err := http.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, tc.want)
				}
			}
		})
	}
}

// TestMemoryLimitFlag checks the sizes -memory-limit accepts and refuses.
func TestMemoryLimitFlag(t *testing.T) {
	for _, tc := range []struct {
		arg     string
		want    int64
		wantErr bool
	}{
		{"256MiB", 256 << 20, false},
		{"1GiB", 1 << 30, false},
		{"512KiB", 512 << 10, false},
		{"1000000", 1000000, false},
		{"100B", 100, false},
		{"0", 0, true},
		{"-5MiB", 0, true},
		{"lots", 0, true},
		{"1TB", 0, true},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			c, err := parseFlags([]string{"-dev", "-memory-limit", tc.arg}, func(string) string { return "" }, io.Discard)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "-memory-limit") {
					t.Errorf("err %v, want one naming -memory-limit", err)
				}
				return
			}
			if err != nil || c.Runtime.MemoryLimit != tc.want {
				t.Errorf("limit %d, err %v; want %d", c.Runtime.MemoryLimit, err, tc.want)
			}
		})
	}
}
