package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/server"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// realGlbd serves glbd's own /explain and /simulate handlers over the dev
// configuration and the test GeoIP database: the real server code, not
// canned answers.
func realGlbd(t *testing.T) string {
	t.Helper()
	db, err := geo.Open("../../testdata/geoip/glb-test-city.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kvs, err := store.LoadSeedFile("../../testdata/dev/config.json")
	if err != nil {
		t.Fatal(err)
	}
	b := schema.NewBuilder(schema.DefaultPrefix)
	for k, v := range kvs {
		b.Put(schema.DefaultPrefix+k, []byte(v), 2)
	}
	st, _ := b.State(2)
	h := server.NewHandler(server.Options{Geo: db, Metrics: server.NewMetrics(prometheus.NewRegistry())})
	h.Apply(st)
	mux := http.NewServeMux()
	mux.Handle("GET /explain", h.ExplainHTTP())
	mux.Handle("/simulate", h.SimulateHTTP())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestExplainAndSimulateAgainstRealGlbd runs glbctl explain and simulate
// against the real endpoints, now and under a what-if.
func TestExplainAndSimulateAgainstRealGlbd(t *testing.T) {
	addr := realGlbd(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"explain", "www", "81.2.69.160"}, []string{"chosen: eu-west", "198.51.100.1", "ECS scope /24"}},
		{[]string{"explain", "www", "81.2.69.160", "--down", "eu-west"}, []string{"chosen: eu-central", "198.51.100.20", "what if: down eu-west"}},
		{[]string{"explain", "www", "2001:218::1", "--type", "AAAA"}, []string{"chosen: ap-northeast", "2001:db8:5::10"}},
		{[]string{"simulate", "www", "--down", "eu-west"}, []string{"eu-west", "eu-central"}},
	} {
		r := ctl(t, nil, append(tc.args, "--glbd", addr)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", tc.args, r.code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, r.stdout)
			}
		}
	}
}
