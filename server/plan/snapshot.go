package plan

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store/schema"
)

// Snapshot is everything the query path reads, never modified once built.
// It has two parts with their own lifetimes: the configuration (zones, names,
// pre-built RRs), rebuilt only when the configuration changes, and the health
// table, rebuilt whenever probers report or reports go stale. The RRs are
// shared by every reply that uses them: code that needs a different owner
// or TTL copies them.
type Snapshot struct {
	// The query path reads the first four.
	Config *Config
	Health *HealthTable
	// Scopes holds the ready ECS scope tables, [A, AAAA], by the cfgKey of
	// the names they serve (names configured alike share them); names
	// without one use the GeoIP network (see scope.go).
	Scopes map[uint64][2]*ScopeTable
	// DNSSEC holds the signed zones' signers (dnssec.go); nil when no
	// zone has usable keys.
	DNSSEC   *Signing
	Revision int64
	State    *schema.State // what it was built from, for Status
	Built    time.Time     // when it was swapped in
}

// Config is the part of a snapshot derived from the configuration alone.
type Config struct {
	// Owners finds a name's node and zone in one map lookup (LookupWire),
	// where matching the zone then the node takes one per label of the
	// name plus one: every node of every zone, by owner name in wire form
	// (owners.go), under the deepest zone that holds it. First: every
	// query reads it.
	Owners    map[string]Owner
	Revision  int64            // schema.State.ConfigRevision it was built from
	Zones     map[string]*Zone // by origin, lower case with the trailing dot
	Regions   []*regionInfo    // every region; health tables align with this
	RegionIdx map[string]int
	Names     []*Name // every GSLB name of every zone
	// ASN is the ASN database the pins were resolved with (nil: none);
	// a new one means a new configuration (asnpins.go).
	ASN *geo.ASNTable
	// zonesWire are Zones by origin in wire form, for LookupWire;
	// unindexed: an owner name or origin could not be put in Owners or
	// zonesWire (owners.go).
	zonesWire map[string]*Zone
	unindexed bool
}

// Owner is a node and the zone it is served from.
type Owner struct {
	Zone *Zone
	Node *Node
}

// regionInfo is a region as the health table sees it.
type regionInfo struct {
	ID    string
	Addrs []netip.Addr // in the region's order: bit i of a health mask is addrs[i]
	Shed  *schema.Shed // load watermarks; nil: the region never sheds
}

// Zone is one served zone with its records pre-built.
type Zone struct {
	Name   string // origin, e.g. "gslb.example.test."
	Label  string // metric label: the zone without the trailing dot
	SOA    *dns.SOA
	NegSOA *dns.SOA // the SOA for negative answers: TTL = min(SOA TTL, minimum), RFC 2308
	Nodes  map[string]*Node
	Signed bool // the zone document says "dnssec": answers to DO queries must be signed
	// NegWire is NegSOA packed after its owner (negwire.go), for the fast
	// path's denials; its Wire is nil if it would not pack.
	NegWire NegWire
	// Counters are the zone's query counters for the fast path's denials,
	// which live outside the snapshot like a Name's (server/counters.go).
	Counters any // *server.zoneCounters
}

// Node is one owner name in a zone. Empty non-terminals exist as nodes with
// no data, so that they answer NODATA rather than NXDOMAIN (RFC 8020).
type Node struct {
	RRsets map[uint16][]dns.RR // static data by type, including apex SOA/NS and NS glue
	CNAME  *dns.CNAME
	GSLB   *Name // answers A and AAAA when set
}

// Build turns a validated State and a health View (nil: no health data)
// into a Snapshot. The State was checked key by key already; problems found
// here (a record the DNS library will not build) leave that record out and
// are returned as warnings, never as a failure of the whole snapshot.
func Build(st *schema.State, v *health.View) (*Snapshot, []error) {
	cfg, warns := BuildConfig(st)
	return &Snapshot{Revision: st.Revision, Config: cfg, Health: BuildHealth(cfg, v), State: st}, warns
}

// BuildConfig builds the configuration part of a snapshot from st; the
// errors are the records left out (the rest is still built).
func BuildConfig(st *schema.State) (*Config, []error) { return BuildConfigASN(st, nil) }

// BuildConfigASN is BuildConfig with the ASN database asn resolving the
// ASN pins (nil: they pin nothing).
func BuildConfigASN(st *schema.State, asn *geo.ASNTable) (*Config, []error) {
	c := &Config{Revision: st.ConfigRevision, Zones: make(map[string]*Zone, len(st.Zones)), RegionIdx: map[string]int{}}
	for _, id := range slices.Sorted(maps.Keys(st.Regions)) {
		c.RegionIdx[id] = len(c.Regions)
		c.Regions = append(c.Regions, &regionInfo{ID: id, Addrs: st.Regions[id].Region.Addrs, Shed: st.Regions[id].Region.Shed})
	}
	var warns []error
	answers := answerCache{} // shared by the names of every zone
	for _, zs := range st.Zones {
		z, w := buildZone(zs, st.Regions, c.RegionIdx, answers)
		warns = append(warns, w...)
		c.Zones[z.Name] = z
		for _, n := range z.Nodes {
			if n.GSLB != nil {
				c.Names = append(c.Names, n.GSLB)
			}
		}
	}
	c.ASN = asn
	attachPins(c, st, asn)
	c.indexOwners()
	return c, warns
}

func buildZone(zs *schema.ZoneState, regions map[string]*schema.RegionState, idx map[string]int, answers answerCache) (*Zone, []error) {
	origin := zs.Name + "."
	t := zs.Zone.SOA.WithDefaults()
	z := &Zone{Name: origin, Label: zs.Name, Nodes: map[string]*Node{}, Signed: zs.Zone.DNSSEC != nil}
	var warns []error

	var ns []dns.RR
	for i, n := range zs.Zone.NS {
		host := dns.Fqdn(strings.ToLower(n.Name))
		ns = append(ns, &dns.NS{Hdr: RRHeader(origin, dns.TypeNS, t.TTL), Ns: host})
		for _, a := range n.Addrs {
			z.node(host, origin).add(addrRR(host, a, t.TTL))
		}
		if i == 0 {
			z.SOA = &dns.SOA{
				Hdr: RRHeader(origin, dns.TypeSOA, t.TTL), Ns: host, Mbox: contact(zs),
				Serial: zs.Serial, Refresh: t.Refresh, Retry: t.Retry, Expire: t.Expire, Minttl: t.Minimum,
			}
		}
	}
	neg := *z.SOA
	neg.Hdr.Ttl = min(t.TTL, t.Minimum)
	z.NegSOA = &neg
	z.NegWire = negWire(origin, neg)
	apex := z.node(origin, origin)
	apex.RRsets[dns.TypeSOA] = []dns.RR{z.SOA}
	apex.RRsets[dns.TypeNS] = ns

	for label, types := range zs.Records {
		owner := schema.Owner(zs.Name, label)
		n := z.node(owner, origin)
		for typ, rec := range types {
			ttl := rec.TTL
			if ttl == 0 {
				ttl = schema.DefaultRecordTTL
			}
			rrs, err := staticRRs(owner, typ, ttl, rec.Values)
			if err != nil {
				warns = append(warns, fmt.Errorf("record %s %s: %w", owner, typ, err))
				continue
			}
			if typ == "CNAME" {
				n.CNAME = rrs[0].(*dns.CNAME)
				continue
			}
			// Static records replace glue of the same type at an NS name.
			n.RRsets[dns.StringToType[typ]] = rrs
		}
	}

	for label, nm := range zs.Names {
		owner := schema.Owner(zs.Name, label)
		z.node(owner, origin).GSLB = buildName(zs.Name, label, owner, nm, zs.Zone.TTL, regions, idx, answers, zs.Weights[label])
	}
	return z, warns
}

// node returns the node for owner, creating it and any empty non-terminals
// between it and the origin.
func (z *Zone) node(owner, origin string) *Node {
	n := z.Nodes[owner]
	if n != nil {
		return n
	}
	n = &Node{RRsets: map[uint16][]dns.RR{}}
	z.Nodes[owner] = n
	for name := owner; name != origin; {
		i := strings.IndexByte(name, '.')
		name = name[i+1:]
		if _, ok := z.Nodes[name]; ok || !dns.IsSubDomain(origin, name) {
			break
		}
		z.Nodes[name] = &Node{RRsets: map[uint16][]dns.RR{}}
	}
	return n
}

func (n *Node) add(rr dns.RR) {
	t := rr.Header().Rrtype
	n.RRsets[t] = append(n.RRsets[t], rr)
}

// RRHeader is the header of a class IN record.
func RRHeader(owner string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// addrRR builds an A or AAAA record.
func addrRR(owner string, a netip.Addr, ttl uint32) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: RRHeader(owner, dns.TypeA, ttl), A: net.IP(a.AsSlice())}
	}
	return &dns.AAAA{Hdr: RRHeader(owner, dns.TypeAAAA, ttl), AAAA: net.IP(a.AsSlice())}
}

func contact(zs *schema.ZoneState) string {
	if zs.Zone.Contact == "" {
		return "hostmaster." + zs.Name + "."
	}
	return dns.Fqdn(strings.ToLower(schema.ContactName(zs.Zone.Contact)))
}

// staticRRs builds a record set from validated zone-file values.
func staticRRs(owner, typ string, ttl uint32, values []string) ([]dns.RR, error) {
	t, ok := dns.StringToType[typ]
	if !ok {
		return nil, fmt.Errorf("unknown type %q", typ)
	}
	var rrs []dns.RR
	for _, v := range values {
		var rr dns.RR
		var err error
		switch t {
		case dns.TypeTXT:
			rr = &dns.TXT{Hdr: RRHeader(owner, t, ttl), Txt: splitTXT(v)}
		case dns.TypeCAA:
			// Built from its parts: in zone-file text a ';' would start a comment.
			var c dns.CAA
			c.Flag, c.Tag, c.Value, err = schema.ParseCAA(v)
			c.Hdr = RRHeader(owner, t, ttl)
			rr = &c
		default:
			// Targets are absolute whether or not the operator wrote the
			// trailing dot, so parse with the root as origin.
			rr, err = dns.NewRR(fmt.Sprintf("%s %d IN %s %s", owner, ttl, typ, absolute(t, v)))
		}
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", v, err)
		}
		if rr == nil {
			return nil, fmt.Errorf("value %q: %w", v, errors.New("empty record"))
		}
		rr.Header().Name = owner
		rrs = append(rrs, rr)
	}
	slices.SortFunc(rrs, func(a, b dns.RR) int { return strings.Compare(a.String(), b.String()) })
	return rrs, nil
}

// absolute adds the trailing dot to the host name at the end of a value for
// types whose data ends in one.
func absolute(t uint16, v string) string {
	switch t {
	case dns.TypeCNAME, dns.TypePTR, dns.TypeMX, dns.TypeSRV:
		return dns.Fqdn(strings.TrimSpace(v))
	}
	return v
}

// splitTXT cuts a value into character-strings of at most 255 bytes. The
// DNS library reads backslashes in TXT data as escapes, so the operator's
// literal text has its backslashes doubled.
func splitTXT(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, strings.ReplaceAll(v[:255], `\`, `\\`))
		v = v[255:]
	}
	return append(out, strings.ReplaceAll(v, `\`, `\\`))
}

// Match returns the zone that holds name: the longest zone suffix.
func (s *Snapshot) Match(name string) *Zone {
	for {
		if z := s.Config.Zones[name]; z != nil {
			return z
		}
		i := strings.IndexByte(name, '.')
		if i < 0 || i == len(name)-1 {
			return nil
		}
		name = name[i+1:]
	}
}

// Qualify turns a name into the FQDN of a name in one of our zones.
// A name without a trailing dot that is in none of the zones is taken as
// relative to the zone when there is only one.
func (s *Snapshot) Qualify(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	absolute := strings.HasSuffix(name, ".")
	name = dns.Fqdn(name)
	if name == "." {
		return "", errors.New("name is missing")
	}
	if s.Match(name) != nil {
		return name, nil
	}
	if len(s.Config.Zones) == 1 && !absolute {
		for origin := range s.Config.Zones {
			return name + origin, nil
		}
	}
	return "", fmt.Errorf("name %q is in none of the zones %v", name, slices.Sorted(maps.Keys(s.Config.Zones)))
}

// TableFor returns the ready table for g and qtype, or nil.
func (s *Snapshot) TableFor(g *Name, qtype uint16) *ScopeTable {
	if s.Scopes == nil {
		return nil
	}
	i := 0
	if qtype == dns.TypeAAAA {
		i = 1
	}
	return s.Scopes[g.CfgKey][i]
}

// Glue returns the addresses of in-zone name servers among the NS records.
func (z *Zone) Glue(ns []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range ns {
		host := rr.(*dns.NS).Ns
		if n := z.Nodes[host]; n != nil {
			out = append(out, n.RRsets[dns.TypeA]...)
			out = append(out, n.RRsets[dns.TypeAAAA]...)
		}
	}
	return out
}
