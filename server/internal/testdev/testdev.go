// Package testdev gives the tests of server and its packages the dev
// configuration as a schema.State, the test GeoIP database and queries, so
// that the pipeline's tests and the transport's build them one way. It
// imports no package of server, so server's own tests can use it.
package testdev

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/store/schema"
	"github.com/glb-dns/glb/store/schema/yamlconf"
)

// Zone is the dev configuration's zone.
const Zone = "gslb.example.test."

// root is the repository's root, found from this file's path, so the
// fixtures are found from any package's test directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// State builds a State from the dev configuration, with edits applied on
// top (a nil value deletes the key).
func State(t testing.TB, edits map[string]any) *schema.State {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root(), "testdata", "dev", "config.json"))
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

// OpenDB opens the test GeoIP database, closed when the test ends.
func OpenDB(t testing.TB) *geo.DB {
	t.Helper()
	db, err := geo.Open(filepath.Join(root(), "testdata", "geoip", "glb-test-city.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Query builds a query; ecs is "addr/len" or "".
func Query(name string, qtype uint16, ecs string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if ecs != "" {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, ECSOption(ecs))
	}
	return m
}

// ECSOption is the ECS option of a client in network s ("addr/len").
func ECSOption(s string) *dns.EDNS0_SUBNET {
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

// WaitUntil polls cond until it holds, failing the test after d.
func WaitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
	}
}

// RRText returns the records as sorted zone-file lines with tabs collapsed.
func RRText(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, normalizeSpace(rr.String()))
	}
	sort.Strings(out)
	return out
}

func normalizeSpace(s string) string {
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

// ReplyScope returns the ECS scope of a reply, or -1 without ECS.
func ReplyScope(m *dns.Msg) int {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return int(s.SourceScope)
			}
		}
	}
	return -1
}

// Exchange sends q to addr over network ("udp" or "tcp") and returns the
// reply, failing the test when there is none.
func Exchange(t testing.TB, network, addr string, q *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	m, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s exchange: %v", network, err)
	}
	return m
}
