package server

import (
	"testing"

	"github.com/miekg/dns"
)

// name returns an edit that defines the GSLB name "p" with the given
// document.
func name(doc map[string]any) map[string]any {
	return map[string]any{"zones/gslb.example.test/names/p": doc}
}

// down marks every address of a region down by one registered prober.
func down(region string, addrs ...string) map[string]any {
	out := map[string]any{}
	for _, a := range addrs {
		for k, v := range votes(region, a, false) {
			out[k] = v
		}
	}
	return out
}

var (
	euWestDown    = down("eu-west", "198.51.100.10", "198.51.100.11", "2001:db8:3::10")
	euCentralDown = down("eu-central", "198.51.100.20", "2001:db8:4::20")
	usEastDown    = down("us-east", "192.0.2.10", "192.0.2.11", "2001:db8:1::10", "2001:db8:1::11")
	usWestDown    = down("us-west", "192.0.2.20", "2001:db8:2::20")
	// allReported gives every other region a fresh up report, so that
	// "no health data" does not apply.
	allReported = merge(votes("ap-northeast", "203.0.113.10", true), votes("ap-southeast", "203.0.113.20", true),
		votes("sa-east", "192.0.2.30", true))
	euFence = map[string]any{"continents": map[string][]string{"EU": {"eu-west", "eu-central"}},
		"default": []string{"us-east"}}
)

// TestPolicies runs named cases through the handler: a name document and
// health in, the answer, rcode, TTL and ECS scope out.
func TestPolicies(t *testing.T) {
	const london, ashburn, tokyo = "81.2.69.0/24", "67.43.156.0/24", "133.242.1.0/24"
	cases := []struct {
		name   string
		edits  map[string]any
		ecs    string
		rcode  int
		want   string // sorted addresses
		ttl    uint32 // 0: not checked
		scope  int
		reason string
	}{
		{name: "weighted ignores distance", edits: name(map[string]any{"regions": []string{"us-east", "eu-west"}, "policy": "weighted"}),
			ecs: london, want: "192.0.2.10,192.0.2.11", scope: 0, reason: "weighted"},
		{name: "failover: first listed", edits: name(map[string]any{"regions": []string{"us-east", "eu-west"}, "policy": "failover"}),
			ecs: london, want: "192.0.2.10,192.0.2.11", scope: 0, reason: "failover"},
		{name: "failover: next when the first is down", edits: merge(usEastDown, name(map[string]any{"regions": []string{"us-east", "eu-west"}, "policy": "failover"})),
			ecs: london, want: "198.51.100.10,198.51.100.11", scope: 0, reason: "failover"},
		{name: "roundrobin: every up region's addresses", edits: name(map[string]any{"regions": []string{"eu-west", "eu-central"}, "policy": "roundrobin", "answers": 3}),
			ecs: ashburn, want: "198.51.100.10,198.51.100.11,198.51.100.20", scope: 0, reason: "roundrobin"},
		{name: "spread fills from the next region", edits: name(map[string]any{"regions": []string{"eu-west", "eu-central"}, "answers": 3, "spread": true}),
			ecs: "91.198.174.0/24", want: "198.51.100.10,198.51.100.11,198.51.100.20", scope: 24, reason: "geo"},
		{name: "geofence: EU client gets an EU region", edits: name(map[string]any{"regions": []string{"us-east", "us-west", "eu-west", "eu-central"}, "geofence": euFence}),
			ecs: london, want: "198.51.100.10,198.51.100.11", scope: 24, reason: "geo"},
		{name: "geofence: others get the default", edits: name(map[string]any{"regions": []string{"us-east", "us-west", "eu-west", "eu-central"}, "geofence": euFence}),
			// Every non-EU client gets us-east; 128.0.0.0/3 holds no EU
			// network in the test database, so that is the scope.
			ecs: tokyo, want: "192.0.2.10,192.0.2.11", scope: 3, reason: "geo"},
		{name: "geofence: EU all down fails open inside the fence", edits: merge(euWestDown, euCentralDown,
			name(map[string]any{"regions": []string{"us-east", "eu-west", "eu-central"}, "geofence": euFence})),
			ecs: london, want: "198.51.100.10,198.51.100.11", scope: 24, reason: "fail_open"},
		{name: "geofence: EU all drained gets on_all_down, not the US", edits: merge(name(map[string]any{"regions": []string{"us-east", "eu-west", "eu-central"},
			"geofence": euFence, "on_all_down": "servfail"}), map[string]any{"regions/eu-west/weight": "0", "regions/eu-central/weight": "0"}),
			ecs: london, rcode: dns.RcodeServerFailure, scope: -1},
		{name: "on_all_down nodata", edits: merge(euWestDown, euCentralDown, name(map[string]any{"regions": []string{"eu-west", "eu-central"}, "on_all_down": "nodata"})),
			ecs: london, want: "", scope: 0, reason: "nodata"}, // the same for every client
		{name: "on_all_down fallback ignores health", edits: merge(euWestDown, euCentralDown, name(map[string]any{"regions": []string{"eu-west", "eu-central"},
			"on_all_down": "fallback", "fallback": []string{"eu-central"}})),
			ecs: london, want: "198.51.100.20", scope: 0, reason: "fallback"},
		{name: "no health data: on_no_data nodata", edits: name(map[string]any{"regions": []string{"eu-west", "eu-central"}, "on_no_data": "nodata"}),
			ecs: london, want: "", scope: 0, reason: "nodata"},
		{name: "no health data: default treats regions as up", edits: name(map[string]any{"regions": []string{"eu-west", "eu-central"}}),
			ecs: london, want: "198.51.100.10,198.51.100.11", scope: 24, reason: "geo"},
		{name: "panic threshold ignores health", edits: merge(euWestDown, usEastDown, votes("eu-central", "198.51.100.20", true),
			name(map[string]any{"regions": []string{"us-east", "eu-west", "eu-central"}, "panic_percent": 50})),
			ecs: london, want: "198.51.100.10,198.51.100.11", scope: 24, reason: "panic"},
		{name: "below the panic threshold health counts", edits: merge(euWestDown, votes("eu-central", "198.51.100.20", true),
			name(map[string]any{"regions": []string{"us-east", "eu-west", "eu-central"}, "panic_percent": 50})),
			ecs: london, want: "198.51.100.20", scope: 24, reason: "geo"},
		{name: "ttl_degraded while a region is down", edits: merge(euWestDown, name(map[string]any{"regions": []string{"eu-west", "eu-central"}, "ttl": 60, "ttl_degraded": 5})),
			ecs: london, want: "198.51.100.20", ttl: 5, scope: 0, reason: "geo"}, // one region left: same for all
		{name: "ttl_degraded while a region is drained", edits: merge(name(map[string]any{"regions": []string{"eu-west", "eu-central"}, "ttl": 60, "ttl_degraded": 5}),
			map[string]any{"regions/eu-west/weight": "0"}),
			ecs: london, want: "198.51.100.20", ttl: 5, scope: 0, reason: "geo"},
		{name: "normal TTL when all is well", edits: merge(allReported, votes("eu-west", "198.51.100.10", true), name(map[string]any{"regions": []string{"eu-west", "eu-central"}, "ttl": 60, "ttl_degraded": 5})),
			ecs: london, want: "198.51.100.10,198.51.100.11", ttl: 60, scope: 24, reason: "geo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := &recordingObserver{}
			h, _ := healthHandler(t, tc.edits)
			h.observer = obs
			m := ask(t, h, "127.0.0.1", mkQuery("p."+testZone, dns.TypeA, tc.ecs))
			if m.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
			}
			if got := answerAddrs(m); got != tc.want {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			if tc.ttl != 0 && len(m.Answer) > 0 && m.Answer[0].Header().Ttl != tc.ttl {
				t.Errorf("TTL %d, want %d", m.Answer[0].Header().Ttl, tc.ttl)
			}
			if tc.scope >= 0 && replyScope(m) != tc.scope {
				t.Errorf("scope %d, want %d", replyScope(m), tc.scope)
			}
			if tc.reason != "" && obs.events[0].Reason != tc.reason {
				t.Errorf("reason %q, want %q", obs.events[0].Reason, tc.reason)
			}
		})
	}
}
