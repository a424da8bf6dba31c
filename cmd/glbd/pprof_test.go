package main

import (
	"io"
	"net/http"
	"net/http/httptest"
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
			c.Profiling.routes(mux)
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
