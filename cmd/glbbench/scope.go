package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
)

// notRoutable are the IPv4 and IPv6 ranges a uniformly random client subnet
// is never drawn from: private, loopback, link-local, shared, documentation,
// benchmarking, multicast and reserved space (RFC 6890). No resolver sends
// them as ECS, and neither server locates them.
var notRoutable = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("192.88.99.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("224.0.0.0/3"),
	netip.MustParsePrefix("2001::/23"), // IETF protocol assignments, Teredo, ORCHIDv2
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"), // 6to4: an IPv4 client in disguise
	netip.MustParsePrefix("3fff::/20"),
}

// randomClientSubnet is a uniformly random routable IPv4 /24 or, with v6,
// an IPv6 /56 inside global unicast space (2000::/3).
func randomClientSubnet(r *rand.Rand, v6 bool) netip.Prefix {
	for {
		var p netip.Prefix
		if v6 {
			var b [16]byte
			hi := r.Uint64()&(1<<61-1) | 1<<61 // 001 in the top three bits
			for i := range 7 {
				b[i] = byte(hi >> (56 - 8*i))
			}
			p = netip.PrefixFrom(netip.AddrFrom16(b), 56)
		} else {
			u := r.Uint32() &^ 0xff
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), 0}), 24)
		}
		if !slices.ContainsFunc(notRoutable, func(n netip.Prefix) bool { return n.Overlaps(p) }) {
			return p
		}
	}
}

// scopeAnswer is what one server said to one client subnet: the ECS scope
// prefix length and the region of the first address of the answer ("" for
// an answer with no address, "?" for an address of no known region).
type scopeAnswer struct {
	scope  int
	region string
}

// ask sends name with the subnet as ECS (A for IPv4, AAAA for IPv6) and
// reads the scope and the region from the reply.
func (x *exchanger) ask(name string, subnet netip.Prefix, regions map[netip.Addr]string, timeout time.Duration) (scopeAnswer, error) {
	qtype := dns.TypeA
	if subnet.Addr().Is6() {
		qtype = dns.TypeAAAA
	}
	m, err := x.exchange(name, qtype, subnet, timeout)
	if err != nil {
		return scopeAnswer{}, err
	}
	if m.Rcode != dns.RcodeSuccess {
		return scopeAnswer{}, fmt.Errorf("%s %s: rcode %s", name, subnet, dns.RcodeToString[m.Rcode])
	}
	a := scopeAnswer{scope: -1}
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				a.scope = int(s.SourceScope)
			}
		}
	}
	if a.scope < 0 {
		return scopeAnswer{}, fmt.Errorf("%s %s: no ECS option in the reply", name, subnet)
	}
	for _, rr := range m.Answer {
		var ip netip.Addr
		switch rr := rr.(type) {
		case *dns.A:
			ip, _ = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			ip, _ = netip.AddrFromSlice(rr.AAAA)
		default:
			continue
		}
		a.region = "?"
		if r, ok := regions[ip]; ok {
			a.region = r
		}
		break
	}
	return a, nil
}

// readRegions reads "address region" lines (deploy/loadtest/run.sh's
// addr-region.txt).
func readRegions(path string) (map[netip.Addr]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[netip.Addr]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s: %q: want \"address region\"", path, sc.Text())
		}
		ip, err := netip.ParseAddr(fields[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[ip] = fields[1]
	}
	return out, sc.Err()
}

// parseNamed parses "label=name,label=name".
func parseNamed(s string) ([][2]string, error) {
	var out [][2]string
	for part := range strings.SplitSeq(s, ",") {
		label, name, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || label == "" || name == "" {
			return nil, fmt.Errorf("%q: want label=name", part)
		}
		out = append(out, [2]string{label, name})
	}
	return out, nil
}

// scopeSample is one set of client subnets of one family.
type scopeSample struct {
	kind    string // "random" or "located"
	v6      bool
	subnets []netip.Prefix
}

func (s scopeSample) family() string {
	if s.v6 {
		return "IPv6 /56"
	}
	return "IPv4 /24"
}

// drawSamples draws n uniformly random routable subnets per family, and n
// more per family whose address the database locates (drawn the same way,
// keeping only the located ones, so uniform over located address space).
// The located draw gives up after 20,000 tries per subnet wanted.
func drawSamples(db *geo.DB, n int, seed uint64) []scopeSample {
	r := rand.New(rand.NewPCG(seed, 0x73636f7065)) // "scope"
	var out []scopeSample
	for _, v6 := range []bool{false, true} {
		s := scopeSample{kind: "random", v6: v6}
		for range n {
			s.subnets = append(s.subnets, randomClientSubnet(r, v6))
		}
		out = append(out, s)
	}
	for _, v6 := range []bool{false, true} {
		s := scopeSample{kind: "located", v6: v6}
		for try := 0; len(s.subnets) < n && try < 20000*n; try++ {
			p := randomClientSubnet(r, v6)
			if _, _, found := db.Lookup(p.Addr()); found {
				s.subnets = append(s.subnets, p)
			}
		}
		out = append(out, s)
	}
	return out
}

// scopeRow sums the comparison of one glbd name with gdnsd over one sample.
type scopeRow struct {
	sample, family, label    string
	n, asWide, wider         int
	narrower                 int
	regionAgree, regionKnown int
	glb, gdnsd               []float64
}

func (r *scopeRow) add(glb, gd scopeAnswer) {
	r.n++
	switch {
	case glb.scope < gd.scope:
		r.wider++
		r.asWide++
	case glb.scope == gd.scope:
		r.asWide++
	default:
		r.narrower++
	}
	r.glb = append(r.glb, float64(glb.scope))
	r.gdnsd = append(r.gdnsd, float64(gd.scope))
	if gd.region != "" && gd.region != "?" {
		r.regionKnown++
		if glb.region == gd.region {
			r.regionAgree++
		}
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return percentile(s, 50)
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func writeScopeTable(w io.Writer, rows []*scopeRow) {
	fmt.Fprintf(w, "%-8s %-8s %-8s %6s %9s %6s %9s %12s %11s %13s\n",
		"sample", "family", "glb", "n", "as-wide%", "wider", "narrower", "region-agree", "median-glb", "median-gdnsd")
	for _, r := range rows {
		fmt.Fprintf(w, "%-8s %-8s %-8s %6d %8.2f%% %6d %9d %11.1f%% %11.0f %13.0f\n",
			r.sample, strings.ReplaceAll(r.family, " ", ""), r.label, r.n, pct(r.asWide, r.n), r.wider, r.narrower,
			pct(r.regionAgree, r.regionKnown), median(r.glb), median(r.gdnsd))
	}
}

// scopeCompare sends the same client subnets with ECS to glbd and gdnsd and
// compares the ECS scope prefix length each returns, and the region.
func scopeCompare(args []string) error {
	fs := flag.NewFlagSet("scope", flag.ContinueOnError)
	glbdAddr := fs.String("glbd", "", "glbd DNS address, ip:port on loopback (required)")
	gdnsdAddr := fs.String("gdnsd", "", "gdnsd DNS address, ip:port on loopback (required)")
	glbNames := fs.String("glb-names", "tier=www.gslb.example.test,nearest=near.gslb.example.test",
		"label=name pairs, comma-separated: the glbd names compared, each with -gdnsd-name")
	gdnsdName := fs.String("gdnsd-name", "www.gslb.example.test", "the name asked of gdnsd")
	regionsPath := fs.String("regions", "", `file of "address region" lines naming the region of each answer address (required)`)
	dbPath := fs.String("geoip", "", "the City database both servers use, to draw the located sample (required)")
	n := fs.Int("n", 2000, "client subnets per sample and family (1..1000000)")
	seed := fs.Uint64("seed", 1, "random seed of the samples")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for each reply")
	detail := fs.String("detail", "", "write one tab-separated line per subnet and glbd name to this file: sample, subnet, the database network of its address, gdnsd scope and region, label, glbd scope and region")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *glbdAddr == "" || *gdnsdAddr == "" || *regionsPath == "" || *dbPath == "" {
		return errors.New("-glbd, -gdnsd, -regions and -geoip are required")
	}
	if *n < 1 || *n > 1000000 {
		return fmt.Errorf("-n %d: want 1..1000000", *n)
	}
	names, err := parseNamed(*glbNames)
	if err != nil {
		return fmt.Errorf("-glb-names: %w", err)
	}
	regions, err := readRegions(*regionsPath)
	if err != nil {
		return fmt.Errorf("-regions: %w", err)
	}
	db, err := geo.Open(*dbPath)
	if err != nil {
		return fmt.Errorf("-geoip: %w", err)
	}
	defer db.Close()
	glbd, err := newExchanger(*glbdAddr)
	if err != nil {
		return fmt.Errorf("-glbd: %w", err)
	}
	defer glbd.Close()
	gdnsd, err := newExchanger(*gdnsdAddr)
	if err != nil {
		return fmt.Errorf("-gdnsd: %w", err)
	}
	defer gdnsd.Close()
	var dw *bufio.Writer
	if *detail != "" {
		f, err := os.Create(*detail)
		if err != nil {
			return fmt.Errorf("-detail: %w", err)
		}
		defer f.Close()
		dw = bufio.NewWriter(f)
		defer dw.Flush()
		fmt.Fprintln(dw, "sample\tsubnet\tdb_network\tgdnsd_scope\tgdnsd_region\tglb\tglb_scope\tglb_region")
	}

	var rows []*scopeRow
	for _, s := range drawSamples(db, *n, *seed) {
		if len(s.subnets) < *n {
			fmt.Fprintf(os.Stderr, "glbbench scope: only %d %s %s subnets found\n", len(s.subnets), s.kind, s.family())
		}
		byLabel := make([]*scopeRow, len(names))
		for i, nm := range names {
			byLabel[i] = &scopeRow{sample: s.kind, family: s.family(), label: nm[0]}
		}
		for _, p := range s.subnets {
			gd, err := gdnsd.ask(*gdnsdName, p, regions, *timeout)
			if err != nil {
				return fmt.Errorf("gdnsd: %w", err)
			}
			_, network, _ := db.Lookup(p.Addr())
			for i, nm := range names {
				g, err := glbd.ask(nm[1], p, regions, *timeout)
				if err != nil {
					return fmt.Errorf("glbd: %w", err)
				}
				byLabel[i].add(g, gd)
				if dw != nil {
					fmt.Fprintf(dw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\n", s.kind, p, network, gd.scope, gd.region, nm[0], g.scope, g.region)
				}
			}
		}
		rows = append(rows, byLabel...)
	}
	writeScopeTable(os.Stdout, rows)
	return nil
}
