package querylog

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/glb-dns/glb/internal/lifecycle"
	"github.com/glb-dns/glb/server"
)

// Defaults of DnstapConfig.
const (
	DefaultQueueSize     = 10000
	DefaultTimeout       = 5 * time.Second
	DefaultRetryInterval = 5 * time.Second
	DefaultVersion       = "glb"
)

// unixPrefix marks a DnstapConfig.Path that names a socket.
const unixPrefix = "unix:"

// DnstapConfig configures a Dnstap output. Zero fields take the defaults
// named on each.
type DnstapConfig struct {
	// Path is a file to write, truncated when opened, or "unix:/path/to.sock"
	// for the socket of a Frame Streams collector (dnstap -u, dnscollector).
	// Required.
	Path string
	// Identity names this server in every message; default the hostname.
	Identity string
	// Version names the software; default "glb".
	Version string
	// QueueSize is how many queries may wait for the writer before more are
	// dropped; default 10000.
	QueueSize int
	// ServerAddr, when set, is recorded as the response address and port
	// of queries of its address family. glbd's DNS listen address fits when
	// it is a specific address; a wildcard (0.0.0.0, ::) is ignored.
	ServerAddr netip.AddrPort
	// Timeout bounds each socket write and the Frame Streams handshake, so
	// a stalled collector cannot hold the writer for long; default 5s.
	Timeout time.Duration
	// RetryInterval is the wait between attempts to connect to a socket;
	// default 5s.
	RetryInterval time.Duration
}

// Dnstap is a server.QueryObserver that writes dnstap. Observe never
// blocks; Run writes the queued frames until its ctx is done or Close is
// called, and both flush what is queued and end the stream before
// returning.
type Dnstap struct {
	cfg      DnstapConfig
	identity []byte
	version  []byte
	respAddr []byte // ServerAddr's address, nil when unset
	queue    chan frames
	scratch  sync.Pool // *encoder
	out      *output
	pending  int // frames buffered in out since its last flush; writer only
	log      *slog.Logger
	m        *dnstapMetrics

	stopped atomic.Bool // set once the writer has finished: Observe drops

	life       *lifecycle.Lifecycle
	finishOnce sync.Once // finish runs once, from Run or from Close
}

// frames are the two dnstap frames of one query: the AUTH_QUERY in
// buf[:split] and the AUTH_RESPONSE in buf[split:]. Keeping them in one
// buffer makes a queued query one allocation.
type frames struct {
	buf   []byte
	split int
}

// NewDnstap checks cfg and opens its output: a file is created now, so that
// a bad path fails at start-up; a socket is dialled by Run, since the
// collector may start later. reg receives the glb_querylog_dnstap_*
// metrics.
func NewDnstap(cfg DnstapConfig, log *slog.Logger, reg prometheus.Registerer) (*Dnstap, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dnstap{
		cfg:      cfg,
		identity: []byte(cfg.Identity),
		version:  []byte(cfg.Version),
		queue:    make(chan frames, cfg.QueueSize),
		log:      log.With("component", "dnstap", "path", cfg.Path),
	}
	if a := cfg.ServerAddr.Addr(); a.IsValid() && !a.IsUnspecified() {
		d.respAddr = a.Unmap().AsSlice()
	}
	d.scratch.New = func() any { return new(encoder) }
	out, err := openOutput(cfg)
	if err != nil {
		return nil, err
	}
	d.out = out
	d.m = newDnstapMetrics(reg, func() float64 { return float64(len(d.queue)) })
	// A stalled collector holds the last flush for up to Timeout before
	// its connection is cut; Close allows for that on top of the default.
	d.life = lifecycle.New(lifecycle.Config{Name: "dnstap writer", Logger: d.log, Panics: d.m.panics,
		StopTimeout: cfg.Timeout + lifecycle.DefaultStopTimeout})
	if out.ready() {
		d.m.up.Set(1)
	}
	return d, nil
}

// setDefaults fills zero fields and rejects impossible ones; errors name
// the field.
func (c *DnstapConfig) setDefaults() error {
	switch {
	case c.Path == "":
		return errors.New("dnstap config: Path: required")
	case c.Path == unixPrefix:
		return fmt.Errorf("dnstap config: Path %q: want unix:/path/to.sock", c.Path)
	case c.QueueSize < 0:
		return fmt.Errorf("dnstap config: QueueSize %d: want >= 0", c.QueueSize)
	case c.Timeout < 0:
		return fmt.Errorf("dnstap config: Timeout %s: want >= 0", c.Timeout)
	case c.RetryInterval < 0:
		return fmt.Errorf("dnstap config: RetryInterval %s: want >= 0", c.RetryInterval)
	}
	if c.Identity == "" {
		// A missing hostname leaves the field empty, which dnstap allows.
		c.Identity, _ = os.Hostname()
	}
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	return nil
}

// socketPath returns the socket path of a "unix:" Path.
func (c *DnstapConfig) socketPath() (string, bool) {
	return strings.CutPrefix(c.Path, unixPrefix)
}

// Observe queues the dnstap frames of ev. It packs ev.Req and ev.Resp
// again, since the server keeps no wire copy: that cost is paid only when
// dnstap is on. When the queue is full, or the writer has finished, it
// drops the query and counts it, before doing that work.
func (d *Dnstap) Observe(ev *server.QueryEvent) {
	if d.stopped.Load() {
		d.m.dropped.output.Add(2)
		return
	}
	// A racy look at the length, but it only saves work: the send below
	// is what decides.
	if len(d.queue) == cap(d.queue) {
		d.m.dropped.queueFull.Add(2)
		return
	}
	f, err := d.encode(ev)
	if err != nil {
		d.m.dropped.encode.Add(2)
		return
	}
	select {
	case d.queue <- f:
	default:
		d.m.dropped.queueFull.Add(2)
	}
}

// encoder is the scratch space for encoding, pooled so that a query costs
// little more than its frames.
type encoder struct {
	qWire, rWire []byte   // packing buffers for the query and the response
	addr         [16]byte // the query address
	zoneName     string   // the zone whose wire form zone holds
	zone         []byte
	tap          dnstap.Dnstap
	msg          dnstap.Message
	tapType      dnstap.Dnstap_Type
	msgType      dnstap.Message_Type
	family       dnstap.SocketFamily
	proto        dnstap.SocketProtocol
	port         uint32
	qport        uint32
	qSec, rSec   uint64
	qNsec, rNsec uint32
}

// frameOverhead bounds the bytes a frame adds to its DNS message, beyond
// identity, version and zone: field tags, lengths, addresses and times.
const frameOverhead = 128

// encode marshals ev's AUTH_QUERY and AUTH_RESPONSE frames.
func (d *Dnstap) encode(ev *server.QueryEvent) (frames, error) {
	if ev.Req == nil || ev.Resp == nil {
		return frames{}, errors.New("encode dnstap: event without query or reply")
	}
	e := d.scratch.Get().(*encoder)
	defer d.scratch.Put(e)
	if e.qWire == nil {
		// Most messages fit; PackBuffer allocates for a larger one.
		e.qWire, e.rWire = make([]byte, 512), make([]byte, 4096)
	}
	q, err := ev.Req.PackBuffer(e.qWire)
	if err != nil {
		return frames{}, fmt.Errorf("pack dnstap query: %w", err)
	}
	r, err := ev.Resp.PackBuffer(e.rWire)
	if err != nil {
		return frames{}, fmt.Errorf("pack dnstap response: %w", err)
	}

	// What both frames share.
	e.tapType = dnstap.Dnstap_MESSAGE
	e.tap = dnstap.Dnstap{Identity: d.identity, Version: d.version, Type: &e.tapType, Message: &e.msg}
	e.msg = dnstap.Message{Type: &e.msgType}
	if remote := ev.Remote.Unmap(); remote.IsValid() {
		e.family = dnstap.SocketFamily_INET6
		e.addr = remote.As16()
		e.msg.QueryAddress = e.addr[:]
		if remote.Is4() {
			e.family = dnstap.SocketFamily_INET
			e.msg.QueryAddress = e.addr[12:]
		}
		e.msg.SocketFamily = &e.family
		if ev.RemotePort != 0 {
			e.qport = uint32(ev.RemotePort)
			e.msg.QueryPort = &e.qport
		}
		if len(d.respAddr) == len(e.msg.QueryAddress) {
			e.port = uint32(d.cfg.ServerAddr.Port())
			e.msg.ResponseAddress, e.msg.ResponsePort = d.respAddr, &e.port
		}
	}
	if p, ok := socketProtocol(ev.Transport); ok {
		e.proto = p
		e.msg.SocketProtocol = &e.proto
	}
	e.msg.QueryZone = e.zoneWire(ev.Zone)
	e.qSec, e.qNsec = unixTime(ev.Time)
	e.msg.QueryTimeSec, e.msg.QueryTimeNsec = &e.qSec, &e.qNsec

	opts := proto.MarshalOptions{}
	size := 2*(frameOverhead+len(d.identity)+len(d.version)+len(e.msg.QueryZone)) + len(q) + len(r)
	e.msgType = dnstap.Message_AUTH_QUERY
	e.msg.QueryMessage = q
	buf, err := opts.MarshalAppend(make([]byte, 0, size), &e.tap)
	if err != nil {
		return frames{}, fmt.Errorf("marshal dnstap query: %w", err)
	}
	split := len(buf)

	// The response frame carries the query time too, as dnstap asks, but
	// not the query, which the frame before has.
	e.msgType = dnstap.Message_AUTH_RESPONSE
	e.msg.QueryMessage = nil
	e.msg.ResponseMessage = r
	e.rSec, e.rNsec = unixTime(ev.Time.Add(ev.Duration))
	e.msg.ResponseTimeSec, e.msg.ResponseTimeNsec = &e.rSec, &e.rNsec
	buf, err = opts.MarshalAppend(buf, &e.tap)
	if err != nil {
		return frames{}, fmt.Errorf("marshal dnstap response: %w", err)
	}
	return frames{buf: buf, split: split}, nil
}

// zoneWire returns the wire form of the server's zone label (the name without
// its final dot), or nil for none. It keeps the last one, since
// consecutive queries mostly share a zone.
func (e *encoder) zoneWire(label string) []byte {
	if label == "" || label == "none" {
		return nil
	}
	if label != e.zoneName {
		e.zone = e.zone[:0]
		buf := make([]byte, len(label)+2)
		n, err := dns.PackDomainName(dns.Fqdn(label), buf, 0, nil, false)
		if err != nil {
			e.zoneName = ""
			return nil
		}
		e.zone, e.zoneName = append(e.zone, buf[:n]...), label
	}
	return e.zone
}

// socketProtocol maps the server's transport names to dnstap's.
func socketProtocol(transport string) (dnstap.SocketProtocol, bool) {
	switch transport {
	case "udp":
		return dnstap.SocketProtocol_UDP, true
	case "tcp":
		return dnstap.SocketProtocol_TCP, true
	}
	return 0, false
}

// unixTime splits t into dnstap's seconds and nanoseconds.
func unixTime(t time.Time) (uint64, uint32) {
	return uint64(t.Unix()), uint32(t.Nanosecond())
}
