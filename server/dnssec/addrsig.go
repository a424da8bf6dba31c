package dnssec

import (
	"fmt"
	"hash/maphash"
	"time"

	"github.com/miekg/dns"
)

// The fast path's door into the cache. A GSLB answer is a few A or AAAA
// records shared by every name that lists the region, so they carry no
// owner name; the fast path writes them after the question, and wants the
// signature of the set ready to write too. AddrSig finds it from the
// records' addresses and the owner as they are, with no packing and no
// allocation on a hit: the key is the one Key computes for the same RRset
// with its owner, so both paths share each entry.

// AddrKey returns the key of the RRset of owner (canonical: lower case,
// fully qualified) made of rrs, A or AAAA records of one type and TTL
// whose own owner names are ignored. It equals Key of the same records
// carrying owner, and allocates nothing.
func (c *Cache) AddrKey(owner string, rrs []dns.RR) RRsetKey {
	h := rrs[0].Header()
	return c.addAddrs(c.KeyStart(owner, h.Rrtype, h.Ttl), rrs)
}

// KeyStart returns the key of an RRset of owner, class IN, type and TTL
// before its records are added: what a name can keep ready for its
// answers (AddrSigFrom), since only the records vary per query.
func (c *Cache) KeyStart(owner string, rrtype uint16, ttl uint32) RRsetKey {
	return c.keyStart(owner, &dns.RR_Header{Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl})
}

func (c *Cache) addAddrs(k RRsetKey, rrs []dns.RR) RRsetKey {
	for _, rr := range rrs {
		switch v := rr.(type) {
		case *dns.A:
			c.keyAdd(&k, v.A.To4())
		case *dns.AAAA:
			c.keyAdd(&k, v.AAAA.To16())
		}
	}
	return k
}

// AddrSig returns the RRSIG of owner's RRset rrs (as AddrKey takes them)
// in wire form from its type on: the fast path writes the owner before
// it (a pointer to the question). On a hit at time now it allocates
// nothing; on a miss it signs copies of rrs carrying owner. The returned
// bytes are shared: do not change them.
func (c *Cache) AddrSig(owner string, rrs []dns.RR, now time.Time) ([]byte, error) {
	if len(rrs) == 0 {
		return nil, fmt.Errorf("signature of %s: empty RRset", owner)
	}
	h := rrs[0].Header()
	return c.AddrSigFrom(c.KeyStart(owner, h.Rrtype, h.Ttl), owner, rrs, now)
}

// AddrSigFrom is AddrSig with the key's start made already: start must be
// KeyStart(owner, the records' type, their TTL).
func (c *Cache) AddrSigFrom(start RRsetKey, owner string, rrs []dns.RR, now time.Time) ([]byte, error) {
	if len(rrs) == 0 {
		return nil, fmt.Errorf("signature of %s: empty RRset", owner)
	}
	for _, rr := range rrs {
		switch rr.(type) {
		case *dns.A, *dns.AAAA:
		default:
			return nil, fmt.Errorf("signature of %s: %s is not an address record", owner, dns.TypeToString[rr.Header().Rrtype])
		}
	}
	// Sign copies with the owner only on a miss: the records are shared.
	e, err := c.entryOr(c.addAddrs(start, rrs), now.Unix(), func() []dns.RR {
		set := make([]dns.RR, len(rrs))
		for i, rr := range rrs {
			set[i] = dns.Copy(rr)
			set[i].Header().Name = owner
		}
		return set
	})
	if err != nil {
		return nil, err
	}
	return e.wire, nil
}

// KeyOne returns the key of an RRset of one record of owner (canonical),
// class IN, rrtype and ttl whose data in wire form is rdata (names
// uncompressed): Key of that RRset, without packing it again when the
// caller has its wire form already.
func (c *Cache) KeyOne(owner string, rrtype uint16, ttl uint32, rdata []byte) RRsetKey {
	k := c.KeyStart(owner, rrtype, ttl)
	c.keyAdd(&k, rdata)
	return k
}

// KeyOneBytes is KeyOne with the owner in bytes (canonical, presentation
// form), as the fast path holds the query name: the same key, without
// making a string of it.
func (c *Cache) KeyOneBytes(owner []byte, rrtype uint16, ttl uint32, rdata []byte) RRsetKey {
	hdr := keyHeader(&dns.RR_Header{Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl})
	var k RRsetKey
	k.a = maphash.Bytes(c.seedA, owner) ^ maphash.Bytes(c.seedA, hdr[:])
	k.b = maphash.Bytes(c.seedB, owner) + maphash.Bytes(c.seedB, hdr[:])
	c.keyAdd(&k, rdata)
	return k
}

// Wire returns the RRSIG of the RRset whose key is k, in wire form from
// its type on, serving at now; on a miss it signs the RRset that set
// returns (records with their owner) and stores it. On a hit it
// allocates nothing. The returned bytes are shared: do not change them.
func (c *Cache) Wire(k RRsetKey, now time.Time, set func() []dns.RR) ([]byte, error) {
	e, err := c.entryOr(k, now.Unix(), set)
	if err != nil {
		return nil, err
	}
	return e.wire, nil
}

// sigWire returns sig in wire form without its owner name: type, class,
// TTL, data length and data (the signer's name is never compressed, RFC
// 4034 section 3.1.7).
func sigWire(sig *dns.RRSIG) ([]byte, error) {
	buf := make([]byte, dns.Len(sig)+16)
	n, err := dns.PackRR(sig, buf, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("pack signature of %s: %w", sig.Hdr.Name, err)
	}
	_, off, err := dns.UnpackDomainName(buf[:n], 0)
	if err != nil {
		return nil, fmt.Errorf("pack signature of %s: %w", sig.Hdr.Name, err)
	}
	return buf[off:n:n], nil
}

// MaxRRSIGLen bounds the wire length of one RRSIG the signer makes, with
// its owner written as a compression pointer: what the fast path must
// leave room for before it decides to answer over UDP.
func (s *Signer) MaxRRSIGLen() int {
	sigLen := 512 // RSA up to 4096 bits; the algorithms we make keys for are below
	switch s.dataKey.DNSKEY.Algorithm {
	case dns.ECDSAP256SHA256, dns.ED25519:
		sigLen = 64
	}
	// pointer, type class TTL rdlength, the fixed RRSIG fields, the signer
	return 2 + 10 + 18 + len(s.zone) + 1 + sigLen
}
