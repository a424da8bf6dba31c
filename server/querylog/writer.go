package querylog

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/internal/crash"
)

// maxBatch is how many queued queries the writer writes before it flushes
// and looks at its ctx again, so that a steady stream cannot hold either
// back.
const maxBatch = 256

// Run writes queued frames until ctx is done or Close is called, then
// writes what is still queued, ends the stream and closes the output. For a
// socket it connects first, and again whenever the connection breaks,
// every RetryInterval; queries observed while no collector is connected
// are dropped. Run returns nil when it stops, at once when called after
// Close, and an error only when called twice or on a panic.
func (d *Dnstap) Run(ctx context.Context) error {
	return d.life.Run(ctx, func(ctx context.Context) error {
		// Deferred, so that a panic in loop still ends the stream.
		defer d.finishOnce.Do(d.finish)
		d.loop(ctx)
		return nil
	})
}

// Close stops Run, or, when Run never ran, writes the queue itself; either
// way the queued frames are written and the stream ended when it returns.
// Queries observed after Close are dropped.
func (d *Dnstap) Close() {
	if err := d.life.Close(); err != nil {
		// Run is stuck (logged by lifecycle) and still owns the output.
		return
	}
	d.finishOnce.Do(d.finish)
}

// loop writes until ctx is done.
func (d *Dnstap) loop(ctx context.Context) {
	retry := time.NewTimer(d.cfg.RetryInterval)
	retry.Stop()
	defer retry.Stop()
	dialDue := true // whether a socket may be dialled now
	quiet := false  // whether a failed dial was already logged at Warn
	for {
		if d.out.socket && !d.out.ready() && dialDue {
			if err := d.out.connect(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				// Warn once per outage; a collector that stays away is
				// one state change, not one line per retry.
				lvl := slog.LevelWarn
				if quiet {
					lvl = slog.LevelDebug
				}
				d.log.Log(ctx, lvl, "dnstap collector unreachable, dropping queries until it is back", "err", err, "retry_seconds", d.cfg.RetryInterval.Seconds())
				quiet, dialDue = true, false
				retry.Reset(d.cfg.RetryInterval)
			} else {
				d.log.Info("dnstap collector connected")
				d.m.up.Set(1)
				quiet = false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
			dialDue = true
		case f := <-d.queue:
			wasReady := d.out.ready()
			for n := 1; ; n++ {
				d.write(f)
				if n == maxBatch {
					break
				}
				var ok bool
				if f, ok = d.next(); !ok {
					break
				}
			}
			d.flush()
			if wasReady && !d.out.ready() {
				// A collector that hung up has usually restarted: dial
				// again at once rather than after RetryInterval.
				dialDue = true
			}
		}
	}
}

// next returns a queued query without waiting.
func (d *Dnstap) next() (frames, bool) {
	select {
	case f := <-d.queue:
		return f, true
	default:
		return frames{}, false
	}
}

// write buffers one query's two frames, or drops them when the output is
// down.
func (d *Dnstap) write(f frames) {
	for i, fr := range [2][]byte{f.buf[:f.split], f.buf[f.split:]} {
		if !d.out.ready() {
			d.m.dropped.output.Add(float64(2 - i))
			return
		}
		d.pending++
		if err := d.out.write(fr); err != nil {
			d.broken(err)
		}
	}
}

// flush sends the buffered frames on and counts them written.
func (d *Dnstap) flush() {
	if !d.out.ready() {
		return
	}
	if err := d.out.flush(); err != nil {
		d.broken(err)
		return
	}
	d.m.frames.Add(float64(d.pending))
	d.pending = 0
}

// broken abandons an output whose write failed. The frames buffered since
// the last flush count as dropped: some may have gone out, but none is
// known to have.
func (d *Dnstap) broken(err error) {
	d.m.dropped.output.Add(float64(d.pending))
	d.pending = 0
	d.m.up.Set(0)
	d.out.drop()
	if d.out.socket {
		d.log.Warn("dnstap collector connection lost", "err", err)
		return
	}
	d.log.Error("dnstap file broken, dropping queries until restart", "err", err)
}

// finish writes what is queued and closes the output. It runs once, through
// finishOnce: from Run or, when Run never ran, from Close.
func (d *Dnstap) finish() {
	d.stopped.Store(true)
	defer d.m.up.Set(0)
	if c := d.out.conn; c != nil {
		// A stalled collector gets one Timeout for the rest of the
		// stream, then the connection is cut.
		t := time.AfterFunc(d.cfg.Timeout, func() { _ = c.Close() })
		defer t.Stop()
	}
	// Only what is queued now: Observe may still be adding.
	for range cap(d.queue) {
		f, ok := d.next()
		if !ok {
			break
		}
		d.write(f)
	}
	d.flush()
	if !d.out.ready() {
		d.out.drop()
		return
	}
	if err := d.out.close(); err != nil {
		d.log.Warn("close dnstap output", "err", err)
	}
}

// dnstapMetrics are the glb_querylog_dnstap_* metrics.
type dnstapMetrics struct {
	frames  prometheus.Counter
	dropped struct{ queueFull, encode, output prometheus.Counter }
	up      prometheus.Gauge
	panics  prometheus.Counter
}

func newDnstapMetrics(reg prometheus.Registerer, queueLen func() float64) *dnstapMetrics {
	f := promauto.With(reg)
	m := &dnstapMetrics{
		frames: f.NewCounter(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "querylog", Name: "dnstap_frames_total",
			Help: "dnstap frames written (two per query: AUTH_QUERY and AUTH_RESPONSE).",
		}),
		up: f.NewGauge(prometheus.GaugeOpts{
			Namespace: "glb", Subsystem: "querylog", Name: "dnstap_output_up",
			Help: "1 while the dnstap file is writable or the collector socket is connected, else 0.",
		}),
		panics: crash.Also(f.NewCounter(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "querylog", Name: "dnstap_panics_total",
			Help: "Panics recovered in the dnstap writer.",
		}), crash.Counter(reg, "dnstap")),
	}
	dropped := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glb", Subsystem: "querylog", Name: "dnstap_dropped_total",
		Help: "dnstap frames dropped, by reason: queue_full (the writer is behind), encode (a message would not pack), output (the file or collector is unavailable).",
	}, []string{"reason"})
	m.dropped.queueFull = dropped.WithLabelValues("queue_full")
	m.dropped.encode = dropped.WithLabelValues("encode")
	m.dropped.output = dropped.WithLabelValues("output")
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "glb", Subsystem: "querylog", Name: "dnstap_queue_length",
		Help: "Queries waiting for the dnstap writer.",
	}, queueLen)
	return m
}
