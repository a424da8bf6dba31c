package server

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMalformedPackets sends every malformed packet of malformedCases
// through AnswerPacket (as UDP and as TCP) and through a real listener on
// 127.0.0.1 over UDP and TCP, and checks the exact wireOutcome: dropped, or a
// reply that parses, is a response, carries the query's ID and the wanted
// rcode, echoes the question when there was one to echo, and for a
// well-formed query holds the right answer. After each packet the server
// must still answer a good query.
func TestMalformedPackets(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	addr := startServer(t, h)
	remote := netip.MustParseAddrPort("192.0.2.1:5353")
	cases := malformedCases()

	// The reference answer for a client in 81.2.69.0/24: every answered
	// case carrying that ECS must get exactly this.
	ref := func(tcp bool) []string {
		out, ok := h.AnswerPacket(nil, cases[0].packet, remote, tcp)
		if !ok {
			t.Fatal("the good query got no reply")
		}
		m := new(dns.Msg)
		if err := m.Unpack(out); err != nil || len(m.Answer) == 0 {
			t.Fatalf("good query: %v, %d answers", err, len(m.Answer))
		}
		return sortedCopy(rrText(m.Answer))
	}(false)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			panics := testutil.ToFloat64(h.metrics.panics)
			check := func(how string, reply []byte, ok bool) {
				t.Helper()
				checkOutcome(t, how, tc, reply, ok, ref)
			}
			for _, tcp := range []bool{false, true} {
				reply, ok := h.AnswerPacket(nil, tc.packet, remote, tcp)
				check(map[bool]string{false: "AnswerPacket udp", true: "AnswerPacket tcp"}[tcp], reply, ok)
			}
			reply, ok := wireUDP(t, addr, tc.packet, tc.want == dropped)
			check("udp listener", reply, ok)
			if len(tc.packet) > 0 { // a zero-length TCP message is no message at all
				reply, ok = wireTCP(t, addr, tc.packet, tc.want == dropped)
				check("tcp listener", reply, ok)
			}
			if got := testutil.ToFloat64(h.metrics.panics); got != panics {
				t.Errorf("the handler panicked (%v panics before, %v after)", panics, got)
			}
			// Still serving.
			good, ok := wireUDP(t, addr, cases[0].packet, false)
			checkOutcome(t, "good query after it", cases[0], good, ok, ref)
		})
	}
}

// checkOutcome checks one reply (ok false: none) against tc.want.
func checkOutcome(t *testing.T, how string, tc malformedCase, reply []byte, ok bool, ref []string) {
	t.Helper()
	if tc.want == dropped {
		if ok {
			t.Errorf("%s: got a %d-byte reply, want the packet dropped", how, len(reply))
		}
		return
	}
	if !ok {
		t.Errorf("%s: no reply, want %s", how, tc.want)
		return
	}
	m := new(dns.Msg)
	if err := m.Unpack(reply); err != nil {
		t.Errorf("%s: reply does not parse: %v (% x)", how, err, reply)
		return
	}
	if !m.Response || m.Id != malformedID {
		t.Errorf("%s: reply QR=%v ID=%#x, want QR=1 ID=%#x", how, m.Response, m.Id, malformedID)
	}
	want := map[wireOutcome]int{formErr: dns.RcodeFormatError, badVers: dns.RcodeBadVers, refused: dns.RcodeRefused,
		notImp: dns.RcodeNotImplemented, answered: dns.RcodeSuccess}[tc.want]
	if m.Rcode != want {
		t.Errorf("%s: rcode %s, want %s", how, dns.RcodeToString[m.Rcode], dns.RcodeToString[want])
	}
	if tc.want == badVers && m.IsEdns0() == nil {
		t.Errorf("%s: BADVERS without an OPT record", how)
	}
	// A question that parsed is echoed as asked.
	if q := new(dns.Msg); tc.want != formErr && q.Unpack(tc.packet) == nil && len(q.Question) == 1 {
		if len(m.Question) != 1 || m.Question[0] != q.Question[0] {
			t.Errorf("%s: question %v, want %v echoed", how, m.Question, q.Question[0])
		}
	}
	if tc.want != answered {
		if len(m.Answer) != 0 {
			t.Errorf("%s: %s with answers %v", how, tc.want, m.Answer)
		}
		return
	}
	if len(m.Answer) == 0 || !m.Authoritative {
		t.Errorf("%s: AA=%v with %d answers, want an authoritative answer", how, m.Authoritative, len(m.Answer))
	}
	if bytes.Contains(tc.packet, goodECS) && !slices.Equal(sortedCopy(rrText(m.Answer)), ref) {
		t.Errorf("%s: answer %v, want %v", how, rrText(m.Answer), ref)
	}
}

// wireUDP sends pkt to addr over UDP and returns the reply. When no reply
// is expected it waits a short while for one that should not come.
func wireUDP(t *testing.T, addr string, pkt []byte, expectNone bool) ([]byte, bool) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	wait := 2 * time.Second
	if expectNone {
		wait = 200 * time.Millisecond
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil, false
	}
	return buf[:n], true
}

// wireTCP sends pkt as one length-prefixed TCP message and returns the
// reply; a connection closed without a reply counts as dropped.
func wireTCP(t *testing.T, addr string, pkt []byte, expectNone bool) ([]byte, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...)); err != nil {
		t.Fatal(err)
	}
	wait := 2 * time.Second
	if expectNone {
		wait = 200 * time.Millisecond
	}
	c.SetReadDeadline(time.Now().Add(wait))
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, false
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, false
	}
	return buf, true
}
