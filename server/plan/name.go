package plan

import (
	"hash/fnv"
	"math"
	"math/bits"
	"net/netip"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/server/dnswire"
	"github.com/glb-dns/glb/store/schema"
)

// Name is a GSLB name, compiled from its schema.Name: candidate regions
// in listed order with pre-built RRs, and the policy fields in the form the
// query path wants (bit masks over the regions instead of lists of ids).
type Name struct {
	// What every fast-path answer reads comes first, in as few cache
	// lines as it fits: each is likely a miss in a server woken per
	// datagram (Addr).
	Policy   string // schema.Policy*
	Answers  int
	Spread   bool
	headroom bool // balance "headroom": tier weights scaled by spare capacity
	stickyV4 int  // 0: not sticky
	stickyV6 int
	trickle  uint64 // failover: subnets hashing below this go to the standbys (trickle.go); 0: none
	Regions  []*RegionAnswer
	// CfgKey identifies everything of the name that selection reads
	// (configKey), so that names configured alike share one ECS scope
	// table.
	CfgKey uint64
	// Counters are the name's counters, which live outside the snapshot
	// (Handler.names) so that they outlast configuration changes; the
	// snapshot's owner links them in before the swap (counters.go).
	Counters any // *server.nameCounters
	// Pins are the name's pinned networks; nil: none (pins.go). They are
	// not part of CfgKey: scope tables hold GeoIP plans only, and pinned
	// clients are answered, and scopes bounded, before the table is read.
	Pins        *Pins
	TTLDegraded uint32 // 0: same as ttl
	TTL         uint32

	Zone      string // zone label, for metrics
	Label     string // name relative to the zone, for metrics and logs
	Owner     string // the full name, lower case with the trailing dot
	Fence     *Fence // nil: every client may get every region
	fallback  uint64 // regions of the fallback outcome
	onAllDown string
	onNoData  string
	panicPct  int
	hasChecks bool // some region has a health check configured
	tier      tier // the geo and latency tiers' tolerance
	// sigKeys are the signature cache keys' starts of the name's answers
	// in a signed zone (dnssec.go); nil: none made.
	sigKeys atomic.Pointer[SigKeys]
}

// Addr is one address of a region as answered: the record for replies
// built as messages, and the same record in wire form from its type on
// (type, class, TTL, length, address) for the fast path, which writes it
// after a pointer to the question name, and the address's bit in the
// health mask. The records of a region lie side by side, so the fast path
// reads them from one or two cache lines rather than an interface, a
// struct and an IP slice per address: in a server woken per datagram its
// caches are cold from the kernel's work, and each line it touches costs
// (deploy/loadtest/README.md, "Where the handler's time goes").
type Addr struct {
	RR   dns.RR
	wire [10 + 16]byte
	n    uint8
	// pos is the position of the address in the region's addrs: its bit
	// in the region's health mask.
	pos uint8
}

// Wire is the record in wire form from its type on.
func (a *Addr) Wire() []byte { return a.wire[:a.n] }

// newAddr makes the ownerless record of address a, at position pos of
// its region's addrs, with ttl.
func newAddr(a netip.Addr, pos int, ttl uint32) Addr {
	v := Addr{RR: addrRR("", a, ttl), pos: uint8(pos)}
	b := dnswire.AppendRRHeader(v.wire[:0], v.RR.Header().Rrtype, ttl, uint16(a.BitLen()/8))
	b = append(b, a.AsSlice()...)
	v.n = uint8(len(b))
	return v
}

// RegionAnswer is one region as answered with at one TTL: its position and
// weight, and its addresses as ready-made records. They have no owner name
// (the fast path writes a pointer to the question instead, the general path
// copies them and sets the owner), so every name with the same TTLs shares
// one regionAnswer per region: 10,000 names listing the same 20 regions
// cost 20 regionAnswers, not 200,000.
type RegionAnswer struct {
	// What a query reads comes first, within two cache lines.
	ID      string
	Idx     int // index into config.regions and the health table
	Weight  int
	A, aaaa []Addr
	// aDeg and aaaaDeg are the same records with the degraded TTL (only
	// when the name sets ttl_degraded).
	aDeg, aaaaDeg []Addr
	Lat, Lon      float64
	hasCheck      bool
	// NameWeight: Weight is the name's own weight for the region
	// (<name>/weights/<region>), not the region's.
	NameWeight bool
}

// Fence is a compiled geofence: the regions allowed per country, per
// continent, and for everyone else, as masks over gslbName.regions.
type Fence struct {
	countries  map[string]uint64
	continents map[string]uint64
	def        uint64
}

// allowed returns the mask of regions a client at loc may get.
func (f *Fence) allowed(loc geo.Location) uint64 {
	if f == nil {
		return math.MaxUint64
	}
	if m, ok := f.countries[loc.Country]; ok && loc.Country != "" {
		return m
	}
	if m, ok := f.continents[loc.Continent]; ok && loc.Continent != "" {
		return m
	}
	return f.def
}

// answerKey identifies a shared regionAnswer within one configuration.
type answerKey struct {
	region           string
	ttl, ttlDegraded uint32
	weight           int // a per-name weight, or -1: the region's own
}

// answerCache holds the regionAnswers of one configuration build.
type answerCache map[answerKey]*RegionAnswer

// region returns the shared regionAnswer of region id at the given TTLs
// (ttlDegraded 0: none) and weight (-1: the region's own), building it on
// first use.
func (c answerCache) region(id string, r *schema.RegionState, idx int, ttl, ttlDegraded uint32, weight int) *RegionAnswer {
	k := answerKey{id, ttl, ttlDegraded, weight}
	if ra := c[k]; ra != nil {
		return ra
	}
	ra := &RegionAnswer{ID: id, Idx: idx, Lat: r.Region.Lat, Lon: r.Region.Lon, Weight: r.Weight,
		hasCheck: r.Region.Check != nil}
	if weight >= 0 {
		ra.Weight, ra.NameWeight = weight, true
	}
	for i, a := range r.Region.Addrs {
		if a.Is4() {
			ra.A = append(ra.A, newAddr(a, i, ttl))
			if ttlDegraded > 0 {
				ra.aDeg = append(ra.aDeg, newAddr(a, i, ttlDegraded))
			}
		} else {
			ra.aaaa = append(ra.aaaa, newAddr(a, i, ttl))
			if ttlDegraded > 0 {
				ra.aaaaDeg = append(ra.aaaaDeg, newAddr(a, i, ttlDegraded))
			}
		}
	}
	c[k] = ra
	return ra
}

func buildName(zoneLabel, label, owner string, nm *schema.Name, zoneTTL uint32, regions map[string]*schema.RegionState, idx map[string]int, answers answerCache, weights map[string]int) *Name {
	ttl := nm.TTL
	if ttl == 0 {
		ttl = zoneTTL
	}
	if ttl == 0 {
		ttl = schema.DefaultNameTTL
	}
	g := &Name{
		Zone: zoneLabel, Label: label, Owner: owner, Policy: nm.PolicyOrDefault(), TTL: ttl, TTLDegraded: nm.TTLDegraded,
		Answers: nm.AnswersOrDefault(), Spread: nm.Spread, onAllDown: nm.OnAllDownOrDefault(),
		onNoData: nm.OnNoDataOrDefault(), panicPct: nm.PanicPercent,
		Regions: make([]*RegionAnswer, 0, len(nm.Regions)),
	}
	if nm.Sticky != nil {
		g.stickyV4, g.stickyV6 = nm.Sticky.Bits(true), nm.Sticky.Bits(false)
	}
	g.headroom = nm.Balance == schema.BalanceHeadroom
	g.tier = tierOf(nm.Tier)
	g.setTrickle(nm)
	for _, id := range nm.Regions {
		r := regions[id]
		if r == nil {
			continue // deleted after the name was accepted; the name serves the rest
		}
		w, ok := weights[id]
		if !ok {
			w = -1
		}
		ra := answers.region(id, r, idx[id], ttl, g.TTLDegraded, w)
		g.hasChecks = g.hasChecks || ra.hasCheck
		g.Regions = append(g.Regions, ra)
	}
	// A region's bit in the masks is its position in g.regions; a scan
	// of at most 64 regions is cheaper than a map per name when 10,000
	// names are built at each configuration change.
	mask := func(ids []string) uint64 {
		var m uint64
		for _, id := range ids {
			for i, r := range g.Regions {
				if r.ID == id {
					m |= 1 << i
					break
				}
			}
		}
		return m
	}
	g.fallback = mask(nm.Fallback)
	if f := nm.Geofence; f != nil {
		g.Fence = &Fence{countries: map[string]uint64{}, continents: map[string]uint64{}, def: math.MaxUint64}
		for c, ids := range f.Countries {
			g.Fence.countries[c] = mask(ids)
		}
		for c, ids := range f.Continents {
			g.Fence.continents[c] = mask(ids)
		}
		if len(f.Default) > 0 {
			g.Fence.def = mask(f.Default)
		}
	}
	g.CfgKey = g.configKey()
	return g
}

// configKey hashes what selection reads from the configuration.
func (g *Name) configKey() uint64 {
	w := newHashWriter(fnv.New64a())
	w.str(g.Policy)
	w.num(uint64(g.Answers))
	w.flag(g.Spread)
	w.flag(g.headroom)
	w.num(uint64(g.stickyV4))
	w.num(uint64(g.stickyV6))
	w.num(g.fallback)
	w.str(g.onAllDown)
	w.str(g.onNoData)
	w.num(uint64(g.panicPct))
	g.tier.hash(w)
	w.num(g.trickle)
	for _, r := range g.Regions {
		w.num(uint64(r.Idx))
		w.num(math.Float64bits(r.Lat))
		w.num(math.Float64bits(r.Lon))
		w.flag(r.hasCheck)
		// Per-name weights make names that are otherwise alike plan
		// differently, so they must not share a scope table.
		w.num(uint64(r.Weight))
		w.num(uint64(len(r.A)))
		w.num(uint64(len(r.aaaa)))
	}
	if f := g.Fence; f != nil {
		for _, m := range []map[string]uint64{f.countries, f.continents} {
			w.num(uint64(len(m)))
			for _, k := range sortedKeys(m) {
				w.str(k)
				w.num(m[k])
			}
		}
		w.num(f.def)
	}
	return w.h.Sum64()
}

// popcount is the number of regions in a mask.
func popcount(m uint64) int { return bits.OnesCount64(m) }

// LocationSensitive says whether the name's plan can depend on where the
// client is: ranking by place, or a fence.
func (g *Name) LocationSensitive() bool {
	return g.Policy == "geo" || g.Policy == "latency" || g.Fence != nil
}

// Rule names the fence rule that applies at loc.
func (f *Fence) Rule(loc geo.Location) string {
	if _, ok := f.countries[loc.Country]; ok && loc.Country != "" {
		return "country " + loc.Country
	}
	if _, ok := f.continents[loc.Continent]; ok && loc.Continent != "" {
		return "continent " + loc.Continent
	}
	return "default"
}
