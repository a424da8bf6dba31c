package transport

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// TestRequestDurationCountsEveryQuery: glb_dns_request_duration_seconds,
// counted per batch for UDP and per query for TCP, counts every query
// answered over both, including bursts that arrive as one batch, and its
// time is the batch's: never less than zero, and under the 10 ms bucket on
// an idle loopback.
func TestRequestDurationCountsEveryQuery(t *testing.T) {
	h, reg := newTestHandler(t, nil)
	addr := startServer(t, h)
	server := netip.MustParseAddrPort(addr)
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q, err := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24").Pack()
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	const bursts, perBurst = 20, 16
	buf := make([]byte, 512)
	for range bursts {
		for range perBurst { // sent before any is read: the reader gets them in few batches
			if _, err := c.WriteToUDPAddrPort(q, server); err != nil {
				t.Fatal(err)
			}
		}
		for range perBurst {
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	const tcpQueries = 3
	for range tcpQueries {
		exchange(t, "tcp", addr, mkQuery("www."+testZone, dns.TypeA, ""))
	}
	// A batch is counted just after its replies are sent, so the client
	// can hold the last replies before the reader has counted them: wait
	// (at most 5 s) for the count to settle.
	want := uint64(bursts*perBurst + tcpQueries)
	count, under10ms := durationCounts(t, reg)
	for deadline := time.Now().Add(5 * time.Second); count < want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		count, under10ms = durationCounts(t, reg)
	}
	if count != want {
		t.Errorf("glb_dns_request_duration_seconds counts %d queries, want %d", count, want)
	}
	if under10ms != count {
		t.Errorf("%d of %d queries took over 10 ms on an idle loopback", count-under10ms, count)
	}
}

// durationCounts reads glb_dns_request_duration_seconds: its count and
// its 10 ms bucket.
func durationCounts(t *testing.T, reg *prometheus.Registry) (count, under10ms uint64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "glb_dns_request_duration_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == 0.01 {
				under10ms = b.GetCumulativeCount()
			}
		}
		return h.GetSampleCount(), under10ms
	}
	t.Fatal("no glb_dns_request_duration_seconds")
	return 0, 0
}
