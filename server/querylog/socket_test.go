package querylog

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// readerOptions are those of a collector such as dnstap -u: the
// bidirectional handshake, with a bound so a broken test cannot hang.
var readerOptions = &dnstap.ReaderOptions{Bidirectional: true, Timeout: 5 * time.Second}

// receive waits for n frames from ch.
func receive(t *testing.T, ch <-chan *dnstap.Dnstap, n int) []*dnstap.Dnstap {
	t.Helper()
	var taps []*dnstap.Dnstap
	for len(taps) < n {
		select {
		case tap := <-ch:
			taps = append(taps, tap)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d frames received", len(taps), n)
		}
	}
	return taps
}

// TestDnstapUnixSocket sends queries to a collector on a unix socket,
// which reads them with the dnstap library as dnstap -u does, and checks
// that Close ends the stream with the stop handshake.
func TestDnstapUnixSocket(t *testing.T) {
	l, path := listen(t)
	frames := make(chan *dnstap.Dnstap, 16)
	ended := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			ended <- err
			return
		}
		defer c.Close()
		r, err := dnstap.NewReader(c, readerOptions)
		if err != nil {
			ended <- err
			return
		}
		_, err = decodeFrames(r, func(tap *dnstap.Dnstap) { frames <- tap })
		ended <- err
	}()

	d := newTestDnstap(t, DnstapConfig{Path: "unix:" + path})
	done := run(t, d)
	for _, e := range testEvents {
		d.Observe(queryEvent(t, e))
	}
	// Frames queued before the connection is made wait for it.
	taps := receive(t, frames, 2*len(testEvents))
	if testutil.ToFloat64(d.m.up) != 1 {
		t.Error("glb_querylog_dnstap_output_up is 0 while connected")
	}
	d.Close()
	waitDone(t, done, "Run after Close")
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("collector: %v, want a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the collector saw no stop frame")
	}

	for i, tap := range taps {
		m := tap.GetMessage()
		e := testEvents[i/2]
		wire, want := m.GetQueryMessage(), dnstap.Message_AUTH_QUERY
		if i%2 == 1 {
			wire, want = m.GetResponseMessage(), dnstap.Message_AUTH_RESPONSE
		}
		if m.GetType() != want {
			t.Errorf("frame %d: %v, want %v", i, m.GetType(), want)
			continue
		}
		if msg := unpack(t, wire); msg.Id != e.id || msg.Question[0].Name != e.qname {
			t.Errorf("frame %d: id %d %s, want %d %s", i, msg.Id, msg.Question[0].Name, e.id, e.qname)
		}
	}
	if got, want := countsOf(d), (counts{frames: 6}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	if testutil.ToFloat64(d.m.up) != 0 {
		t.Error("glb_querylog_dnstap_output_up is 1 after Close")
	}
}

// TestDnstapReconnect has the collector hang up after one query, as a
// restarting collector does: the query written into the dead connection is
// counted lost, the writer dials again at once (not after RetryInterval),
// and later queries reach the new connection.
func TestDnstapReconnect(t *testing.T) {
	l, path := listen(t)
	hungUp := make(chan struct{})
	again := make(chan struct{})
	frames := make(chan *dnstap.Dnstap, 16)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		r, err := dnstap.NewReader(c, readerOptions)
		if err != nil {
			t.Error(err)
			c.Close()
			return
		}
		buf := make([]byte, 1<<16)
		for range 2 {
			if _, err := r.ReadFrame(buf); err != nil {
				t.Error(err)
			}
		}
		c.Close()
		close(hungUp)

		c, err = l.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		r, err = dnstap.NewReader(c, readerOptions)
		close(again)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := decodeFrames(r, func(tap *dnstap.Dnstap) { frames <- tap }); err != nil {
			t.Error(err)
		}
	}()

	d := newTestDnstap(t, DnstapConfig{Path: "unix:" + path, RetryInterval: time.Hour})
	run(t, d)
	d.Observe(queryEvent(t, event{id: 1, qname: "a.example.com.", remote: "192.0.2.1", transport: "udp"}))
	waitDone(t, hungUp, "the first collector connection")
	// Written into the closed connection: lost, and the writer redials.
	d.Observe(queryEvent(t, event{id: 2, qname: "b.example.com.", remote: "192.0.2.1", transport: "udp"}))
	waitDone(t, again, "the second collector connection")
	d.Observe(queryEvent(t, event{id: 3, qname: "c.example.com.", remote: "192.0.2.1", transport: "udp"}))
	taps := receive(t, frames, 2)
	if id := unpack(t, taps[0].GetMessage().GetQueryMessage()).Id; id != 3 {
		t.Errorf("first frame on the new connection is query %d, want 3", id)
	}
	// A frame is counted after its flush returns, which can be after the
	// collector has it: read the counters once the writer has stopped.
	d.Close()
	if got, want := countsOf(d), (counts{frames: 4, output: 2}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
}

// TestDnstapQueueFull stalls the writer on a collector that accepts the
// connection but never answers the handshake. Observe must still return
// at once, keep QueueSize queries and drop and count the rest; Close must
// not wait out the hour-long Timeout.
func TestDnstapQueueFull(t *testing.T) {
	l, path := listen(t)
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()
	const queue, sent = 4, 20
	d := newTestDnstap(t, DnstapConfig{Path: "unix:" + path, QueueSize: queue, Timeout: time.Hour})
	done := run(t, d)
	var c net.Conn
	select {
	case c = <-accepted:
		defer c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not connect")
	}

	evs := make([]event, sent)
	for i := range evs {
		evs[i] = event{id: uint16(i), qname: "www.example.com.", rcode: dns.RcodeSuccess, remote: "192.0.2.1", transport: "udp"}
	}
	start := time.Now()
	for _, e := range evs {
		d.Observe(queryEvent(t, e))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("%d Observe calls took %v with the writer stalled", sent, took)
	}
	if got, want := countsOf(d), (counts{queueFull: 2 * (sent - queue)}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	if len(d.queue) != queue {
		t.Errorf("%d queued, want %d", len(d.queue), queue)
	}

	d.Close()
	waitDone(t, done, "Run after Close with a stalled collector")
	// What was queued had nowhere to go.
	if got, want := countsOf(d), (counts{queueFull: 2 * (sent - queue), output: 2 * queue}); got != want {
		t.Errorf("counters after Close %+v, want %+v", got, want)
	}
}

// TestDnstapCollectorLate starts the writer before its collector: the
// failed dial is logged once at Warn, queries are dropped meanwhile, and
// the writer connects on a later retry.
func TestDnstapCollectorLate(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "dnstap.sock")
	logs := &recordLog{}
	d, err := NewDnstap(DnstapConfig{Path: "unix:" + path, RetryInterval: 5 * time.Millisecond}, slog.New(logs), prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	run(t, d)
	logs.await(t, "dnstap collector unreachable, dropping queries until it is back")
	d.Observe(queryEvent(t, testEvents[0]))
	eventually(t, "the query dropped", func() bool { return countsOf(d).output == 2 })

	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan struct{})
	frames := make(chan *dnstap.Dnstap, 4)
	go func() {
		c, err := l.Accept()
		close(accepted)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		r, err := dnstap.NewReader(c, readerOptions)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := decodeFrames(r, func(tap *dnstap.Dnstap) { frames <- tap }); err != nil {
			t.Error(err)
		}
	}()
	waitDone(t, accepted, "the retry")
	d.Observe(queryEvent(t, testEvents[1]))
	taps := receive(t, frames, 2)
	if id := unpack(t, taps[0].GetMessage().GetQueryMessage()).Id; id != testEvents[1].id {
		t.Errorf("query %d delivered, want %d", id, testEvents[1].id)
	}
	d.Close()
	if got, want := countsOf(d), (counts{frames: 2, output: 2}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	if n := logs.count(slog.LevelWarn); n != 1 {
		t.Errorf("%d Warn lines for one outage, want 1", n)
	}
	logs.await(t, "dnstap collector connected")
}

// TestDnstapFileBroken makes the file fail after the stream started, as a
// full disk would: the loss is logged and counted, and later queries are
// dropped rather than written into a stream with a hole.
func TestDnstapFileBroken(t *testing.T) {
	logs := &recordLog{}
	d, err := NewDnstap(DnstapConfig{Path: filepath.Join(t.TempDir(), "f")}, slog.New(logs), prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	// Swap in a writer whose every data write fails.
	d.out.w = brokenFramer{}
	done := run(t, d)
	d.Observe(queryEvent(t, testEvents[0]))
	logs.await(t, "dnstap file broken, dropping queries until restart")
	d.Observe(queryEvent(t, testEvents[1]))
	d.Close()
	waitDone(t, done, "Run after Close")
	if got, want := countsOf(d), (counts{output: 4}); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	if testutil.ToFloat64(d.m.up) != 0 {
		t.Error("glb_querylog_dnstap_output_up is 1 on a broken file")
	}
}

// brokenFramer is a dnstap.Writer whose frames all fail.
type brokenFramer struct{}

func (brokenFramer) WriteFrame([]byte) (int, error) {
	return 0, errors.New("no space left on device")
}
func (brokenFramer) Close() error { return nil }

// recordLog is a slog.Handler that keeps every record for tests to wait on.
type recordLog struct {
	mu      sync.Mutex
	records []slog.Record
	changed chan struct{}
}

func (h *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordLog) WithGroup(string) slog.Handler            { return h }
func (h *recordLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	if h.changed != nil {
		close(h.changed)
		h.changed = nil
	}
	return nil
}

// await waits for a record with message msg.
func (h *recordLog) await(t *testing.T, msg string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		for _, r := range h.records {
			if r.Message == msg {
				h.mu.Unlock()
				return
			}
		}
		if h.changed == nil {
			h.changed = make(chan struct{})
		}
		changed := h.changed
		h.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no log line %q", msg)
		}
	}
}

// count returns how many records have level l.
func (h *recordLog) count(l slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level == l {
			n++
		}
	}
	return n
}

// eventually waits for cond, checked every millisecond, for a state the
// writer reaches without a signal a test can wait on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
