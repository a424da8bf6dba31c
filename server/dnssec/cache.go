package dnssec

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// RRsetKey names one exact RRset in a Cache: owner (case-folded), type,
// class, TTL and the set of its records' data, whatever their order. It
// is 128 bits of two independently seeded hashes, so that two different
// RRsets sharing a key is not a concern in practice. Compute it once,
// off the query path (Cache.Key), and keep it beside the RRset.
type RRsetKey struct{ a, b uint64 }

// Cache keeps the RRSIG of each RRset it was asked for, so that each
// region's answer is signed once and then served to every client and
// every ECS scope from memory. An entry has two deadlines: from its
// refresh time Refresh (called off the query path) signs it again, and
// Sigs goes on serving it meanwhile; only past its serve-until time,
// which a working Refresh never lets come, does Sigs sign on the query
// path. A signature is never served with less than its RRset's TTL left,
// so a resolver never caches an RRset longer than its signature. The
// cache holds at most its size; beyond that, an arbitrary entry makes
// room. A Cache belongs to one Signer: after a key change, make a new
// one.
type Cache struct {
	s      *Signer
	seedA  maphash.Seed
	seedB  maphash.Seed
	mixA   uint64 // keys of the mixes of addresses (keyAdd)
	mixB   uint64
	max    int // per shard
	margin time.Duration
	shards [cacheShards]cacheShard

	misses, signs atomic.Uint64
}

const cacheShards = 16

// cacheShard is one lock's worth of the cache. Hits are counted per
// shard, beside the lock a hit touches anyway, rather than on one line
// every core writes; the padding keeps shards on their own cache lines.
type cacheShard struct {
	mu   sync.RWMutex
	m    map[RRsetKey]*cacheEntry
	hits atomic.Uint64
	_    [64]byte
}

// cacheEntry is immutable once stored: a refresh replaces it whole.
type cacheEntry struct {
	sigs       []dns.RR // one RRSIG
	wire       []byte   // the RRSIG in wire form after its owner name, for the fast path (AddrSig)
	refreshAt  int64    // unix seconds: Refresh signs again from here on
	serveUntil int64    // unix seconds: Sigs signs again from here on
	rrset      []dns.RR // what was signed, for Refresh
}

// DefaultCacheSize is the number of RRsets a Cache holds by default.
const DefaultCacheSize = 100_000

// NewCache returns an empty cache of at most size RRsets (DefaultCacheSize
// when size <= 0). Refresh signs an entry again when less than a third of
// the signer's shortest validity (its validity less the jitter) is left:
// 2 days by default; Sigs serves it until a sixth is left (1 day) or its
// TTL, whichever is longer.
func NewCache(s *Signer, size int) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	c := &Cache{s: s, seedA: maphash.MakeSeed(), seedB: maphash.MakeSeed(), mixA: rand.Uint64(), mixB: rand.Uint64(), max: max(1, size/cacheShards)}
	c.margin = (s.cfg.Validity - s.cfg.Jitter) / 3
	for i := range c.shards {
		c.shards[i].m = make(map[RRsetKey]*cacheEntry)
	}
	return c
}

// Signer returns the signer the cache belongs to.
func (c *Cache) Signer() *Signer { return c.s }

// Key returns the key of rrset. The order of the records does not
// matter, nor the case of the owner name; owner, type, class, TTL and
// every record's data do.
func (c *Cache) Key(rrset []dns.RR) (RRsetKey, error) {
	if len(rrset) == 0 {
		return RRsetKey{}, fmt.Errorf("cache key: empty RRset")
	}
	h := rrset[0].Header()
	k := c.keyStart(dns.CanonicalName(h.Name), h)
	buf := make([]byte, 512)
	for _, rr := range rrset {
		if need := 12 + dns.Len(rr); need > len(buf) {
			buf = make([]byte, need)
		}
		rd, err := rdata(rr, buf)
		if err != nil {
			return RRsetKey{}, fmt.Errorf("cache key of %s/%s: %w", h.Name, dns.TypeToString[h.Rrtype], err)
		}
		c.keyAdd(&k, rd)
	}
	return k, nil
}

// keyStart returns the key of an RRset of the canonical owner name and
// h's type, class and TTL, before its records are added (keyAdd). Key
// and AddrKey both build keys this way, so that they agree.
func (c *Cache) keyStart(name string, h *dns.RR_Header) RRsetKey {
	hdr := keyHeader(h)
	var k RRsetKey
	k.a = maphash.String(c.seedA, name) ^ maphash.Bytes(c.seedA, hdr[:])
	k.b = maphash.String(c.seedB, name) + maphash.Bytes(c.seedB, hdr[:])
	return k
}

// keyHeader is what a key's start hashes of h besides the owner name:
// type, class and TTL.
func keyHeader(h *dns.RR_Header) [8]byte {
	var hdr [8]byte
	binary.BigEndian.PutUint16(hdr[0:], h.Rrtype)
	binary.BigEndian.PutUint16(hdr[2:], h.Class)
	binary.BigEndian.PutUint32(hdr[4:], h.Ttl)
	return hdr
}

// keyAdd adds one record's data in wire form to k. Adding the records'
// hashes makes the key independent of their order. Data of 4 or 16 bytes
// (an A or AAAA record's address, which the DO fast path adds per query)
// is mixed with the cache's secret keys instead of hashed: a bijection of
// the 4 bytes, and for 16 one that no one without the keys can steer,
// at a fraction of a hash call's cost; the type in the key's start keeps
// other data of those lengths apart.
func (c *Cache) keyAdd(k *RRsetKey, rd []byte) {
	switch len(rd) {
	case 4:
		x := uint64(binary.BigEndian.Uint32(rd))
		k.a += mix64(x ^ c.mixA)
		k.b += mix64(x^c.mixB) * 0x9e3779b97f4a7c15
	case 16:
		x, y := binary.BigEndian.Uint64(rd), binary.BigEndian.Uint64(rd[8:])
		k.a += mix64(mix64(x^c.mixA) + y)
		k.b += mix64(mix64(x^c.mixB)+y) * 0x9e3779b97f4a7c15
	default:
		k.a += maphash.Bytes(c.seedA, rd)
		k.b += maphash.Bytes(c.seedB, rd) * 0x9e3779b97f4a7c15
	}
}

// mix64 is splitmix64's finaliser: a bijection that spreads every input
// bit over the output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// rdata returns rr's data in wire form (without its header). It packs rr
// as the one record of a message rather than with dns.PackRR, which
// writes the record's Rdlength: the records are shared by every query of
// a snapshot, and Key runs on the query path.
func rdata(rr dns.RR, buf []byte) ([]byte, error) {
	m := dns.Msg{Answer: []dns.RR{rr}}
	b, err := m.PackBuffer(buf)
	if err != nil {
		return nil, err
	}
	// The message header is 12 bytes, then the owner name (labels up to
	// the root's empty one: nothing is compressed) and 10 bytes.
	off := 12
	for off < len(b) && b[off] != 0 {
		off += int(b[off]) + 1
	}
	if off+11 > len(b) {
		return nil, fmt.Errorf("pack %s: short record", rr.Header().Name)
	}
	return b[off+11:], nil
}

// Sigs returns the RRSIGs of the RRset whose key is k, signing and
// storing them on a miss. On a hit it allocates nothing. The returned
// slice is shared: do not change it.
func (c *Cache) Sigs(k RRsetKey, rrset []dns.RR) ([]dns.RR, error) {
	e, err := c.entryOr(k, c.s.cfg.Now().Unix(), func() []dns.RR { return rrset })
	if err != nil {
		return nil, err
	}
	return e.sigs, nil
}

// entryOr returns the entry of key k, serving at unix time now; on a
// miss it signs the RRset that set returns (records with their owner)
// and stores it.
func (c *Cache) entryOr(k RRsetKey, now int64, set func() []dns.RR) (*cacheEntry, error) {
	sh := &c.shards[k.a%cacheShards]
	sh.mu.RLock()
	e := sh.m[k]
	sh.mu.RUnlock()
	if e != nil && now < e.serveUntil {
		sh.hits.Add(1)
		return e, nil
	}
	c.misses.Add(1)
	e, err := c.sign(set())
	if err != nil {
		return nil, err
	}
	c.store(sh, k, e)
	return e, nil
}

// sign makes a new entry for rrset.
func (c *Cache) sign(rrset []dns.RR) (*cacheEntry, error) {
	sig, exp, err := c.s.Sign(rrset)
	if err != nil {
		return nil, err
	}
	c.signs.Add(1)
	wire, err := sigWire(sig)
	if err != nil {
		return nil, err
	}
	ttl := time.Duration(rrset[0].Header().Ttl) * time.Second
	return &cacheEntry{
		sigs:       []dns.RR{sig},
		wire:       wire,
		refreshAt:  exp.Add(-c.margin).Unix(),
		serveUntil: exp.Add(-max(c.margin/2, ttl)).Unix(),
		rrset:      slices.Clone(rrset),
	}, nil
}

func (c *Cache) store(sh *cacheShard, k RRsetKey, e *cacheEntry) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[k]; !ok && len(sh.m) >= c.max {
		// Go's map iteration starts at a random place: this drops an
		// arbitrary entry, which costs one signature if it comes back.
		for old := range sh.m {
			delete(sh.m, old)
			break
		}
	}
	sh.m[k] = e
}

// Refresh signs again every entry whose refresh time has come, and
// returns how many it signed. Call it periodically off the query path
// (more often than the refresh margin, e.g. hourly) so that Sigs never
// signs in steady state. Entries that cannot be signed are dropped.
func (c *Cache) Refresh() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		now := c.s.cfg.Now().Unix()
		sh.mu.RLock()
		var due []RRsetKey
		for k, e := range sh.m {
			if now >= e.refreshAt {
				due = append(due, k)
			}
		}
		sh.mu.RUnlock()
		for _, k := range due {
			sh.mu.RLock()
			old := sh.m[k]
			sh.mu.RUnlock()
			if old == nil {
				continue
			}
			e, err := c.sign(old.rrset)
			sh.mu.Lock()
			if err != nil {
				delete(sh.m, k)
			} else {
				sh.m[k] = e
				n++
			}
			sh.mu.Unlock()
		}
	}
	return n
}

// CacheStats are a Cache's counters since it was made.
type CacheStats struct {
	Hits, Misses, Signs uint64
	Entries             int
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	st := CacheStats{Misses: c.misses.Load(), Signs: c.signs.Load()}
	for i := range c.shards {
		st.Hits += c.shards[i].hits.Load()
		c.shards[i].mu.RLock()
		st.Entries += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return st
}
