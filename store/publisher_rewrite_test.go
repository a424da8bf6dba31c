package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/store/etcdtest"
	"github.com/glb-dns/glb/store/schema"
)

// TestPublisherSurvivesFailedRewrite makes the write that follows a grant
// fail (a remembered verdict larger than etcd accepts in one request), as
// a member killed or a timeout during the rewrite would. The publisher
// must revoke the new lease and try again, not panic and end Run, which
// would stop glbprobe; once the bad verdict is withdrawn it must succeed.
func TestPublisherSurvivesFailedRewrite(t *testing.T) {
	s := etcdtest.Start(t)
	c := newClient(t, s)
	huge := schema.HealthReport{Up: false, Error: strings.Repeat("x", 2<<20)} // over etcd's 1.5 MiB request limit
	tp := startPublisher(t, c, 2*time.Second, func(p *Publisher) {
		// No lease yet: only remembered, written by the first rewrite.
		if err := p.Publish(t.Context(), "eu-west", "192.0.2.10", huge); err != nil {
			t.Fatal(err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(tp.m.grants) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%v grants in 10s, want the publisher to keep trying", testutil.ToFloat64(tp.m.grants))
		}
		select {
		case err := <-tp.done:
			t.Fatalf("Run returned %v after a failed rewrite", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if got := testutil.ToFloat64(tp.m.panics); got != 0 {
		t.Fatalf("glb_prober_publisher_panics_total = %v", got)
	}
	if got := testutil.ToFloat64(tp.m.leaseUp); got != 0 {
		t.Errorf("glb_prober_lease_up = %v while no rewrite succeeded", got)
	}
	// Each failed lease was revoked: none holds the registration.
	if v := s.Get(t, schema.ProberKey(testPrefix, testProber)); v != "" {
		t.Errorf("registration %q written by a failed rewrite", v)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	leases, err := c.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(leases.Leases); n > 1 {
		t.Errorf("%d leases left after failed rewrites, want at most the one being tried", n)
	}

	if err := tp.Withdraw(t.Context(), "eu-west", "192.0.2.10"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(tp.m.leaseUp) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no lease 10s after the bad verdict was withdrawn")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v := s.Get(t, schema.ProberKey(testPrefix, testProber)); v == "" {
		t.Error("registration missing once a rewrite succeeded")
	}
}
