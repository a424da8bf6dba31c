package querylog

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/glb-dns/glb/server"
)

// t0 is the arrival time of test queries.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// event is a test query: what a QueryEvent is built from.
type event struct {
	id        uint16
	qname     string
	rcode     int
	remote    string // the packet's source
	ecs       string // the ECS prefix, "" for none
	transport string
}

// queryEvent builds the QueryEvent the server would pass for e: an A query
// with EDNS, answered with one A record when the rcode is NOERROR.
func queryEvent(t testing.TB, e event) *server.QueryEvent {
	t.Helper()
	req := new(dns.Msg)
	req.SetQuestion(e.qname, dns.TypeA)
	req.Id = e.id
	req.SetEdns0(1232, false)
	resp := new(dns.Msg)
	resp.SetRcode(req, e.rcode)
	resp.Authoritative = true
	resp.Compress = true
	resp.SetEdns0(1232, false)
	if e.rcode == dns.RcodeSuccess {
		rr, err := dns.NewRR(e.qname + " 30 IN A 192.0.2.10")
		if err != nil {
			t.Fatal(err)
		}
		resp.Answer = append(resp.Answer, rr)
	}
	ev := &server.QueryEvent{
		Time: t0, Duration: 250 * time.Microsecond, Transport: e.transport,
		Remote: netip.MustParseAddr(e.remote), Zone: "example.com", Region: "eu-west",
		Reason: server.ReasonGeo, Req: req, Resp: resp,
	}
	ev.Client = ev.Remote
	if e.ecs != "" {
		ev.ECS = netip.MustParsePrefix(e.ecs)
		ev.Client = ev.ECS.Addr()
	}
	return ev
}

// readFrames decodes every dnstap frame a Frame Streams reader yields up
// to the stop frame.
func readFrames(t *testing.T, r dnstap.Reader) []*dnstap.Dnstap {
	t.Helper()
	taps, err := decodeFrames(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	return taps
}

// decodeFrames reads frames up to the stop frame, passing each to each
// when it is not nil, and returns them all.
func decodeFrames(r dnstap.Reader, each func(*dnstap.Dnstap)) ([]*dnstap.Dnstap, error) {
	var out []*dnstap.Dnstap
	buf := make([]byte, 1<<16)
	for {
		n, err := r.ReadFrame(buf)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read frame %d: %w", len(out), err)
		}
		tap := new(dnstap.Dnstap)
		if err := proto.Unmarshal(buf[:n], tap); err != nil {
			return out, fmt.Errorf("unmarshal frame %d: %w", len(out), err)
		}
		out = append(out, tap)
		if each != nil {
			each(tap)
		}
	}
}

// unpack parses a wire message from a frame.
func unpack(t *testing.T, wire []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(wire); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	return m
}

// waitDone fails the test when done is not closed within a generous bound:
// the point is to catch a hang, not to time anything.
func waitDone(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return", what)
	}
}
