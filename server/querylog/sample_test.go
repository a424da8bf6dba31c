package querylog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// draws returns a rand that yields vs in turn.
func draws(t *testing.T, vs ...float64) func() float64 {
	return func() float64 {
		if len(vs) == 0 {
			t.Fatal("more draws than planned")
		}
		v := vs[0]
		vs = vs[1:]
		return v
	}
}

// newTestSampler returns a Sampler logging JSON into the returned buffer.
func newTestSampler(t *testing.T, cfg SampleConfig) (*Sampler, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	s, err := NewSampler(cfg, slog.New(slog.NewJSONHandler(&buf, nil)), prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return s, &buf
}

// lines decodes the JSON lines in buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestSamplerChoosesByDraw checks that exactly the queries whose draw is
// below Rate are logged, with every documented key.
func TestSamplerChoosesByDraw(t *testing.T) {
	s, buf := newTestSampler(t, SampleConfig{Rate: 0.01, Rand: draws(t, 0.5, 0.0099, 0.01, 0, 0.9)})
	for i := range 5 {
		s.Observe(queryEvent(t, event{id: uint16(i), qname: "q" + string(rune('0'+i)) + ".example.com.", rcode: dns.RcodeSuccess, remote: "198.51.100.77", transport: "udp"}))
	}
	got := lines(t, buf)
	var names []string
	for _, l := range got {
		names = append(names, l["qname"].(string))
	}
	if want := []string{"q1.example.com.", "q3.example.com."}; !slices.Equal(names, want) {
		t.Fatalf("logged %v, want %v (draws 0.0099 and 0 are below 0.01)", names, want)
	}
	if n := testutil.ToFloat64(s.sampled); n != 2 {
		t.Errorf("glb_querylog_sampled_total %v, want 2", n)
	}

	want := map[string]any{
		"time":             t0.Format(time.RFC3339Nano),
		"level":            "INFO",
		"msg":              "query",
		"client_subnet":    "198.51.100.0/24",
		"qname":            "q1.example.com.",
		"qtype":            "A",
		"rcode":            "NOERROR",
		"zone":             "example.com",
		"region":           "eu-west",
		"reason":           "geo",
		"transport":        "udp",
		"duration_seconds": 0.00025,
	}
	l := got[0]
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, l[k], l[k], v)
		}
	}
	for k := range l {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %s", k)
		}
	}
	if strings.Contains(buf.String(), "198.51.100.77") {
		t.Errorf("the full client address was logged:\n%s", buf)
	}
}

// TestClientSubnet checks that a logged network is never narrower than
// /24 or /56, whatever the query carried.
func TestClientSubnet(t *testing.T) {
	for _, tc := range []struct {
		name, ecs, remote, want string
	}{
		{"v4 source", "", "198.51.100.77", "198.51.100.0/24"},
		{"v6 source", "", "2001:db8:1:2:3:4:5:6", "2001:db8:1::/56"},
		{"v4 ECS /24", "203.0.113.0/24", "192.0.2.1", "203.0.113.0/24"},
		{"v4 ECS narrower", "203.0.113.77/32", "192.0.2.1", "203.0.113.0/24"},
		{"v4 ECS wider", "203.0.0.0/16", "192.0.2.1", "203.0.0.0/16"},
		{"v6 ECS /48", "2001:db8:aa::/48", "192.0.2.1", "2001:db8:aa::/48"},
		{"v6 ECS narrower", "2001:db8:aa:bb:cc::1/128", "192.0.2.1", "2001:db8:aa::/56"},
		{"ECS /0 means the source", "0.0.0.0/0", "192.0.2.1", "192.0.2.0/24"},
		{"mapped v4 source", "", "::ffff:198.51.100.77", "198.51.100.0/24"},
		{"mapped v4 ECS", "::ffff:203.0.113.77/128", "192.0.2.1", "203.0.113.0/24"},
		{"nothing known", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ecs netip.Prefix
			var remote netip.Addr
			if tc.ecs != "" {
				ecs = netip.MustParsePrefix(tc.ecs)
			}
			if tc.remote != "" {
				remote = netip.MustParseAddr(tc.remote)
			}
			if got := clientSubnet(ecs, remote); got != tc.want {
				t.Errorf("clientSubnet(%s, %s) = %q, want %q", tc.ecs, tc.remote, got, tc.want)
			}
		})
	}
}

// TestSamplerRates checks the ends of the range: 0 logs nothing and draws
// nothing; 1 logs everything.
func TestSamplerRates(t *testing.T) {
	off, buf := newTestSampler(t, SampleConfig{Rate: 0, Rand: draws(t)})
	ev := queryEvent(t, testEvents[2])
	for range 100 {
		off.Observe(ev)
	}
	if buf.Len() != 0 {
		t.Errorf("Rate 0 logged:\n%s", buf)
	}

	all, buf := newTestSampler(t, SampleConfig{Rate: 1})
	for range 100 {
		all.Observe(ev)
	}
	got := lines(t, buf)
	if len(got) != 100 {
		t.Fatalf("Rate 1 logged %d of 100", len(got))
	}
	if got[0]["rcode"] != "NXDOMAIN" || got[0]["client_subnet"] != "192.0.2.0/24" {
		t.Errorf("line %v, want NXDOMAIN for the ECS network 192.0.2.0/24", got[0])
	}
}

// TestSamplerUnsampledAllocs holds the promise that an unsampled query
// costs no allocation.
func TestSamplerUnsampledAllocs(t *testing.T) {
	for name, rand := range map[string]func() float64{
		"fixed draw":   func() float64 { return 0.5 },
		"default rand": nil,
	} {
		t.Run(name, func(t *testing.T) {
			// 1e-300 is never drawn by a real rand, so nothing is logged.
			s, buf := newTestSampler(t, SampleConfig{Rate: 1e-300, Rand: rand})
			ev := queryEvent(t, testEvents[0])
			if n := testing.AllocsPerRun(1000, func() { s.Observe(ev) }); n != 0 {
				t.Errorf("%v allocations per unsampled Observe, want 0", n)
			}
			if buf.Len() != 0 {
				t.Errorf("logged:\n%s", buf)
			}
		})
	}
}

// TestSamplerDisabledLogger checks that a logger whose level drops Info
// costs nothing and counts nothing.
func TestSamplerDisabledLogger(t *testing.T) {
	var buf bytes.Buffer
	out := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := NewSampler(SampleConfig{Rate: 1}, out, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s.Observe(queryEvent(t, testEvents[0]))
	if buf.Len() != 0 || testutil.ToFloat64(s.sampled) != 0 {
		t.Errorf("logged %q, counted %v; want nothing", buf.String(), testutil.ToFloat64(s.sampled))
	}
}

func TestSamplerConfigErrors(t *testing.T) {
	for _, rate := range []float64{-0.01, 1.01, math.NaN(), math.Inf(1)} {
		if _, err := NewSampler(SampleConfig{Rate: rate}, slog.New(slog.DiscardHandler), prometheus.NewPedanticRegistry()); err == nil || !strings.Contains(err.Error(), "Rate") {
			t.Errorf("Rate %v: NewSampler = %v, want an error naming Rate", rate, err)
		}
	}
	if _, err := NewSampler(SampleConfig{Rate: 0.1}, nil, prometheus.NewPedanticRegistry()); err == nil {
		t.Error("NewSampler without a logger succeeded")
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{typeString(dns.TypeAAAA), "AAAA"},
		{typeString(65280), "TYPE65280"},
		{rcodeString(dns.RcodeRefused), "REFUSED"},
		{rcodeString(3841), "RCODE3841"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}
