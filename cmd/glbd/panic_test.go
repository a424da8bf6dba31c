package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/internal/crash"
)

// TestHTTPPanicIsRecorded checks that a panicking HTTP handler gives 500,
// one log line with the stack and glb_panics_total{component="http"}, and
// that the next request is served.
func TestHTTPPanicIsRecorded(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { panic("injected") })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := httptest.NewServer(recoverHTTP(mux, slog.New(slog.NewJSONHandler(&logs, nil)), crash.Counter(reg, "http")))
	defer srv.Close()

	for _, tc := range []struct {
		path string
		code int
	}{{"/boom", 500}, {"/ok", 200}, {"/boom", 500}} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: status %d, want %d", tc.path, resp.StatusCode, tc.code)
		}
	}
	want := `
# HELP glb_panics_total Panics recovered at the root of a goroutine, by component; each is logged with its stack.
# TYPE glb_panics_total counter
glb_panics_total{component="http"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "glb_panics_total"); err != nil {
		t.Error(err)
	}
	if n := strings.Count(logs.String(), `"msg":"http handler panicked"`); n != 2 || !strings.Contains(logs.String(), `"stack":"goroutine`) {
		t.Errorf("%d log lines, want 2 with a stack:\n%s", n, logs.String())
	}
}
