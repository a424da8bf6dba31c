package main

import (
	"strings"
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	s, env := devEtcd(t)
	now := time.Date(2026, 11, 26, 13, 10, 0, 0, time.UTC)
	at := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339Nano) }
	s.Put(t, "/glb/probers/p1", `{"lat":50.11,"lon":8.68,"country":"DE","version":"v1.2","started":"`+at(time.Hour)+`"}`)
	s.Put(t, "/glb/probers/p2", `{"lat":39.04,"lon":-77.49}`)
	// eu-west: both probers see .10 down and .11 up; its IPv6 address is
	// not reported on. sa-east: down.
	for _, p := range []string{"p1", "p2"} {
		s.Put(t, "/glb/health/eu-west/198.51.100.10/"+p, `{"up":false,"error":"status 503","time":"`+at(2500*time.Millisecond)+`"}`)
		s.Put(t, "/glb/health/eu-west/198.51.100.11/"+p, `{"up":true,"rtt":"1.2ms","time":"`+at(time.Second)+`"}`)
	}
	s.Put(t, "/glb/health/sa-east/192.0.2.30/p1", `{"up":false,"time":"`+at(time.Second)+`"}`)
	s.Put(t, "/glb/health/sa-east/192.0.2.30/gone", `{"up":true,"time":"`+at(time.Second)+`"}`)
	s.Put(t, "/glb/health/us-west/192.0.2.20/p1", `{"up":false,"time":"`+at(10*time.Minute)+`"}`)
	s.Put(t, "/glb/regions/us-east/weight", "0")
	s.Put(t, "/glb/regions/nowhere/weight", "5")
	s.Put(t, "/glb/regions/plain", `{"lat":1,"lon":1,"addrs":["192.0.2.99"],"check":{"type":"http","port":8080,"path":"/ready"}}`)

	a, out, errOut := newTestApp(env)
	a.now = func() time.Time { return now }
	r := runApp(t, a, out, errOut, "status")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	// Rows, with the columns' spacing squeezed.
	rows := map[string]bool{}
	for _, l := range strings.Split(r.stdout, "\n") {
		rows[strings.Join(strings.Fields(l), " ")] = true
	}
	for _, want := range []string{
		"REGION WEIGHT HEALTH ENDPOINTS UP CHECK",
		"eu-west 100 up 2/3 http 127.0.0.1:18003 /healthz every 1s", // the connect address, not port 80
		"sa-east 100 DOWN 0/1 http 127.0.0.1:18007 /healthz every 1s",
		"us-east 0 (drained) up (no data) 4/4 http 127.0.0.1:18001 /healthz every 1s",
		"us-west 100 up (no data) 2/2 http 127.0.0.1:18002 /healthz every 1s", // its only report is stale
		"plain 100 up (no data) 1/1 http <endpoint>:8080 /ready every 5s",
		"REGION ENDPOINT VERDICT PROBER REPORT RTT AGE",
		"eu-west 198.51.100.10 DOWN 0/2 p1 DOWN: status 503 - 2.5s",
		"eu-west 198.51.100.10 DOWN 0/2 p2 DOWN: status 503 - 2.5s",
		"eu-west 198.51.100.11 up 2/2 p1 up 1.2ms 1s",
		"eu-west 2001:db8:3::10 up (no data) - - - -",
		"sa-east 192.0.2.30 DOWN 0/1 p1 DOWN - 1s",
		"sa-east 192.0.2.30 DOWN 0/1 gone up - 1s (prober gone)",
		"us-west 192.0.2.20 up (no data) p1 DOWN - 10m0s (stale)",
		"PROBER LOCATION COUNTRY VERSION UP FOR",
		"p1 50.11,8.68 DE v1.2 1h0m0s",
		"p2 39.04,-77.49 - - -",
		"REJECTED KEY KIND REASON",
		`/glb/regions/nowhere/weight weight region "nowhere" does not exist (no valid /glb/regions/nowhere)`,
	} {
		if !rows[want] {
			t.Errorf("no row %q in:\n%s", want, r.stdout)
		}
	}

	// The same, as one document.
	for _, format := range []string{"json", "yaml"} {
		a, out, errOut := newTestApp(env)
		a.now = func() time.Time { return now }
		r := runApp(t, a, out, errOut, "status", "-o", format)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("-o %s: exit %d, stderr %s", format, r.code, r.stderr)
		}
		var doc statusDoc
		if err := decodeOutput(format, r.stdout, &doc); err != nil {
			t.Fatalf("-o %s: %v\n%s", format, err, r.stdout)
		}
		var eu regionRow
		for _, rr := range doc.Regions {
			if rr.Region == "eu-west" {
				eu = rr
			}
		}
		wantEU := regionRow{Region: "eu-west", Weight: 100, Up: true, Health: "up", EndpointsUp: 2, Endpoints: 3,
			Check: "http 127.0.0.1:18003 /healthz every 1s"}
		if eu != wantEU || len(doc.Regions) != 8 || len(doc.Probers) != 2 || len(doc.Rejected) != 1 || doc.Prefix != "/glb/" {
			t.Errorf("-o %s: eu-west %+v, %d regions, %d probers, %d rejected; want %+v, 8, 2, 1", format, eu,
				len(doc.Regions), len(doc.Probers), len(doc.Rejected), wantEU)
		}
		if !strings.Contains(r.stdout, "up_votes") {
			t.Errorf("-o %s: no snake_case field up_votes:\n%s", format, r.stdout)
		}
	}
}
