package querylog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
)

// output is where the writer puts frames: a file opened once, or a unix
// socket that is dialled, and dialled again after it breaks. Only the
// goroutine running the writer touches it.
type output struct {
	name    string // the file or socket path, for errors
	socket  bool
	timeout time.Duration
	file    *os.File
	conn    net.Conn
	w       dnstap.Writer // nil while nothing can be written
}

// flusher is what dnstap.NewWriter returns besides dnstap.Writer: the
// Frame Streams writer buffers frames until flushed.
type flusher interface{ Flush() error }

// openOutput opens cfg's file, writing the Frame Streams start frame, or
// prepares its socket for connect.
func openOutput(cfg DnstapConfig) (*output, error) {
	if p, ok := cfg.socketPath(); ok {
		return &output{name: p, socket: true, timeout: cfg.Timeout}, nil
	}
	// 0640: the log holds client addresses.
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open dnstap file: %w", err)
	}
	w, err := dnstap.NewWriter(f, nil)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start dnstap file %q: %w", cfg.Path, err)
	}
	return &output{name: cfg.Path, file: f, w: w}, nil
}

// ready reports whether frames can be written now.
func (o *output) ready() bool { return o.w != nil }

// connect dials the socket and makes the bidirectional Frame Streams
// handshake that collectors expect. Each step is bounded by the timeout,
// and ctx being done cuts it short.
func (o *output) connect(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var dialer net.Dialer
	c, err := dialer.DialContext(dctx, "unix", o.name)
	if err != nil {
		return fmt.Errorf("dial dnstap socket: %w", err)
	}
	// The writer sets a deadline before each read and write, which would
	// overwrite one set here; closing the connection is what reliably
	// interrupts it.
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	w, err := dnstap.NewWriter(c, &dnstap.WriterOptions{Bidirectional: true, Timeout: o.timeout})
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = c.Close()
		return fmt.Errorf("handshake with dnstap socket %q: %w", o.name, err)
	}
	o.conn, o.w = c, w
	return nil
}

// write writes one frame.
func (o *output) write(frame []byte) error {
	if _, err := o.w.WriteFrame(frame); err != nil {
		return fmt.Errorf("write dnstap frame to %q: %w", o.name, err)
	}
	return nil
}

// flush sends the buffered frames on.
func (o *output) flush() error {
	f, ok := o.w.(flusher)
	if !ok {
		return nil
	}
	if err := f.Flush(); err != nil {
		return fmt.Errorf("flush dnstap output %q: %w", o.name, err)
	}
	return nil
}

// drop abandons a broken output without the stop frame, which could not be
// sent either. A socket can be connected again; a file stays broken, since
// reopening it would truncate what was written.
func (o *output) drop() {
	o.w = nil
	if o.conn != nil {
		_ = o.conn.Close()
		o.conn = nil
	}
	if o.file != nil {
		_ = o.file.Close()
		o.file = nil
	}
}

// close ends the stream with the stop frame, waits for a collector to
// acknowledge it, and closes the file or socket.
func (o *output) close() error {
	var errs []error
	if o.w != nil {
		if err := o.w.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop dnstap stream to %q: %w", o.name, err))
		}
		o.w = nil
	}
	if o.conn != nil {
		_ = o.conn.Close() // the stream is over whatever Close says
		o.conn = nil
	}
	if o.file != nil {
		if err := o.file.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close dnstap file: %w", err))
		}
		o.file = nil
	}
	return errors.Join(errs...)
}
