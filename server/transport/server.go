package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Server runs the UDP and TCP DNS listeners on one address.
type Server struct {
	addr    string
	handler PacketAnswerer
	log     *slog.Logger
	tcpLim  TCPLimits
	metrics *Metrics

	mu      sync.Mutex
	tcp     *tcpServer // set by Run
	udpAddr net.Addr
	tcpAddr net.Addr
	ready   chan struct{}
	// drainCutShort says whether the last drain ran out of time with
	// queries possibly still queued (glb_dns_drain_cut_short_total).
	drainCutShort atomic.Bool
	// keepInGroup: see udpServer.keepInGroup.
	keepInGroup bool
}

// ShutdownTimeout bounds how long Run waits for in-flight queries and TCP
// connections after its context is cancelled.
const ShutdownTimeout = 5 * time.Second

// NewServer returns a Server that will listen on addr ("host:port"; port 0
// picks a free port, the same for UDP and TCP when possible), with the
// default TCP limits and unregistered metrics.
func NewServer(addr string, h PacketAnswerer, log *slog.Logger) *Server {
	return NewServerWith(addr, h, ServerOptions{Logger: log})
}

// ServerOptions configure a Server; the zero value is usable.
type ServerOptions struct {
	Logger  *slog.Logger // nil: discard
	Metrics *Metrics     // for the TCP connection metrics; nil: kept unregistered
	TCP     TCPLimits    // zero fields: DefaultTCPLimits
}

// NewServerWith is NewServer with options.
func NewServerWith(addr string, h PacketAnswerer, o ServerOptions) *Server {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := o.Metrics
	if m == nil {
		m = NewMetrics(prometheus.NewRegistry())
	}
	return &Server{addr: addr, handler: h, log: log.With("component", "dns"), tcpLim: o.TCP.withDefaults(), metrics: m,
		ready: make(chan struct{})}
}

// Ready is closed once both listeners are bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the bound UDP and TCP addresses; valid after Ready.
func (s *Server) Addrs() (udp, tcp net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udpAddr, s.tcpAddr
}

// Run binds both listeners and serves until ctx is cancelled, then shuts
// down gracefully: it first drains, answering the queries and connections
// already queued on the sockets until they have been idle for drainIdle
// (at most drainMax), then reads no more, and in-flight queries finish
// within ShutdownTimeout. A listener that fails ends Run with its error.
//
// Both listeners use SO_REUSEPORT, so a second process can bind the same
// address and serve alongside; draining first takes the UDP sockets out of
// the kernel's selection (handover.go), which lets a rolling restart (start
// the new process, then stop the old one) lose no UDP query.
func (s *Server) Run(ctx context.Context) error {
	pc, ln, err := listen(s.addr)
	if err != nil {
		return err
	}
	// Our own UDP and TCP loops, both calling the handler's one entry
	// point, AnswerPacket; the TCP one with connection limits.
	more, err := listenUDP(pc.LocalAddr().String(), udpSockets()-1)
	if err != nil {
		pc.Close()
		ln.Close()
		return err
	}
	udp := newUDPServer(append([]*net.UDPConn{pc.(*net.UDPConn)}, more...), s.handler)
	udp.log, udp.panics = s.log, s.metrics.loopPanics
	udp.keepInGroup = s.keepInGroup
	udp.blocking = useBlockingReaders()
	tcp := newTCPServer(ln.(*net.TCPListener), s.handler, s.tcpLim, s.metrics, s.log)
	s.mu.Lock()
	s.tcp, s.udpAddr, s.tcpAddr = tcp, pc.LocalAddr(), ln.Addr()
	s.mu.Unlock()

	errc := make(chan error, 1)
	udp.start()
	go func() {
		if err := tcp.serve(); err != nil { // nil: stopped by drain or shutdown
			errc <- err
		}
	}()
	// Logged before ready closes: whoever waits on Ready (glbd's "glbd
	// started" line, tests reading the bound address from the log) sees
	// this line first.
	s.log.Info("dns listening", "udp", pc.LocalAddr().String(), "tcp", ln.Addr().String())
	close(s.ready)

	select {
	case <-ctx.Done():
		// Answer what clients sent before the cancel first; after a
		// listener error there is nothing worth waiting for.
		start := time.Now()
		dctx, cancel := context.WithTimeout(context.Background(), drainMax)
		var drained sync.WaitGroup
		drained.Go(func() { udp.drain(dctx, s.log) })
		drained.Go(func() { tcp.drain(dctx) })
		drained.Wait()
		cancel()
		cutShort := udp.cutShort.Load()
		s.drainCutShort.Store(cutShort)
		if cutShort {
			s.metrics.drainCutShort.Inc()
		}
		s.log.Info("dns drained", "duration_seconds", time.Since(start).Seconds(), "udp_queries", udp.drained.Load(),
			"udp_cut_short", cutShort)
	case err = <-errc:
		err = fmt.Errorf("dns server on %s: %w", s.addr, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	serr := errors.Join(udp.shutdown(sctx), tcp.shutdown(sctx))
	if err == nil && serr != nil && !errors.Is(serr, context.DeadlineExceeded) {
		return fmt.Errorf("shut down dns server: %w", serr)
	}
	return err
}

// listen binds UDP and TCP on the same address, both with SO_REUSEPORT so
// that the next glbd of a rolling restart can bind it too. With port 0 the
// kernel picks the UDP port and TCP is bound to the same number, retrying a
// few times in the rare case it is taken for TCP.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns address %q: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		// SO_REUSEPORT from the start, so Run can add sockets on the port.
		conns, err := listenUDP(addr, 1)
		if err != nil {
			return nil, nil, err
		}
		pc := conns[0]
		ln, err := listenTCP(pc.LocalAddr().String(), port == "0")
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" || attempt == 10 {
			return nil, nil, fmt.Errorf("listen tcp %s: %w", addr, err)
		}
	}
}

// listenTCP binds a TCP listener with SO_REUSEPORT. A port the kernel just
// picked for UDP (fresh) must not silently join a TCP listener group of
// someone else's on the same number, so it is first bound without
// SO_REUSEPORT, which fails if any socket holds it.
func listenTCP(addr string, fresh bool) (net.Listener, error) {
	if fresh {
		probe, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		probe.Close()
	}
	lc := net.ListenConfig{Control: reusePort}
	return lc.Listen(context.Background(), "tcp", addr)
}
