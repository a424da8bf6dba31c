package server

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// ourUDPSize is the EDNS buffer size we advertise, the DNS Flag Day 2020
// value that avoids IP fragmentation on practically every path.
const ourUDPSize = 1232

// errBadECS marks an ECS option that RFC 7871 section 7.1.2 says to answer
// with FORMERR.
var errBadECS = errors.New("malformed edns client subnet option")

// clientSubnet is the ECS option of a query, as far as we use it.
type clientSubnet struct {
	present bool
	family  uint16     // 1 IPv4, 2 IPv6 (0 with source 0 is tolerated, as dig sends it)
	source  uint8      // SOURCE PREFIX-LENGTH
	addr    netip.Addr // the address, zero bits beyond source
}

// parseECS reads the data of one ECS option strictly, as RFC 7871 section
// 6 asks: a known family (0 only with source 0, as dig sends it), a source
// prefix that fits the family, exactly the address octets the source prefix
// needs (no more, no fewer), and no address bits set beyond the prefix.
// The scope in a query is ignored. Both answer paths use it: the fast path
// declines what it rejects, and the general path (ecsOf) answers FORMERR.
func parseECS(b []byte) (clientSubnet, error) {
	if len(b) < 4 {
		return clientSubnet{}, errBadECS
	}
	family, source, addr := binary.BigEndian.Uint16(b), int(b[2]), b[4:]
	width := 0
	switch family {
	case 1:
		width = 32
	case 2:
		width = 128
	}
	if (family != 0 && width == 0) || source > width || len(addr) != (source+7)/8 {
		return clientSubnet{}, errBadECS
	}
	cs := clientSubnet{present: true, family: family, source: uint8(source)}
	if source == 0 {
		return cs, nil // the client asks us not to use an address
	}
	var full [16]byte
	copy(full[:], addr)
	a := netip.AddrFrom16(full)
	if family == 1 {
		a = netip.AddrFrom4([4]byte(full[:4]))
	}
	if netip.PrefixFrom(a, source).Masked().Addr() != a {
		return clientSubnet{}, errBadECS // bits set beyond SOURCE PREFIX-LENGTH
	}
	cs.addr = a
	return cs, nil
}

// ecsOf finds the ECS option of a query in its wire form pkt, whose
// sections exactSections has checked, and parses it with parseECS. Two
// ECS options are an error too. The DNS library's own ECS decoding is not
// used: it accepts fewer address octets than the prefix needs.
func ecsOf(pkt []byte) (clientSubnet, error) {
	rdata := optRData(pkt)
	var cs clientSubnet
	for len(rdata) >= 4 {
		code, n := binary.BigEndian.Uint16(rdata), int(binary.BigEndian.Uint16(rdata[2:]))
		if 4+n > len(rdata) {
			return clientSubnet{}, errBadECS
		}
		if code == dns.EDNS0SUBNET {
			if cs.present {
				return clientSubnet{}, errBadECS // two ECS options
			}
			var err error
			if cs, err = parseECS(rdata[4 : 4+n]); err != nil {
				return clientSubnet{}, err
			}
		}
		rdata = rdata[4+n:]
	}
	return cs, nil
}

// optRData returns the RDATA of the OPT record in the additional section
// of pkt, nil without one. The sections must have passed exactSections.
func optRData(pkt []byte) []byte {
	dh, ok := headerOf(pkt)
	if !ok {
		return nil
	}
	off := 12
	for range dh.qd {
		if off, ok = skipName(pkt, off); !ok {
			return nil
		}
		off += 4
	}
	for i := range int(dh.an) + int(dh.ns) + int(dh.ar) {
		if off, ok = skipName(pkt, off); !ok || off+10 > len(pkt) {
			return nil
		}
		rrtype, rdlen := binary.BigEndian.Uint16(pkt[off:]), int(binary.BigEndian.Uint16(pkt[off+8:]))
		off += 10
		if off+rdlen > len(pkt) {
			return nil
		}
		if rrtype == dns.TypeOPT && i >= int(dh.an)+int(dh.ns) {
			return pkt[off : off+rdlen]
		}
		off += rdlen
	}
	return nil
}

// prefix is the ECS source network, or the zero Prefix without ECS.
func (cs clientSubnet) prefix() netip.Prefix {
	if !cs.present || !cs.addr.IsValid() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(cs.addr, int(cs.source))
}

// usable reports whether the ECS address should stand in for the client:
// RFC 7871 says a source prefix of 0 means "do not use my address".
func (cs clientSubnet) usable() bool {
	return cs.present && cs.source > 0 && cs.addr.IsValid()
}

// replyOption builds the ECS option for the reply: the query's family,
// source and address, with the scope we answered for.
func (cs clientSubnet) replyOption(scope int) *dns.EDNS0_SUBNET {
	e := &dns.EDNS0_SUBNET{
		Code:          dns.EDNS0SUBNET,
		Family:        cs.family,
		SourceNetmask: cs.source,
		SourceScope:   uint8(scope),
	}
	switch {
	case cs.addr.IsValid():
		e.Address = net.IP(cs.addr.AsSlice())
	case cs.family == 2:
		e.Address = net.IPv6zero
	default:
		e.Address = net.IPv4zero.To4()
	}
	return e
}

// scopeFor returns the SCOPE PREFIX-LENGTH for an answer decided for a
// network of the given width (0: the answer holds for every client). When
// that network is longer than the source prefix, the decision was still made
// from the source bits alone (the rest are zero), so the scope is capped at
// the source prefix.
func (cs clientSubnet) scopeFor(bits int) int {
	if !cs.usable() {
		return 0
	}
	return min(bits, int(cs.source))
}
