package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// logBuffer collects glbd's JSON log lines for a test to read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// rejectionLogged reports whether a "rejected etcd key" line names key and
// gives a reason.
func (l *logBuffer) rejectionLogged(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	var want strings.Builder // slog writes each invalid UTF-8 byte as U+FFFD
	for i := 0; i < len(key); {
		r, n := utf8.DecodeRuneInString(key[i:])
		want.WriteRune(r)
		i += n
	}
	for line := range strings.Lines(l.b.String()) {
		var rec struct{ Msg, Key, Reason string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "rejected etcd key" && rec.Key == want.String() && rec.Reason != "" {
			return true
		}
	}
	return false
}

// labelledValue sums the samples of a counter or gauge family whose labels
// include all of labels.
func labelledValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// badValue is one bad key or value of the etcd contract. key is relative
// to /glb/ unless it starts with "/"; value nil means delete the key. kind
// is the glb_store_rejections_total label the rejection is counted under,
// "" when the key is outside the prefix and glbd must not even see it.
type badValue struct {
	name  string
	key   string
	value []byte
	kind  string
}

func badValues() []badValue {
	region := func(s string) []byte {
		return []byte(`{"lat": 39.04, "lon": -77.49, "addrs": ["192.0.2.10", "192.0.2.11"]` + s + `}`)
	}
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	huge := region(`, "country": "` + strings.Repeat("U", 1<<20) + `"`)
	const ue, w, z, www = "regions/us-east", "regions/us-east/weight", "zones/gslb.example.test", "zones/gslb.example.test/names/www"
	b := func(s string) []byte { return []byte(s) }
	return []badValue{
		{"region bad JSON", ue, b(`{"lat": 39.04, "lon": -77.49, "addrs": [`), "region"},
		{"region two JSON documents", ue, b(`{"lat": 1, "lon": 2, "addrs": ["192.0.2.1"]} {}`), "region"},
		{"region JSON null", ue, b(`null`), "region"},
		{"region JSON array", ue, b(`["192.0.2.10"]`), "region"},
		{"region lat as string", ue, b(`{"lat": "39.04", "lon": -77.49, "addrs": ["192.0.2.10"]}`), "region"},
		{"region lat 91", ue, b(`{"lat": 91, "lon": -77.49, "addrs": ["192.0.2.10"]}`), "region"},
		{"region lon -181", ue, b(`{"lat": 39, "lon": -181, "addrs": ["192.0.2.10"]}`), "region"},
		{"region lat 1e400", ue, b(`{"lat": 1e400, "lon": 0, "addrs": ["192.0.2.10"]}`), "region"},
		{"region unknown field", ue, region(`, "adresses": []`), "region"},
		{"region addrs as string", ue, b(`{"lat": 39, "lon": -77, "addrs": "192.0.2.10"}`), "region"},
		{"region invalid address", ue, b(`{"lat": 39, "lon": -77, "addrs": ["192.0.2.300"]}`), "region"},
		{"region address with port", ue, b(`{"lat": 39, "lon": -77, "addrs": ["192.0.2.10:80"]}`), "region"},
		{"region duplicate addresses", ue, b(`{"lat": 39, "lon": -77, "addrs": ["192.0.2.10", "192.0.2.10"]}`), "region"},
		{"region empty address list", ue, b(`{"lat": 39, "lon": -77, "addrs": []}`), "region"},
		{"region check port 70000", ue, region(`, "check": {"type": "tcp", "port": 70000}`), "region"},
		{"region check type unknown", ue, region(`, "check": {"type": "icmp"}`), "region"},
		{"region check interval not a duration", ue, region(`, "check": {"type": "http", "interval": "often"}`), "region"},
		{"region check rise negative", ue, region(`, "check": {"type": "http", "rise": -1}`), "region"},
		{"region NUL byte in address", ue, b("{\"lat\": 39, \"lon\": -77, \"addrs\": [\"192.0.2.10\x00\"]}"), "region"},
		{"region not UTF-8", ue, b("{\"lat\": 39, \"lon\": -77, \"addrs\": [\"\xff\xfe\"]}"), "region"},
		{"region deeply nested JSON", ue, b(deep), "region"},
		{"region huge value 1 MB", ue, huge, "region"},
		{"weight word", w, b("abc"), "weight"},
		{"weight negative", w, b("-5"), "weight"},
		{"weight 1001", w, b("1001"), "weight"},
		{"weight fraction", w, b("50.5"), "weight"},
		{"weight empty", w, b(""), "weight"},
		{"weight overflows int64", w, b("99999999999999999999"), "weight"},
		{"weight JSON string", w, b(`"100"`), "weight"},
		{"zone bad JSON", z, b(`{"ns": [`), "zone"},
		{"zone no name servers", z, b(`{"ns": []}`), "zone"},
		{"zone ns as string", z, b(`{"ns": "ns1.example.net"}`), "zone"},
		{"zone glue not an address", z, b(`{"ns": [{"name": "ns1.gslb.example.test", "addrs": ["not-an-ip"]}]}`), "zone"},
		{"zone ttl negative", z, b(`{"ns": [{"name": "ns2.example.net"}], "ttl": -30}`), "zone"},
		{"zone unknown field", z, b(`{"ns": [{"name": "ns2.example.net"}], "nameservers": []}`), "zone"},
		{"name empty region list", www, b(`{"regions": [], "policy": "geo"}`), "name"},
		{"name missing region", www, b(`{"regions": ["us-east", "mars"], "policy": "geo"}`), "name"},
		{"name unknown policy", www, b(`{"regions": ["us-east"], "policy": "nearest"}`), "name"},
		{"name ttl as string", www, b(`{"regions": ["us-east"], "ttl": "30"}`), "name"},
		{"name ttl 2^32", www, b(`{"regions": ["us-east"], "ttl": 4294967296}`), "name"},
		{"name answers negative", www, b(`{"regions": ["us-east"], "answers": -1}`), "name"},
		{"name regions null", www, b(`{"regions": null}`), "name"},
		{"name unknown field", www, b(`{"regions": ["us-east"], "polcy": "geo"}`), "name"},
		{"record A holds IPv6", "zones/gslb.example.test/records/mail/A", b(`{"values": ["2001:db8::25"]}`), "record"},
		{"record AAAA holds IPv4", "zones/gslb.example.test/records/mail6/AAAA", b(`{"values": ["192.0.2.26"]}`), "record"},
		{"record MX without preference", "zones/gslb.example.test/records/@/MX", b(`{"values": ["mail.gslb.example.test."]}`), "record"},
		{"record two CNAMEs", "zones/gslb.example.test/records/docs/CNAME", b(`{"values": ["a.example.", "b.example."]}`), "record"},
		{"record values not a list", "zones/gslb.example.test/records/mail/A", b(`{"values": "192.0.2.25"}`), "record"},
		{"prober bad JSON", "probers/p-bad", b(`{"lat":`), "prober"},
		{"health report up as string", "health/us-east/192.0.2.10/p-bad", b(`{"up": "yes", "time": "2026-01-01T00:00:00Z"}`), "health"},
		{"key not UTF-8", "regions/\xff\xfe", region(""), "unknown"},
		{"key outside the schema", "nonsense", b(`{}`), "unknown"},
		{"key below a region", "regions/us-east/extra/deep", b(`1`), "unknown"},
		{"key upper-case zone", "zones/GSLB.example.test", b(`{"ns": [{"name": "ns2.example.net"}]}`), "zone"},
		{"key outside the prefix", "/glbx/regions/us-east", b(`garbage`), ""},
		{"delete a zone its names reference", "zones/two.example.test", nil, "name"},
	}
}

// TestBadEtcdValues puts each bad value of badValues into etcd under a
// running glbd and checks that it is rejected with the key and reason
// logged and counted, that every answer stays what it was (the previous
// value in force, nothing else affected), and, after the good value is
// restored, that nothing stays rejected.
func TestBadEtcdValues(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd")
	}
	srv := seededEtcd(t)
	cli := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A second zone, so that deleting it shows the first one unaffected.
	for k, v := range map[string]string{
		"/glb/zones/two.example.test":           `{"ns": [{"name": "ns2.example.net"}]}`,
		"/glb/zones/two.example.test/names/www": `{"regions": ["eu-west"]}`,
	} {
		if _, err := cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}

	logs := &logBuffer{}
	runCtx, stop := context.WithCancel(context.Background())
	a, err := newApp(runCtx, Config{Etcd: srv.Endpoints(), DNSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", GeoIP: testDB, Prefix: "/glb/"},
		slog.New(slog.NewJSONHandler(logs, nil)), io.Discard)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("glbd Run: %v", err)
		}
	})
	waitReady(t, a)

	// What clients get, which no bad value may change.
	probes := []struct {
		name  string
		qtype uint16
		ecs   string
	}{
		{"www." + zone, dns.TypeA, "67.43.156.0/24"}, // Ashburn: us-east
		{"www." + zone, dns.TypeAAAA, "67.43.156.0/24"},
		{"www." + zone, dns.TypeA, "81.2.69.0/24"}, // London: eu-west
		{"www." + zone, dns.TypeAAAA, "81.2.69.0/24"},
		{"mail." + zone, dns.TypeA, ""},
		{"docs." + zone, dns.TypeA, "81.2.69.0/24"}, // CNAME to www
		{zone, dns.TypeMX, ""},
		{"www.two.example.test.", dns.TypeA, "81.2.69.0/24"},
	}
	answers := func(network string) []string {
		var out []string
		for _, p := range probes {
			m := ask(t, network, a.dnsAddr(), p.name, p.qtype, p.ecs)
			rrs := make([]string, 0, len(m.Answer))
			for _, rr := range m.Answer {
				rrs = append(rrs, rr.String())
			}
			slices.Sort(rrs)
			out = append(out, p.name+" "+dns.TypeToString[p.qtype]+" "+dns.RcodeToString[m.Rcode]+" "+strings.Join(rrs, " | "))
		}
		return out
	}
	baseline := answers("udp")
	if !strings.Contains(baseline[0], "192.0.2.10") || !strings.Contains(baseline[7], "198.51.100.10") {
		t.Fatalf("unexpected baseline answers:\n%s", strings.Join(baseline, "\n"))
	}
	rejectedNow := func() float64 { return labelledValue(t, a.reg, "glb_store_rejected_keys", nil) }
	if n := rejectedNow(); n != 0 {
		t.Fatalf("%v keys rejected before any bad value", n)
	}

	for _, bv := range badValues() {
		t.Run(bv.name, func(t *testing.T) {
			key := bv.key
			if !strings.HasPrefix(key, "/") {
				key = "/glb/" + key
			}
			before, err := cli.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			counted := labelledValue(t, a.reg, "glb_store_rejections_total", map[string]string{"kind": bv.kind})
			// Restore whatever happens, and then wait until nothing is
			// rejected and the answers are back.
			defer func() {
				if len(before.Kvs) == 1 {
					put(ctx, t, cli, key, before.Kvs[0].Value)
				} else {
					put(ctx, t, cli, key, nil)
				}
				waitFor(t, 10*time.Second, "no key rejected after restoring", func() bool { return rejectedNow() == 0 })
				compareAnswers(t, answers("tcp"), baseline)
			}()
			put(ctx, t, cli, key, bv.value)

			if bv.kind == "" {
				// Never seen: once glbd is past a later write under the
				// prefix, nothing may be rejected.
				rev := put(ctx, t, cli, "/glb/regions/us-east/weight", []byte("100"))
				waitFor(t, 10*time.Second, "revision", func() bool { return labelledValue(t, a.reg, "glb_store_revision", nil) >= float64(rev) })
				if n := rejectedNow(); n != 0 {
					t.Errorf("a key outside the prefix left %v keys rejected", n)
				}
			} else {
				waitFor(t, 10*time.Second, "rejection counted under kind "+bv.kind, func() bool {
					return labelledValue(t, a.reg, "glb_store_rejections_total", map[string]string{"kind": bv.kind}) > counted
				})
				wantLogged := key
				if bv.value == nil { // the zone is gone: its names are what is rejected
					wantLogged = key + "/names/www"
				}
				if !logs.rejectionLogged(wantLogged) {
					t.Errorf("no log line names %q with a reason", wantLogged)
				}
			}
			got := answers("udp")
			if bv.value == nil {
				// A deleted zone is not served any more, by design; the
				// other zone is untouched.
				if !strings.Contains(got[7], "REFUSED") {
					t.Errorf("deleted zone still answered: %s", got[7])
				}
				compareAnswers(t, got[:7], baseline[:7])
			} else {
				compareAnswers(t, got, baseline)
			}

		})
	}
}

// put writes value (nil: deletes the key) and returns the revision.
func put(ctx context.Context, t *testing.T, cli *clientv3.Client, key string, value []byte) int64 {
	t.Helper()
	if value == nil {
		resp, err := cli.Delete(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Revision
	}
	resp, err := cli.Put(ctx, key, string(value))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func compareAnswers(t *testing.T, got, want []string) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("answer changed:\n got %s\nwant %s", got[i], want[i])
		}
	}
}
