package server

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/store/schema"
	"github.com/glb-dns/glb/store/schema/yamlconf"
)

const (
	testZone   = "gslb.example.test."
	testDB     = "../testdata/geoip/glb-test-city.mmdb"
	testConfig = "../testdata/dev/config.json"
)

// devState builds a State from the dev configuration, with edits applied on
// top (a nil value deletes the key).
func devState(t testing.TB, edits map[string]any) *schema.State {
	t.Helper()
	raw, err := os.ReadFile(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	// The file is in glbctl's layout; its keys, relative to the prefix.
	conf := yamlconf.Parse(raw, "")
	if len(conf.Problems) > 0 {
		t.Fatal(conf.Problems)
	}
	kv := conf.KVs()
	b := schema.NewBuilder(schema.DefaultPrefix)
	rev := int64(1)
	put := func(k string, v json.RawMessage) {
		var s string
		if json.Unmarshal(v, &s) == nil {
			v = []byte(s)
		}
		rev++
		b.Put(schema.DefaultPrefix+k, v, rev)
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rev++
		b.Put(schema.DefaultPrefix+k, []byte(kv[k]), rev)
	}
	for k, v := range edits {
		if v == nil {
			b.Delete(schema.DefaultPrefix+k, rev)
			continue
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		put(k, j)
	}
	st, _ := b.State(rev)
	return st
}

func openTestDB(t testing.TB) *geo.DB {
	t.Helper()
	db, err := geo.Open(filepath.FromSlash(testDB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newTestHandler returns a handler serving the dev configuration with
// deterministic randomness: rand always returns 0.
func newTestHandler(t testing.TB, edits map[string]any) (*Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := NewHandler(Options{Geo: openTestDB(t), Metrics: NewMetrics(reg), Rand: func(int) int { return 0 }})
	applyNow(h, devState(t, edits))
	return h, reg
}

// applyNow applies st and builds the ECS scope tables at once, as the
// handler's Run would shortly after.
func applyNow(h *Handler, st *schema.State) {
	h.Apply(st)
	for range 3 { // a build can queue another when the partition is new
		h.buildScopes(h.geo.(Partitioner))
	}
}

// recorder is a dns.ResponseWriter that keeps the reply, for handler tests.
type recorder struct {
	remote net.Addr
	msg    *dns.Msg
}

func (r *recorder) LocalAddr() net.Addr       { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (r *recorder) RemoteAddr() net.Addr      { return r.remote }
func (r *recorder) WriteMsg(m *dns.Msg) error { r.msg = m; return nil }
func (r *recorder) Write(b []byte) (int, error) {
	r.msg = new(dns.Msg)
	return len(b), r.msg.Unpack(b)
}
func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

// ask sends one query through the handler from remote (UDP) and returns the
// reply after a pack/unpack round trip, as a client would see it.
func ask(t testing.TB, h *Handler, remote string, q *dns.Msg) *dns.Msg {
	t.Helper()
	rec := &recorder{remote: &net.UDPAddr{IP: net.ParseIP(remote), Port: 40000}}
	h.ServeDNS(rec, q)
	if rec.msg == nil {
		t.Fatal("no reply written")
	}
	wire, err := rec.msg.Pack()
	if err != nil {
		t.Fatalf("pack reply: %v", err)
	}
	out := new(dns.Msg)
	if err := out.Unpack(wire); err != nil {
		t.Fatalf("unpack reply: %v", err)
	}
	return out
}

// mkQuery builds a query; ecs is "addr/len" or "".
func mkQuery(name string, qtype uint16, ecs string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if ecs != "" {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, ecsOption(ecs))
	}
	return m
}

func ecsOption(s string) *dns.EDNS0_SUBNET {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	bits, _ := n.Mask.Size()
	e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(bits), Address: ip}
	if ip.To4() != nil {
		e.Family = 1
		e.Address = ip.To4()
	} else {
		e.Family = 2
	}
	return e
}

// rrText returns the records as sorted zone-file lines with tabs collapsed.
func rrText(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, normalize(rr.String()))
	}
	sort.Strings(out)
	return out
}

func normalize(s string) string {
	f := []byte{}
	space := false
	for _, c := range []byte(s) {
		if c == '\t' || c == ' ' {
			space = true
			continue
		}
		if space && len(f) > 0 {
			f = append(f, ' ')
		}
		space = false
		f = append(f, c)
	}
	return string(f)
}

// replyScope returns the ECS scope of a reply, or -1 without ECS.
func replyScope(m *dns.Msg) int {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return int(s.SourceScope)
			}
		}
	}
	return -1
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
