package querylog

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/server"
)

// counts are a Dnstap's counters, compared whole in tests.
type counts struct{ frames, queueFull, encode, output float64 }

func countsOf(d *Dnstap) counts {
	return counts{
		frames:    testutil.ToFloat64(d.m.frames),
		queueFull: testutil.ToFloat64(d.m.dropped.queueFull),
		encode:    testutil.ToFloat64(d.m.dropped.encode),
		output:    testutil.ToFloat64(d.m.dropped.output),
	}
}

// newTestDnstap builds a Dnstap on its own registry, quiet unless a test
// wants its log.
func newTestDnstap(t *testing.T, cfg DnstapConfig) *Dnstap {
	t.Helper()
	d, err := NewDnstap(cfg, slog.New(slog.DiscardHandler), prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// run starts d's writer and returns a channel closed when Run returns nil;
// Close in t.Cleanup stops it if the test did not.
func run(t *testing.T, d *Dnstap) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(t.Context()); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	}()
	t.Cleanup(func() {
		d.Close()
		<-done
	})
	return done
}

var testEvents = []event{
	{id: 1, qname: "www.example.com.", rcode: dns.RcodeSuccess, remote: "198.51.100.7", transport: "udp"},
	{id: 2, qname: "api.example.com.", rcode: dns.RcodeSuccess, remote: "2001:db8::53", transport: "tcp"},
	{id: 3, qname: "nope.example.com.", rcode: dns.RcodeNameError, remote: "203.0.113.9", ecs: "192.0.2.0/24", transport: "udp"},
}

// TestDnstapFile writes queries to a file, reads it back with the dnstap
// library, and checks every field glb sets, including that the messages
// unpack to the originals.
func TestDnstapFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dnstap.fstrm")
	d := newTestDnstap(t, DnstapConfig{
		Path: path, Identity: "ns1.test", Version: "glb-test",
		ServerAddr: netip.MustParseAddrPort("192.0.2.53:53"),
	})
	done := run(t, d)
	for _, e := range testEvents {
		d.Observe(queryEvent(t, e))
	}
	d.Close()
	waitDone(t, done, "Run after Close")

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := dnstap.NewReader(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	taps := readFrames(t, r)
	if len(taps) != 2*len(testEvents) {
		t.Fatalf("%d frames, want %d", len(taps), 2*len(testEvents))
	}
	zone, err := dnsName("example.com.")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range testEvents {
		t.Run(e.qname, func(t *testing.T) {
			q, resp := taps[2*i], taps[2*i+1]
			for _, tap := range []*dnstap.Dnstap{q, resp} {
				if tap.GetType() != dnstap.Dnstap_MESSAGE || string(tap.GetIdentity()) != "ns1.test" || string(tap.GetVersion()) != "glb-test" {
					t.Errorf("envelope %v %q %q, want MESSAGE ns1.test glb-test", tap.GetType(), tap.GetIdentity(), tap.GetVersion())
				}
				m := tap.GetMessage()
				remote := netip.MustParseAddr(e.remote)
				wantFamily, wantProto := dnstap.SocketFamily_INET, dnstap.SocketProtocol_UDP
				if remote.Is6() {
					wantFamily = dnstap.SocketFamily_INET6
				}
				if e.transport == "tcp" {
					wantProto = dnstap.SocketProtocol_TCP
				}
				if m.GetSocketFamily() != wantFamily || m.GetSocketProtocol() != wantProto {
					t.Errorf("socket %v/%v, want %v/%v", m.GetSocketFamily(), m.GetSocketProtocol(), wantFamily, wantProto)
				}
				if got, _ := netip.AddrFromSlice(m.GetQueryAddress()); got != remote {
					t.Errorf("query address %v, want %v", got, remote)
				}
				// The server address is IPv4: it is recorded for IPv4
				// queries only.
				if got, ok := netip.AddrFromSlice(m.GetResponseAddress()); remote.Is4() && (got != netip.MustParseAddr("192.0.2.53") || m.GetResponsePort() != 53) {
					t.Errorf("response address %v port %d, want 192.0.2.53 port 53", got, m.GetResponsePort())
				} else if remote.Is6() && (ok || m.ResponsePort != nil) {
					t.Errorf("response address %v port %d on an IPv6 query, want none", got, m.GetResponsePort())
				}
				if !bytes.Equal(m.GetQueryZone(), zone) {
					t.Errorf("query zone %x, want %x", m.GetQueryZone(), zone)
				}
				if got := time.Unix(int64(m.GetQueryTimeSec()), int64(m.GetQueryTimeNsec())); !got.Equal(t0) {
					t.Errorf("query time %v, want %v", got, t0)
				}
			}

			mq := q.GetMessage()
			if mq.GetType() != dnstap.Message_AUTH_QUERY || mq.ResponseMessage != nil || mq.ResponseTimeSec != nil {
				t.Errorf("first frame %v with response fields, want AUTH_QUERY without", mq.GetType())
			}
			qm := unpack(t, mq.GetQueryMessage())
			if qm.Id != e.id || qm.Response || len(qm.Question) != 1 || qm.Question[0].Name != e.qname {
				t.Errorf("query message:\n%v\nwant id %d question %s", qm, e.id, e.qname)
			}

			mr := resp.GetMessage()
			if mr.GetType() != dnstap.Message_AUTH_RESPONSE || mr.QueryMessage != nil {
				t.Errorf("second frame %v with a query message, want AUTH_RESPONSE without", mr.GetType())
			}
			rm := unpack(t, mr.GetResponseMessage())
			if rm.Id != e.id || !rm.Response || rm.Rcode != e.rcode || len(rm.Question) != 1 || rm.Question[0].Name != e.qname {
				t.Errorf("response message:\n%v\nwant id %d rcode %s question %s", rm, e.id, dns.RcodeToString[e.rcode], e.qname)
			}
			if wantAnswers := map[bool]int{true: 1, false: 0}[e.rcode == dns.RcodeSuccess]; len(rm.Answer) != wantAnswers {
				t.Errorf("%d answers, want %d", len(rm.Answer), wantAnswers)
			}
			got := time.Unix(int64(mr.GetResponseTimeSec()), int64(mr.GetResponseTimeNsec()))
			if want := t0.Add(250 * time.Microsecond); !got.Equal(want) {
				t.Errorf("response time %v, want %v", got, want)
			}
		})
	}
	if got, want := countsOf(d), (counts{frames: 6}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
}

// dnsName is name in wire format.
func dnsName(name string) ([]byte, error) {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(name, buf, 0, nil, false)
	return buf[:n], err
}

// TestDnstapCloseWithoutRun checks that Close writes what is queued when
// Run never ran, and that later queries are dropped and counted.
func TestDnstapCloseWithoutRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dnstap.fstrm")
	d := newTestDnstap(t, DnstapConfig{Path: path})
	d.Observe(queryEvent(t, testEvents[0]))
	d.Close()
	d.Close() // a second Close is harmless
	d.Observe(queryEvent(t, testEvents[1]))
	if err := d.Run(t.Context()); err != nil {
		t.Errorf("Run after Close = %v, want nil", err)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := dnstap.NewReader(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if taps := readFrames(t, r); len(taps) != 2 {
		t.Errorf("%d frames, want 2", len(taps))
	}
	if got, want := countsOf(d), (counts{frames: 2, output: 2}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	host, _ := os.Hostname()
	if d.cfg.Identity != host || d.cfg.Version != DefaultVersion {
		t.Errorf("identity %q version %q, want the hostname %q and %q", d.cfg.Identity, d.cfg.Version, host, DefaultVersion)
	}
}

// TestDnstapRunTwice checks that a second Run is refused while one runs,
// and that ending the running one's ctx also ends the stream.
func TestDnstapRunTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dnstap.fstrm")
	d := newTestDnstap(t, DnstapConfig{Path: path})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- d.Run(ctx) }()
	}
	// Whichever came second returns at once; the other runs until cancel.
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run = %v, want already running", err)
	}
	d.Observe(queryEvent(t, testEvents[0]))
	cancel()
	if err := <-errs; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	d.Close()

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := dnstap.NewReader(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if taps := readFrames(t, r); len(taps) != 2 {
		t.Errorf("%d frames, want 2", len(taps))
	}
}

func TestDnstapConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		cfg  DnstapConfig
		want string
	}{
		"no path":         {DnstapConfig{}, "Path: required"},
		"empty socket":    {DnstapConfig{Path: "unix:"}, "want unix:/path"},
		"negative queue":  {DnstapConfig{Path: filepath.Join(dir, "f"), QueueSize: -1}, "QueueSize -1"},
		"negative wait":   {DnstapConfig{Path: filepath.Join(dir, "f"), Timeout: -time.Second}, "Timeout -1s"},
		"negative retry":  {DnstapConfig{Path: filepath.Join(dir, "f"), RetryInterval: -time.Second}, "RetryInterval -1s"},
		"missing dir":     {DnstapConfig{Path: filepath.Join(dir, "no", "f")}, "open dnstap file"},
		"file is a dir":   {DnstapConfig{Path: dir}, "open dnstap file"},
		"socket is lazy:": {DnstapConfig{Path: "unix:" + filepath.Join(dir, "none.sock")}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := NewDnstap(tc.cfg, nil, prometheus.NewPedanticRegistry())
			if tc.want == "" {
				if err != nil {
					t.Fatalf("NewDnstap = %v, want nil: a socket is dialled by Run", err)
				}
				d.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewDnstap = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestDnstapFileFull checks that a file that cannot take even the stream's
// start frame fails NewDnstap rather than Run.
func TestDnstapFileFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	_, err := NewDnstap(DnstapConfig{Path: "/dev/full"}, nil, prometheus.NewPedanticRegistry())
	if err == nil || !strings.Contains(err.Error(), `start dnstap file "/dev/full"`) {
		t.Errorf("NewDnstap = %v, want a start error", err)
	}
}

// TestDnstapEncodeError checks that a reply that will not pack is counted
// and the query dropped rather than half written.
func TestDnstapEncodeError(t *testing.T) {
	d := newTestDnstap(t, DnstapConfig{Path: filepath.Join(t.TempDir(), "f")})
	ev := queryEvent(t, testEvents[0])
	ev.Resp.Rcode = 0x1000 // beyond the 12 bits DNS has
	d.Observe(ev)
	d.Observe(&server.QueryEvent{Time: t0, Req: ev.Req})
	d.Close()
	if got, want := countsOf(d), (counts{encode: 4}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
}

// BenchmarkDnstapObserve measures what dnstap adds to each query: packing
// both messages and marshalling both frames. A drained queue keeps Observe
// from dropping.
func BenchmarkDnstapObserve(b *testing.B) {
	d, err := NewDnstap(DnstapConfig{Path: filepath.Join(b.TempDir(), "f"), QueueSize: 1}, nil, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ev := queryEvent(b, testEvents[0])
	b.ReportAllocs()
	for b.Loop() {
		d.Observe(ev)
		<-d.queue
	}
}

// shortTempDir is a temporary directory with a path short enough for a
// unix socket (about 100 bytes), which t.TempDir's may not be.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qlog")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// listen returns a unix socket listener in a temporary directory.
func listen(t *testing.T) (net.Listener, string) {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "dnstap.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}
