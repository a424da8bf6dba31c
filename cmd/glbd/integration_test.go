package main

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestNearestRegion checks that clients on several continents get the
// region nearest to them over UDP and TCP, with the ECS scope of their
// GeoIP network capped by the source prefix.
func TestNearestRegion(t *testing.T) {
	_, a := startSeeded(t)
	cases := []struct {
		name  string
		qtype uint16
		ecs   string
		want  string
		scope int
	}{
		{"London (EU)", dns.TypeA, "81.2.69.0/24", "198.51.100.10,198.51.100.11", 24},
		{"Linkoping (EU)", dns.TypeA, "89.160.20.0/24", "198.51.100.20", 24},
		{"Milton WA (NA)", dns.TypeA, "216.160.83.0/24", "192.0.2.20", 24},
		{"Changchun (AS)", dns.TypeA, "175.16.199.0/24", "203.0.113.10", 24},
		{"Sydney (OC), /16 network", dns.TypeA, "1.128.7.0/24", "203.0.113.20", 16},
		{"Sao Paulo (SA)", dns.TypeA, "200.160.0.0/24", "192.0.2.30", 20},
		{"Tokyo IPv6 AAAA", dns.TypeAAAA, "2001:218:42::/48", "2001:db8:5::10", 32},
		{"Frankfurt IPv6 AAAA", dns.TypeAAAA, "2a02:cf40::/48", "2001:db8:4::20", 29},
		{"Sao Paulo AAAA, IPv4-only sa-east skipped", dns.TypeAAAA, "200.160.0.0/24", "2001:db8:1::10,2001:db8:1::11", 20},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range cases {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				m := ask(t, network, a.dnsAddr(), "www."+zone, tc.qtype, tc.ecs)
				if got := addrs(m); got != tc.want || m.Rcode != dns.RcodeSuccess || !m.Authoritative {
					t.Errorf("got %q rcode %s AA %v, want %q NOERROR AA", got, dns.RcodeToString[m.Rcode], m.Authoritative, tc.want)
				}
				if got := scope(m); got != tc.scope {
					t.Errorf("scope %d, want %d", got, tc.scope)
				}
			})
		}
	}
}

// TestDrainMovesAnswers drains the nearest region through etcd and checks
// that answers move to the next nearest within a second, then come back.
func TestDrainMovesAnswers(t *testing.T) {
	srv, a := startSeeded(t)
	london := func() string { return addrs(ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")) }
	if got := london(); got != "198.51.100.10,198.51.100.11" {
		t.Fatalf("before drain: %q", got)
	}
	for _, step := range []struct{ weight, want string }{
		{"0", "198.51.100.20"},                 // eu-west drained: Frankfurt is next
		{"100", "198.51.100.10,198.51.100.11"}, // back
	} {
		srv.Put(t, "/glb/regions/eu-west/weight", step.weight)
		took := waitFor(t, 10*time.Second, "answer after weight "+step.weight, func() bool { return london() == step.want })
		t.Logf("weight %s took effect in %s", step.weight, took)
	}
}

// TestInvalidValuesKeepLastGood puts each kind of invalid value and checks
// that it is rejected and counted, the answer stays as it was, and a valid
// fix is then taken.
func TestInvalidValuesKeepLastGood(t *testing.T) {
	srv, a := startSeeded(t)
	london := func() string { return addrs(ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")) }
	euWestDoc, wwwDoc := srv.Get(t, "/glb/regions/eu-west"), srv.Get(t, "/glb/zones/gslb.example.test/names/www")
	const euWest = "198.51.100.10,198.51.100.11"
	cases := []struct {
		name, key, bad, fix, afterFix string
	}{
		{"weight abc", "/glb/regions/eu-west/weight", "abc", "0", "198.51.100.20"},
		{"weight -5", "/glb/regions/eu-west/weight", "-5", "0", "198.51.100.20"},
		{"weight 5000", "/glb/regions/eu-west/weight", "5000", "0", "198.51.100.20"},
		{"region bad JSON", "/glb/regions/eu-west", `{"lat": 51.5, "lon":`,
			`{"lat":51.51,"lon":-0.13,"addrs":["198.51.100.12"]}`, "198.51.100.12"},
		{"region bad address", "/glb/regions/eu-west", `{"lat":51.51,"lon":-0.13,"addrs":["198.51.100.300"]}`,
			`{"lat":51.51,"lon":-0.13,"addrs":["198.51.100.13"]}`, "198.51.100.13"},
		{"name unknown policy", "/glb/zones/gslb.example.test/names/www", `{"regions":["eu-west"],"policy":"nearest-ish"}`,
			`{"regions":["eu-central"]}`, "198.51.100.20"},
		{"name unknown region", "/glb/zones/gslb.example.test/names/www", `{"regions":["eu-west","mars-north"]}`,
			`{"regions":["eu-central"]}`, "198.51.100.20"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := london()
			rejected := metricValue(t, a, "glb_store_rejections_total")
			rev := srv.Put(t, tc.key, tc.bad)
			waitFor(t, 10*time.Second, "snapshot at the bad revision", func() bool {
				return metricValue(t, a, "glb_server_snapshot_revision") >= float64(rev)
			})
			if got := london(); got != before {
				t.Errorf("after bad %s: answer %q, want unchanged %q", tc.key, got, before)
			}
			if got := metricValue(t, a, "glb_store_rejections_total"); got != rejected+1 {
				t.Errorf("rejections counted %v, want %v", got, rejected+1)
			}
			srv.Put(t, tc.key, tc.fix)
			waitFor(t, 10*time.Second, "fix taken", func() bool { return london() == tc.afterFix })
			srv.Put(t, "/glb/regions/eu-west", euWestDoc)
			srv.Put(t, "/glb/regions/eu-west/weight", "100")
			srv.Put(t, "/glb/zones/gslb.example.test/names/www", wwwDoc)
			waitFor(t, 10*time.Second, "restored", func() bool { return london() == euWest })
		})
	}
}

// TestRcodesAndSections covers the protocol cases against the running
// daemon; the handler tests cover them in more depth.
func TestRcodesAndSections(t *testing.T) {
	_, a := startSeeded(t)
	addr := a.dnsAddr()
	for _, tc := range []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer int
		soa    bool // SOA in authority
	}{
		{"NXDOMAIN", "nope." + zone, dns.TypeA, dns.RcodeNameError, 0, true},
		{"NODATA", "www." + zone, dns.TypeMX, dns.RcodeSuccess, 0, true},
		{"REFUSED", "www.example.org.", dns.TypeA, dns.RcodeRefused, 0, false},
		{"apex SOA", zone, dns.TypeSOA, dns.RcodeSuccess, 1, false},
		{"apex NS", zone, dns.TypeNS, dns.RcodeSuccess, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ask(t, "udp", addr, tc.qname, tc.qtype, "")
			hasSOA := len(m.Ns) == 1 && m.Ns[0].Header().Rrtype == dns.TypeSOA
			if m.Rcode != tc.rcode || len(m.Answer) != tc.answer || hasSOA != tc.soa {
				t.Errorf("rcode %s answers %d SOA %v, want %s %d %v", dns.RcodeToString[m.Rcode], len(m.Answer), hasSOA,
					dns.RcodeToString[tc.rcode], tc.answer, tc.soa)
			}
		})
	}
	notify := new(dns.Msg)
	notify.SetNotify(zone)
	c := &dns.Client{Timeout: 2 * time.Second}
	if m, _, err := c.Exchange(notify, addr); err != nil || m.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY: %v %v, want NOTIMP", m, err)
	}
	two := new(dns.Msg)
	two.SetQuestion("www."+zone, dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	if m, _, err := c.Exchange(two, addr); err != nil || m.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %v %v, want FORMERR", m, err)
	}
}

// TestServesThroughEtcdOutage stops etcd, checks answers keep coming from
// the snapshot, restarts it and checks a change made afterwards is followed.
func TestServesThroughEtcdOutage(t *testing.T) {
	srv, a := startSeeded(t)
	london := func() string { return addrs(ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")) }
	srv.Stop(t)
	for i := range 20 {
		if got := london(); got != "198.51.100.10,198.51.100.11" {
			t.Fatalf("query %d during outage: %q", i, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Restart(t)
	srv.Put(t, "/glb/regions/eu-west/weight", "0")
	took := waitFor(t, 15*time.Second, "change after etcd restart", func() bool { return london() == "198.51.100.20" })
	t.Logf("change followed %s after etcd came back", took)
}

// TestDevMode runs glbd -dev with its embedded etcd, backends and prober
// (on free ports), checks the seeded example answers, then fails a region's
// backend and checks answers leave it within interval x fall + 1 s and come
// back after it recovers.
func TestDevMode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd")
	}
	seed, backends := freePortSeed(t)
	a := startApp(t, Config{Dev: true, DevEtcd: "127.0.0.1:0", DevSeed: seed, DevProber: "50.11,8.68"})
	london := func() string { return addrs(ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")) }
	if got := addrs(ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "91.198.174.0/24")); got != "198.51.100.20" {
		t.Errorf("dev mode Frankfurt answer %q, want eu-central", got)
	}
	// Wait until the prober has reported eu-west up, so the flip below is
	// the prober's doing.
	waitFor(t, 5*time.Second, "eu-west reported up", func() bool { return metricValue(t, a, "glb_health_probers") == 1 })
	if got := london(); got != "198.51.100.10,198.51.100.11" {
		t.Fatalf("London before failure: %q", got)
	}
	// The dev checks run every 1 s with fall 2 and a 500 ms timeout.
	post(t, "http://"+backends["eu-west"]+"/fail")
	took := waitFor(t, 3*time.Second, "eu-west removed after its backend fails", func() bool { return london() == "198.51.100.20" })
	t.Logf("failover took %s", took)
	post(t, "http://"+backends["eu-west"]+"/recover")
	took = waitFor(t, 4*time.Second, "eu-west back after recovery", func() bool { return london() == "198.51.100.10,198.51.100.11" })
	t.Logf("recovery took %s", took)
}

// metricValue sums a metric family's samples from glbd's registry.
func metricValue(t *testing.T, a *app, name string) float64 {
	t.Helper()
	mfs, err := a.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
