package dnssec

import (
	"slices"

	"github.com/miekg/dns"
)

// Compact denial of existence (RFC 9824): glb answers a name or a type
// that does not exist with one NSEC record at the query name itself,
// whose next name is the name's immediate successor ("\000.<qname>"), so
// that it covers nothing else: no zone walking, and each denial is
// signed on demand like any other RRset. A name that does not exist is
// told apart from a type a name lacks by the NXNAME pseudo-type in the
// bitmap.
//
// Each missing name has its own NSEC, so each is signed once, on the
// query path the first time: keep these out of the answers' Cache (a
// small Cache of their own), so that a flood of random names cannot evict
// the answers' signatures.

// DenyName returns the NSEC that denies a name that does not exist: its
// bitmap is RRSIG, NSEC and NXNAME. ttl is the zone's negative TTL (the
// lesser of the SOA's TTL and its MINIMUM, RFC 9077).
func DenyName(qname string, ttl uint32) *dns.NSEC {
	return compactNSEC(qname, ttl, []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME})
}

// DenyType returns the NSEC that denies a type at a name that exists:
// its bitmap is the types the name has (see NameTypes) plus RRSIG and
// NSEC. An empty non-terminal has no types of its own.
func DenyType(qname string, ttl uint32, has []uint16) *dns.NSEC {
	types := append(slices.Clone(has), dns.TypeRRSIG, dns.TypeNSEC)
	return compactNSEC(qname, ttl, types)
}

func compactNSEC(qname string, ttl uint32, types []uint16) *dns.NSEC {
	slices.Sort(types)
	types = slices.Compact(types)
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: qname, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: "\\000." + qname,
		TypeBitMap: types,
	}
}

// RegionFamilies is what one region of a GSLB name can be answered with.
type RegionFamilies struct {
	V4, V6 bool // it has IPv4, IPv6 addresses
	Up     bool // healthy and not drained
}

// NameTypes returns the types a GSLB name has, sorted: A if a region the
// name would be answered from has an IPv4 address, AAAA likewise, plus
// the name's static types. The regions answered from are the healthy
// ones or, when none is, all of them (glb fails open), so that the bitmap
// never denies a type glb would answer. Drained regions are left out by
// the caller.
func NameTypes(regions []RegionFamilies, static ...uint16) []uint16 {
	anyUp := slices.ContainsFunc(regions, func(r RegionFamilies) bool { return r.Up })
	types := slices.Clone(static)
	for _, r := range regions {
		if anyUp && !r.Up {
			continue
		}
		if r.V4 {
			types = append(types, dns.TypeA)
		}
		if r.V6 {
			types = append(types, dns.TypeAAAA)
		}
	}
	slices.Sort(types)
	return slices.Compact(types)
}

// DenialRcode returns the rcode of a compact denial of a name that does
// not exist: NOERROR, which every validator accepts, unless the query's
// EDNS header set the Compact Answers OK flag (RFC 9824 section 4), then
// NXDOMAIN; co says to set the flag in the reply's OPT.
func DenialRcode(opt *dns.OPT) (rcode int, co bool) {
	if opt != nil && opt.Co() {
		return dns.RcodeNameError, true
	}
	return dns.RcodeSuccess, false
}

// QueryRcode returns FORMERR for a query of the NXNAME pseudo-type, which
// only ever appears in NSEC bitmaps (RFC 9824 section 3.5), and ok false;
// for any other type ok is true.
func QueryRcode(qtype uint16) (rcode int, ok bool) {
	if qtype == dns.TypeNXNAME {
		return dns.RcodeFormatError, false
	}
	return dns.RcodeSuccess, true
}
