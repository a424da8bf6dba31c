package server

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
	Revision int64
	cfg      *config
	health   *healthTable
	state    *schema.State // what it was built from, for Status
	built    time.Time     // when it was swapped in
	// scopes holds the ready ECS scope tables, [A, AAAA], by the cfgKey of
	// the names they serve (names configured alike share them); names
	// without one use the GeoIP network (see scope.go).
	scopes map[uint64][2]*scopeTable
}

// config is the part of a snapshot derived from the configuration alone.
type config struct {
	revision  int64            // schema.State.ConfigRevision it was built from
	zones     map[string]*zone // by origin, lower case with the trailing dot
	regions   []*regionInfo    // every region; health tables align with this
	regionIdx map[string]int
	names     []*gslbName // every GSLB name of every zone
}

// regionInfo is a region as the health table sees it.
type regionInfo struct {
	id    string
	addrs []netip.Addr // in the region's order: bit i of a health mask is addrs[i]
}

// zone is one served zone with its records pre-built.
type zone struct {
	name   string // origin, e.g. "gslb.example.test."
	label  string // metric label: the zone without the trailing dot
	soa    *dns.SOA
	negSOA *dns.SOA // the SOA for negative answers: TTL = min(SOA TTL, minimum), RFC 2308
	nodes  map[string]*node
}

// node is one owner name in a zone. Empty non-terminals exist as nodes with
// no data, so that they answer NODATA rather than NXDOMAIN (RFC 8020).
type node struct {
	rrsets map[uint16][]dns.RR // static data by type, including apex SOA/NS and NS glue
	cname  *dns.CNAME
	gslb   *gslbName // answers A and AAAA when set
}

// Build turns a validated State and a health View (nil: no health data)
// into a Snapshot. The State was checked key by key already; problems found
// here (a record the DNS library will not build) leave that record out and
// are returned as warnings, never as a failure of the whole snapshot.
func Build(st *schema.State, v *health.View) (*Snapshot, []error) {
	cfg, warns := buildConfig(st)
	return &Snapshot{Revision: st.Revision, cfg: cfg, health: buildHealth(cfg, v), state: st}, warns
}

func buildConfig(st *schema.State) (*config, []error) {
	c := &config{revision: st.ConfigRevision, zones: make(map[string]*zone, len(st.Zones)), regionIdx: map[string]int{}}
	for _, id := range slices.Sorted(maps.Keys(st.Regions)) {
		c.regionIdx[id] = len(c.regions)
		c.regions = append(c.regions, &regionInfo{id: id, addrs: st.Regions[id].Region.Addrs})
	}
	var warns []error
	answers := answerCache{} // shared by the names of every zone
	for _, zs := range st.Zones {
		z, w := buildZone(zs, st.Regions, c.regionIdx, answers)
		warns = append(warns, w...)
		c.zones[z.name] = z
		for _, n := range z.nodes {
			if n.gslb != nil {
				c.names = append(c.names, n.gslb)
			}
		}
	}
	return c, warns
}

func buildZone(zs *schema.ZoneState, regions map[string]*schema.RegionState, idx map[string]int, answers answerCache) (*zone, []error) {
	origin := zs.Name + "."
	t := zs.Zone.SOA.WithDefaults()
	z := &zone{name: origin, label: zs.Name, nodes: map[string]*node{}}
	var warns []error

	var ns []dns.RR
	for i, n := range zs.Zone.NS {
		host := dns.Fqdn(strings.ToLower(n.Name))
		ns = append(ns, &dns.NS{Hdr: hdr(origin, dns.TypeNS, t.TTL), Ns: host})
		for _, a := range n.Addrs {
			z.node(host, origin).add(addrRR(host, a, t.TTL))
		}
		if i == 0 {
			z.soa = &dns.SOA{
				Hdr: hdr(origin, dns.TypeSOA, t.TTL), Ns: host, Mbox: contact(zs),
				Serial: zs.Serial, Refresh: t.Refresh, Retry: t.Retry, Expire: t.Expire, Minttl: t.Minimum,
			}
		}
	}
	neg := *z.soa
	neg.Hdr.Ttl = min(t.TTL, t.Minimum)
	z.negSOA = &neg
	apex := z.node(origin, origin)
	apex.rrsets[dns.TypeSOA] = []dns.RR{z.soa}
	apex.rrsets[dns.TypeNS] = ns

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
				n.cname = rrs[0].(*dns.CNAME)
				continue
			}
			// Static records replace glue of the same type at an NS name.
			n.rrsets[dns.StringToType[typ]] = rrs
		}
	}

	for label, nm := range zs.Names {
		owner := schema.Owner(zs.Name, label)
		z.node(owner, origin).gslb = buildName(zs.Name, label, owner, nm, zs.Zone.TTL, regions, idx, answers)
	}
	return z, warns
}

// node returns the node for owner, creating it and any empty non-terminals
// between it and the origin.
func (z *zone) node(owner, origin string) *node {
	n := z.nodes[owner]
	if n != nil {
		return n
	}
	n = &node{rrsets: map[uint16][]dns.RR{}}
	z.nodes[owner] = n
	for name := owner; name != origin; {
		i := strings.IndexByte(name, '.')
		name = name[i+1:]
		if _, ok := z.nodes[name]; ok || !dns.IsSubDomain(origin, name) {
			break
		}
		z.nodes[name] = &node{rrsets: map[uint16][]dns.RR{}}
	}
	return n
}

func (n *node) add(rr dns.RR) {
	t := rr.Header().Rrtype
	n.rrsets[t] = append(n.rrsets[t], rr)
}

func hdr(owner string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// addrRR builds an A or AAAA record.
func addrRR(owner string, a netip.Addr, ttl uint32) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: hdr(owner, dns.TypeA, ttl), A: net.IP(a.AsSlice())}
	}
	return &dns.AAAA{Hdr: hdr(owner, dns.TypeAAAA, ttl), AAAA: net.IP(a.AsSlice())}
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
			rr = &dns.TXT{Hdr: hdr(owner, t, ttl), Txt: splitTXT(v)}
		case dns.TypeCAA:
			// Built from its parts: in zone-file text a ';' would start a comment.
			var c dns.CAA
			c.Flag, c.Tag, c.Value, err = schema.ParseCAA(v)
			c.Hdr = hdr(owner, t, ttl)
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

// match returns the zone that holds name: the longest zone suffix.
func (s *Snapshot) match(name string) *zone {
	for {
		if z := s.cfg.zones[name]; z != nil {
			return z
		}
		i := strings.IndexByte(name, '.')
		if i < 0 || i == len(name)-1 {
			return nil
		}
		name = name[i+1:]
	}
}

// matchBytes is match for a name held in bytes, without allocating.
func (s *Snapshot) matchBytes(name []byte) *zone {
	for {
		if z := s.cfg.zones[string(name)]; z != nil {
			return z
		}
		i := 0
		for i < len(name) && name[i] != '.' {
			i++
		}
		if i >= len(name)-1 {
			return nil
		}
		name = name[i+1:]
	}
}

// qualify turns a name into the FQDN of a name in one of our zones.
// A name without a trailing dot that is in none of the zones is taken as
// relative to the zone when there is only one.
func (s *Snapshot) qualify(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	absolute := strings.HasSuffix(name, ".")
	name = dns.Fqdn(name)
	if name == "." {
		return "", errors.New("name is missing")
	}
	if s.match(name) != nil {
		return name, nil
	}
	if len(s.cfg.zones) == 1 && !absolute {
		for origin := range s.cfg.zones {
			return name + origin, nil
		}
	}
	return "", fmt.Errorf("name %q is in none of the zones %v", name, slices.Sorted(maps.Keys(s.cfg.zones)))
}

// scopeTable returns the ready table for g and qtype, or nil.
func (s *Snapshot) scopeTable(g *gslbName, qtype uint16) *scopeTable {
	if s.scopes == nil {
		return nil
	}
	i := 0
	if qtype == dns.TypeAAAA {
		i = 1
	}
	return s.scopes[g.cfgKey][i]
}

// glue returns the addresses of in-zone name servers among the NS records.
func (z *zone) glue(ns []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range ns {
		host := rr.(*dns.NS).Ns
		if n := z.nodes[host]; n != nil {
			out = append(out, n.rrsets[dns.TypeA]...)
			out = append(out, n.rrsets[dns.TypeAAAA]...)
		}
	}
	return out
}
