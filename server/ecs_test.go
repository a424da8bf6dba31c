package server

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestECSBothPaths sends every ECS case of malformedCases through
// AnswerPacket with the fast path on and off: one parser decides for both,
// so an option with too many or too few address octets for its source
// prefix is FORMERR (RFC 7871 6) on either, alone or beside other options.
func TestECSBothPaths(t *testing.T) {
	testRemote := netip.MustParseAddrPort("192.0.2.1:5353")
	h, _ := newTestHandler(t, nil)
	cases := malformedCases()
	ref := func() []string {
		out, ok := h.AnswerPacket(nil, cases[0].packet, testRemote, false)
		m := new(dns.Msg)
		if !ok || m.Unpack(out) != nil || len(m.Answer) == 0 {
			t.Fatal("the good query got no answer")
		}
		return sortedCopy(rrText(m.Answer))
	}()
	n := 0
	for _, tc := range cases {
		if !strings.HasPrefix(tc.name, "ecs-") {
			continue
		}
		n++
		for _, noFast := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/fast", true: "/general"}[noFast], func(t *testing.T) {
				h.noFast = noFast
				defer func() { h.noFast = false }()
				reply, ok := h.AnswerPacket(nil, tc.packet, testRemote, false)
				checkOutcome(t, "AnswerPacket", tc, reply, ok, ref)
			})
		}
	}
	if n < 10 {
		t.Fatalf("only %d ECS cases", n)
	}
}

// TestBADVERSCounted: a query with an EDNS version we do not speak is
// counted as rcode BADVERS (not the library's BADSIG for the same number),
// under its zone when the zone is ours and "none" otherwise.
func TestBADVERSCounted(t *testing.T) {
	for _, tc := range []struct {
		name, qname, zone string
	}{
		{"our zone", "www." + testZone, "gslb.example.test"},
		{"our zone apex", testZone, "gslb.example.test"},
		{"not ours", "www.example.org.", "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestHandler(t, nil)
			q := mkQuery(tc.qname, dns.TypeA, "")
			q.SetEdns0(1232, false)
			q.IsEdns0().SetVersion(1)
			if m := ask(t, h, "192.0.2.1", q); m.Rcode != dns.RcodeBadVers {
				t.Fatalf("rcode %s, want BADVERS", dns.RcodeToString[m.Rcode])
			}
			if got := testutil.ToFloat64(h.metrics.queries.WithLabelValues(tc.zone, "A", "BADVERS", "udp")); got != 1 {
				t.Errorf("glb_dns_queries_total{zone=%q,rcode=BADVERS} = %v, want 1", tc.zone, got)
			}
			if got := testutil.ToFloat64(h.metrics.queries.WithLabelValues("none", "A", "BADSIG", "udp")); got != 0 {
				t.Errorf("counted as BADSIG: %v", got)
			}
		})
	}
}
