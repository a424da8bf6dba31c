package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// query packs a query for name and qtype with id, EDNS0 (UDP size 1232) and,
// when ecs is valid, an ECS option with the prefix as source.
func query(id uint16, name string, qtype uint16, ecs netip.Prefix) ([]byte, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.Id = id
	m.RecursionDesired = false
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(1232)
	if ecs.IsValid() {
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(ecs.Bits()), Address: ecs.Masked().Addr().AsSlice()}
		if ecs.Addr().Is4() {
			e.Family = 1
		} else {
			e.Family = 2
		}
		o.Option = append(o.Option, e)
	}
	m.Extra = append(m.Extra, o)
	return m.Pack()
}

// exchanger asks one server over one connected UDP socket, one query at a
// time (no other query of ours is in flight on the socket).
type exchanger struct {
	conn *net.UDPConn
	buf  []byte
	id   uint16
}

// loopbackServer checks that server is an ip:port on loopback: glbbench
// measures a local glbd and never loads anyone else's server.
func loopbackServer(server string) error {
	ap, err := netip.ParseAddrPort(server)
	if err != nil {
		return fmt.Errorf("server %q: want ip:port: %w", server, err)
	}
	if !ap.Addr().IsLoopback() {
		return fmt.Errorf("server %s: only loopback servers are measured", server)
	}
	return nil
}

func newExchanger(server string) (*exchanger, error) {
	if err := loopbackServer(server); err != nil {
		return nil, err
	}
	ap := netip.MustParseAddrPort(server)
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, err
	}
	return &exchanger{conn: conn, buf: make([]byte, 65535)}, nil
}

func (x *exchanger) Close() error { return x.conn.Close() }

// addrs asks name A with ecs and returns the answer's addresses.
func (x *exchanger) addrs(name string, ecs netip.Prefix, timeout time.Duration) ([]netip.Addr, error) {
	m, err := x.exchange(name, dns.TypeA, ecs, timeout)
	if err != nil {
		return nil, err
	}
	if m.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[m.Rcode])
	}
	var out []netip.Addr
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
				out = append(out, ip)
			}
		}
	}
	return out, nil
}

// exchange asks name qtype with ecs and returns the reply, whatever its
// rcode. A reply with another id (a late reply to an earlier query) is
// skipped.
func (x *exchanger) exchange(name string, qtype uint16, ecs netip.Prefix, timeout time.Duration) (*dns.Msg, error) {
	x.id++
	q, err := query(x.id, name, qtype, ecs)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	if err := x.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if _, err := x.conn.Write(q); err != nil {
		return nil, err
	}
	for range 64 {
		n, err := x.conn.Read(x.buf)
		if err != nil {
			return nil, err
		}
		m := new(dns.Msg)
		if err := m.Unpack(x.buf[:n]); err != nil || m.Id != x.id {
			continue
		}
		return m, nil
	}
	return nil, errors.New("too many stray replies")
}

// percentile is the nearest-rank percentile (p in 0..100) of sorted values:
// the smallest value with at least p % of the values at or below it.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	r := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(r, 1), len(sorted))-1]
}

// dist summarises durations in ms: p50, p90, p99, p99.9 (when there are at
// least 1000 values) and max.
func dist(ms []float64) string {
	s := slices.Clone(ms)
	slices.Sort(s)
	if len(s) == 0 {
		return "n=0"
	}
	out := fmt.Sprintf("n=%d min=%.3f p50=%.3f p90=%.3f p99=%.3f", len(s), s[0],
		percentile(s, 50), percentile(s, 90), percentile(s, 99))
	if len(s) >= 1000 {
		out += fmt.Sprintf(" p99.9=%.3f", percentile(s, 99.9))
	}
	return out + fmt.Sprintf(" max=%.3f ms", s[len(s)-1])
}
