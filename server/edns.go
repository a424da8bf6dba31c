package server

import (
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

// parseECS finds and checks the ECS option in opt. The DNS library has
// already refused unknown families and prefixes longer than the family
// allows; what is left is the rule that address bits beyond the source
// prefix must be zero.
func parseECS(opt *dns.OPT) (clientSubnet, error) {
	if opt == nil {
		return clientSubnet{}, nil
	}
	var cs clientSubnet
	for _, o := range opt.Option {
		e, ok := o.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		if cs.present {
			return clientSubnet{}, errBadECS // two ECS options
		}
		cs = clientSubnet{present: true, family: e.Family, source: e.SourceNetmask}
		if e.Family == 0 {
			continue // source is 0 here: the client asks us not to use an address
		}
		a, ok := ipAddr(e.Address, e.Family)
		if !ok {
			return clientSubnet{}, errBadECS
		}
		p := netip.PrefixFrom(a, int(e.SourceNetmask))
		if p.Masked().Addr() != a {
			return clientSubnet{}, errBadECS // bits set beyond SOURCE PREFIX-LENGTH
		}
		cs.addr = a
	}
	return cs, nil
}

// ipAddr converts the library's net.IP to a netip.Addr of the given family.
func ipAddr(ip net.IP, family uint16) (netip.Addr, bool) {
	switch family {
	case 1:
		v4 := ip.To4()
		if v4 == nil {
			return netip.Addr{}, false
		}
		return netip.AddrFrom4([4]byte(v4)), true
	case 2:
		if len(ip) != net.IPv6len {
			return netip.Addr{}, false
		}
		return netip.AddrFrom16([16]byte(ip)), true
	}
	return netip.Addr{}, false
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
