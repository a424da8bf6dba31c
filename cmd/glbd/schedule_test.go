package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

// writeSchedule writes a drain schedule for region as glbctl drain does,
// and returns at once: nothing of the writer stays running.
func writeSchedule(t *testing.T, srv *etcdtest.Server, region string, s *schema.Schedule) {
	t.Helper()
	c := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := store.NewAdmin(c, "/glb/").SetSchedule(ctx, region, s); err != nil {
		t.Fatal(err)
	}
}

// londonAnswer is what a London client gets for www: eu-west's addresses
// while eu-west has any weight (it is alone in London's tier), eu-central's
// once it is drained.
func londonAnswer(t *testing.T, a *app) (answer string, ttl uint32) {
	m := ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, "81.2.69.0/24")
	if len(m.Answer) == 0 {
		t.Fatalf("no answer: %v", m)
	}
	return addrs(m), m.Answer[0].Header().Ttl
}

func weightInForce(a *app, region string) int {
	for _, r := range a.handler.Status().Regions {
		if r.ID == region {
			return r.Weight
		}
	}
	return -1
}

// TestDrainScheduleRunsItself: a three-step schedule, written and left
// alone, is carried out by glbd's own clock, survives a glbd restart
// between steps and expires back to the weight before.
func TestDrainScheduleRunsItself(t *testing.T) {
	srv := seededEtcd(t)
	cfg := Config{Etcd: srv.Endpoints()}
	r := launch(t, cfg)
	t.Cleanup(func() { r.stop(t) })
	waitReady(t, r.a)
	if got, _ := londonAnswer(t, r.a); got != euWest {
		t.Fatalf("before the schedule: %s, want %s", got, euWest)
	}
	every := 3 * time.Second
	start := time.Now().UTC()
	s := &schema.Schedule{Steps: []int{50, 10, 0}, Every: schema.Duration(every), Start: start,
		Expires: start.Add(4 * every), Before: 100}
	writeSchedule(t, srv, "eu-west", s)

	// Step 1 at once, then step 2; eu-west keeps London while it has weight.
	for i, w := range []int{50, 10} {
		waitFor(t, time.Until(s.StepAt(i))+3*time.Second, fmt.Sprintf("weight %d", w), func() bool { return weightInForce(r.a, "eu-west") == w })
		if got, _ := londonAnswer(t, r.a); got != euWest {
			t.Fatalf("at weight %d: %s, want %s", w, got, euWest)
		}
	}

	// A restart mid-way: the new glbd picks the schedule up where it stands.
	r.stop(t)
	r2 := launch(t, cfg)
	t.Cleanup(func() { r2.stop(t) })
	waitReady(t, r2.a)
	if got, want := weightInForce(r2.a, "eu-west"), s.WeightAt(time.Now(), 100); got != want && got != s.WeightAt(time.Now().Add(-time.Second), 100) {
		t.Fatalf("after the restart: weight %d, want %d (the step in force)", got, want)
	}
	waitFor(t, time.Until(s.StepAt(2))+3*time.Second, "step 3 (weight 0)", func() bool { got, _ := londonAnswer(t, r2.a); return got == euCentral })
	if w := weightInForce(r2.a, "eu-west"); w != 0 || time.Now().Before(s.StepAt(2)) {
		t.Fatalf("drained with weight %d at %s, step 3 is at %s", w, time.Now(), s.StepAt(2))
	}
	st := r2.a.handler.Status()
	for _, reg := range st.Regions {
		if reg.ID == "eu-west" && (reg.Schedule == nil || reg.Schedule.Step != 3 || !reg.Schedule.Active) {
			t.Fatalf("status of eu-west's schedule: %+v", reg.Schedule)
		}
	}

	// Expiry: the weight key (100) is in force again.
	waitFor(t, time.Until(s.Expires)+3*time.Second, "expiry", func() bool { got, _ := londonAnswer(t, r2.a); return got == euWest })
	if time.Now().Before(s.Expires) || weightInForce(r2.a, "eu-west") != 100 {
		t.Fatalf("back to eu-west at %s with weight %d; expires at %s", time.Now(), weightInForce(r2.a, "eu-west"), s.Expires)
	}
	metrics := scrape(t, r2.a)
	for _, want := range []string{`glb_server_schedule_steps_total{region="eu-west",what="step"}`, `glb_server_schedule_steps_total{region="eu-west",what="expired"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestDrainScheduleTTLFirst: a TTL-first schedule lowers the answers' TTL
// first and moves the weight only after the hold; every answer is checked
// in order, so a weight moving before the TTL dropped fails.
func TestDrainScheduleTTLFirst(t *testing.T) {
	srv, a := startSeeded(t)
	hold := 3 * time.Second
	start := time.Now().UTC()
	s := &schema.Schedule{Steps: []int{0}, Start: start, Before: 100, TTLFirst: true, Hold: schema.Duration(hold)}
	writeSchedule(t, srv, "eu-west", s)

	type seen struct {
		at   time.Time
		addr string
		ttl  uint32
	}
	var log []seen
	deadline := time.Now().Add(hold + 5*time.Second)
	for time.Now().Before(deadline) {
		got, ttl := londonAnswer(t, a)
		log = append(log, seen{time.Now(), got, ttl})
		if got == euCentral {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var lowered, moved time.Time
	for _, o := range log {
		switch {
		case o.addr == euCentral && o.ttl != schema.DefaultTTLFirst:
			t.Fatalf("drained answer with TTL %d at %s: the weight moved before the TTL dropped", o.ttl, o.at)
		case o.addr == euWest && o.ttl == schema.DefaultTTLFirst && lowered.IsZero():
			lowered = o.at
		case o.addr == euCentral && moved.IsZero():
			moved = o.at
		case o.addr == euWest && o.ttl != schema.DefaultTTLFirst && !lowered.IsZero():
			t.Fatalf("TTL back to %d at %s after it was lowered", o.ttl, o.at)
		}
	}
	if lowered.IsZero() || moved.IsZero() {
		t.Fatalf("lowered at %v, moved at %v; answers: %v", lowered, moved, log)
	}
	// The answers' TTL drops at once; the weight waits the hold.
	if moved.Before(s.StepAt(0)) || moved.Sub(lowered) < hold-time.Second {
		t.Fatalf("TTL lowered at %s, weight moved at %s: want the hold of %s between", lowered, moved, hold)
	}
}

// TestDrainScheduleLeaderKilled: a schedule in a three-member cluster
// keeps running when the leader is killed between its steps, and expires.
func TestDrainScheduleLeaderKilled(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	c.Put(t, "/glb/regions/eu-west", `{"lat": 51.51, "lon": -0.13, "addrs": ["198.51.100.10", "198.51.100.11"]}`)
	c.Put(t, "/glb/regions/eu-central", `{"lat": 50.11, "lon": 8.68, "addrs": ["198.51.100.20"]}`)
	c.Put(t, "/glb/zones/gslb.example.test", `{"ns": [{"name": "ns1.example.net"}]}`)
	c.Put(t, "/glb/zones/gslb.example.test/names/www", `{"regions": ["eu-west", "eu-central"]}`)
	a := startApp(t, Config{Etcd: c.Endpoints()})
	every := 4 * time.Second
	start := time.Now().UTC()
	doc, err := json.Marshal(&schema.Schedule{Steps: []int{10, 0}, Every: schema.Duration(every), Start: start,
		Expires: start.Add(3 * every), Before: 100})
	if err != nil {
		t.Fatal(err)
	}
	c.Put(t, "/glb/regions/eu-west/schedule", string(doc))
	waitFor(t, 5*time.Second, "step 1 (weight 10)", func() bool { return weightInForce(a, "eu-west") == 10 })
	c.Kill(t, c.Leader(t))
	waitFor(t, time.Until(start.Add(every))+5*time.Second, "step 2 (drained) with the leader killed", func() bool { return london(t, a) == euCentralIPs })
	waitFor(t, time.Until(start.Add(3*every))+5*time.Second, "expiry", func() bool { return london(t, a) == euWestAddrs })
	if time.Now().Before(start.Add(3 * every)) {
		t.Fatalf("back to eu-west at %s, before the expiry at %s", time.Now(), start.Add(3*every))
	}
}
