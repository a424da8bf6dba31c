package main

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestPoliciesEndToEnd writes one name per policy into a real etcd and asks
// a real glbd over UDP: each answers as its policy says (geo and latency
// have their own tests).
func TestPoliciesEndToEnd(t *testing.T) {
	srv, a := startSeeded(t)
	names := map[string]string{
		"blue":   `{"regions": ["us-east", "eu-west"], "policy": "weighted"}`,
		"fo":     `{"regions": ["ap-southeast", "eu-west"], "policy": "failover"}`,
		"rr":     `{"regions": ["eu-west", "eu-central"], "policy": "roundrobin", "answers": 3}`,
		"fenced": `{"regions": ["us-east", "eu-west", "eu-central"], "geofence": {"continents": {"EU": ["eu-west", "eu-central"]}, "default": ["us-east"]}}`,
		"sticky": `{"regions": ["us-east", "us-west", "eu-west", "eu-central"], "policy": "weighted", "sticky": {}}`,
	}
	var rev int64
	for label, doc := range names {
		rev = srv.Put(t, "/glb/zones/gslb.example.test/names/"+label, doc)
	}
	srv.Put(t, "/glb/regions/us-east/weight", "0") // blue/green: all traffic to eu-west
	waitFor(t, 5*time.Second, "names in the snapshot", func() bool {
		return metricValue(t, a, "glb_server_snapshot_revision") > float64(rev)
	})
	q := func(label, ecs string) *dns.Msg { return ask(t, "udp", a.dnsAddr(), label+"."+zone, dns.TypeA, ecs) }
	cases := []struct {
		label, ecs, want string
		scope            int
	}{
		{"blue", "67.43.156.0/24", "198.51.100.10,198.51.100.11", 0}, // us-east drained: even Ashburn goes to eu-west
		{"fo", "81.2.69.0/24", "203.0.113.20", 0},                    // failover: the first listed, not the nearest
		{"rr", "67.43.156.0/24", "198.51.100.10,198.51.100.11,198.51.100.20", 0},
		{"fenced", "81.2.69.0/24", "198.51.100.10,198.51.100.11", 24},
		// AS client: the default is us-east, which is drained: NODATA. The
		// scope is the GeoIP /24 until the scope table is built, then wider.
		{"fenced", "175.16.199.0/24", "", -24},
	}
	for _, tc := range cases {
		m := q(tc.label, tc.ecs)
		scopeOK := scope(m) == tc.scope || tc.scope < 0 && scope(m) <= -tc.scope
		if got := addrs(m); got != tc.want || !scopeOK {
			t.Errorf("%s from %s: %q scope %d, want %q scope %d", tc.label, tc.ecs, got, scope(m), tc.want, tc.scope)
		}
	}
	// Sticky: the same subnet keeps its region over repeated queries, and
	// the scope is the sticky /24 (the answer depends on the subnet).
	first := q("sticky", "91.198.174.0/24")
	for range 20 {
		if m := q("sticky", "91.198.174.0/24"); addrs(m)[:8] != addrs(first)[:8] || scope(m) != 24 {
			t.Fatalf("sticky subnet moved: %q then %q (scope %d)", addrs(first), addrs(m), scope(m))
		}
	}
	if strings.HasPrefix(addrs(first), "192.0.2.1") {
		t.Errorf("sticky chose drained us-east: %q", addrs(first))
	}
}
