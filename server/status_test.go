package server

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

type recordingObserver struct{ events []QueryEvent }

func (o *recordingObserver) Observe(ev *QueryEvent) { o.events = append(o.events, *ev) }

// TestObserverSeesDecisions checks what a query log or dnstap writer gets.
func TestObserverSeesDecisions(t *testing.T) {
	obs := &recordingObserver{}
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(prometheus.NewRegistry()), Observer: obs})
	h.Apply(devState(t, nil))
	cases := []struct {
		q              *dns.Msg
		region, reason string
		client         string
	}{
		{mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24"), "eu-west", ReasonGeo, "81.2.69.0"},
		{mkQuery("nope."+testZone, dns.TypeA, ""), "", ReasonNXDomain, "192.0.2.99"},
		{mkQuery("mail."+testZone, dns.TypeA, ""), "", ReasonStatic, "192.0.2.99"},
		{mkQuery("www.example.org", dns.TypeA, ""), "", ReasonRefused, ""},
	}
	for _, tc := range cases {
		ask(t, h, "192.0.2.99", tc.q)
	}
	if len(obs.events) != len(cases) {
		t.Fatalf("%d events, want %d", len(obs.events), len(cases))
	}
	for i, tc := range cases {
		ev := obs.events[i]
		client := ""
		if ev.Client.IsValid() {
			client = ev.Client.String()
		}
		if ev.Region != tc.region || ev.Reason != tc.reason || client != tc.client || ev.Resp == nil || ev.Req == nil || ev.Req.Question[0] != tc.q.Question[0] {
			t.Errorf("event %d: region %q reason %q client %q, want %q %q %q", i, ev.Region, ev.Reason, client, tc.region, tc.reason, tc.client)
		}
	}
	if obs.events[0].RemotePort != 40000 {
		t.Errorf("remote port %d, want the client's 40000", obs.events[0].RemotePort)
	}
	if want := netip.MustParsePrefix("81.2.69.0/24"); obs.events[0].ECS != want {
		t.Errorf("ECS %v, want %v", obs.events[0].ECS, want)
	}
}

// TestStatus checks the summary the status page is drawn from.
func TestStatus(t *testing.T) {
	h, _ := healthHandler(t, merge(votes("eu-west", "198.51.100.11", false),
		map[string]any{"regions/eu-west/weight": "abc"}))
	s := h.Status()
	if s == nil || len(s.Zones) != 1 || s.Zones[0].Name != "gslb.example.test" || len(s.Zones[0].Names) != 2 {
		t.Fatalf("zones: %+v", s)
	}
	if len(s.Regions) != 7 || len(s.Probers) != 1 || len(s.Rejected) != 1 {
		t.Fatalf("regions %d probers %d rejected %d, want 7 1 1", len(s.Regions), len(s.Probers), len(s.Rejected))
	}
	var euWest RegionStatus
	for _, r := range s.Regions {
		if r.ID == "eu-west" {
			euWest = r
		}
	}
	if !euWest.Up || !euWest.Checked || len(euWest.Endpoints) != 3 || euWest.Endpoints[1].Up || euWest.Endpoints[1].Reports["p1"].Up {
		t.Errorf("eu-west status: %+v", euWest)
	}
}
