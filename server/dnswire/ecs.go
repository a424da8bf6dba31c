package dnswire

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// UDPSize is the EDNS buffer size we advertise, the DNS Flag Day 2020
// value that avoids IP fragmentation on practically every path.
const UDPSize = 1232

// ErrBadECS marks an ECS option that RFC 7871 section 7.1.2 says to answer
// with FORMERR.
var ErrBadECS = errors.New("malformed edns client subnet option")

// ClientSubnet is the ECS option of a query (RFC 7871), as far as glb
// uses it.
type ClientSubnet struct {
	Present bool       // the query has an ECS option
	Family  uint16     // 1 IPv4, 2 IPv6 (0 with source 0 is tolerated, as dig sends it)
	Source  uint8      // SOURCE PREFIX-LENGTH
	Addr    netip.Addr // the address, zero bits beyond source; invalid with source 0
}

// ParseECS reads the data of one ECS option strictly, as RFC 7871 section
// 6 asks: a known family (0 only with source 0, as dig sends it), a source
// prefix that fits the family, exactly the address octets the source prefix
// needs (no more, no fewer), and no address bits set beyond the prefix.
// The scope in a query is ignored. Both answer paths use it: the fast path
// declines what it rejects, and the general path (ECSOf) answers FORMERR.
func ParseECS(b []byte) (ClientSubnet, error) {
	if len(b) < 4 {
		return ClientSubnet{}, ErrBadECS
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
		return ClientSubnet{}, ErrBadECS
	}
	cs := ClientSubnet{Present: true, Family: family, Source: uint8(source)}
	if source == 0 {
		return cs, nil // the client asks us not to use an address
	}
	// With exactly the octets the prefix needs, only the last can have bits
	// set beyond it.
	if rest := source % 8; rest != 0 && addr[len(addr)-1]&(0xff>>rest) != 0 {
		return ClientSubnet{}, ErrBadECS // bits set beyond SOURCE PREFIX-LENGTH
	}
	var full [16]byte
	copy(full[:], addr)
	if family == 1 {
		cs.Addr = netip.AddrFrom4([4]byte(full[:4]))
	} else {
		cs.Addr = netip.AddrFrom16(full)
	}
	return cs, nil
}

// ECSOf finds the ECS option of a query in its wire form pkt, whose
// sections ExactSections has checked, and parses it with ParseECS. Two
// ECS options are an error too. The DNS library's own ECS decoding is not
// used: it accepts fewer address octets than the prefix needs.
func ECSOf(pkt []byte) (ClientSubnet, error) {
	rdata := OPTRData(pkt)
	var cs ClientSubnet
	for len(rdata) >= 4 {
		code, n := binary.BigEndian.Uint16(rdata), int(binary.BigEndian.Uint16(rdata[2:]))
		if 4+n > len(rdata) {
			return ClientSubnet{}, ErrBadECS
		}
		if code == dns.EDNS0SUBNET {
			if cs.Present {
				return ClientSubnet{}, ErrBadECS // two ECS options
			}
			var err error
			if cs, err = ParseECS(rdata[4 : 4+n]); err != nil {
				return ClientSubnet{}, err
			}
		}
		rdata = rdata[4+n:]
	}
	return cs, nil
}

// OPTRData returns the RDATA of the OPT record in the additional section
// of pkt, nil without one. The sections must have passed ExactSections.
func OPTRData(pkt []byte) []byte {
	dh, ok := HeaderOf(pkt)
	if !ok {
		return nil
	}
	off := 12
	for range dh.QD {
		if off, ok = SkipName(pkt, off); !ok {
			return nil
		}
		off += 4
	}
	for i := range int(dh.AN) + int(dh.NS) + int(dh.AR) {
		if off, ok = SkipName(pkt, off); !ok || off+10 > len(pkt) {
			return nil
		}
		rrtype, rdlen := binary.BigEndian.Uint16(pkt[off:]), int(binary.BigEndian.Uint16(pkt[off+8:]))
		off += 10
		if off+rdlen > len(pkt) {
			return nil
		}
		if rrtype == dns.TypeOPT && i >= int(dh.AN)+int(dh.NS) {
			return pkt[off : off+rdlen]
		}
		off += rdlen
	}
	return nil
}

// Prefix is the ECS source network, or the zero Prefix without ECS.
func (cs ClientSubnet) Prefix() netip.Prefix {
	if !cs.Present || !cs.Addr.IsValid() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(cs.Addr, int(cs.Source))
}

// Usable reports whether the ECS address should stand in for the client:
// RFC 7871 says a source prefix of 0 means "do not use my address".
func (cs ClientSubnet) Usable() bool {
	return cs.Present && cs.Source > 0 && cs.Addr.IsValid()
}

// ReplyOption builds the ECS option for the reply: the query's family,
// source and address, with the scope we answered for.
func (cs ClientSubnet) ReplyOption(scope int) *dns.EDNS0_SUBNET {
	e := &dns.EDNS0_SUBNET{
		Code:          dns.EDNS0SUBNET,
		Family:        cs.Family,
		SourceNetmask: cs.Source,
		SourceScope:   uint8(scope),
	}
	switch {
	case cs.Addr.IsValid():
		e.Address = net.IP(cs.Addr.AsSlice())
	case cs.Family == 2:
		e.Address = net.IPv6zero
	default:
		e.Address = net.IPv4zero.To4()
	}
	return e
}

// ScopeFor returns the SCOPE PREFIX-LENGTH for an answer decided for a
// network of the given width (0: the answer holds for every client). When
// that network is longer than the source prefix, the decision was still made
// from the source bits alone (the rest are zero), so the scope is capped at
// the source prefix.
func (cs ClientSubnet) ScopeFor(bits int) int {
	if !cs.Usable() {
		return 0
	}
	return min(bits, int(cs.Source))
}
