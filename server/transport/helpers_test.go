package transport

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/server"
	"github.com/glb-dns/glb/server/internal/testdev"
)

// The transport is tested with the real query pipeline behind it: a
// server.Handler serving the dev configuration.

const testZone = testdev.Zone

// newTestHandler returns a handler serving the dev configuration with
// edits, with deterministic randomness: rand always returns 0.
func newTestHandler(t testing.TB, edits map[string]any) (*server.Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := server.NewHandler(server.Options{Geo: testdev.OpenDB(t), Metrics: server.NewMetrics(reg), Rand: func(int) int { return 0 }})
	h.Apply(testdev.State(t, edits))
	return h, reg
}

// mkQuery builds a query; ecs is "addr/len" or "".
func mkQuery(name string, qtype uint16, ecs string) *dns.Msg { return testdev.Query(name, qtype, ecs) }
