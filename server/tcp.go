package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// TCPLimits bounds what TCP clients can hold of the server. The miekg/dns
// server caps none of this, so a PacketAnswerer handler gets our own TCP
// server (tcpServer) that enforces them. Zero fields take the defaults.
type TCPLimits struct {
	// MaxConns caps the open connections (default 4096). When it is
	// reached, a new connection evicts the connection that has been idle
	// longest, or is refused at once when none is idle.
	MaxConns int
	// MaxConnsPerClient caps the connections of one client: one IPv4
	// address, or one IPv6 /64, the smallest block a site is given
	// (default 32). A client over it makes room by losing its own
	// connection idle longest; when none of its connections is idle the
	// new one is refused at once.
	MaxConnsPerClient int
	// IdleTimeout closes a connection that has sent nothing, with no
	// query in progress, for this long (default 10s).
	IdleTimeout time.Duration
	// IOTimeout is the time a query has to arrive whole once its first
	// byte has, and a batch of replies has to be written (default 2s).
	// It is what cuts a client dribbling bytes (slowloris) or never
	// reading its answers.
	IOTimeout time.Duration
	// MaxQueries closes a connection after it has been answered this many
	// queries (default 1000), so that busy connections turn over and a
	// full server admits newcomers.
	MaxQueries int
	// MaxConnLifetime closes a connection at the first query boundary
	// after it has been open this long (default 2m): the query being
	// answered is finished, its reply written whole, then the connection
	// is closed as at MaxQueries. Without it a client sending one query
	// every few seconds, plus the first byte of the next, never idles
	// and never reaches MaxQueries: it could hold a slot for an hour.
	MaxConnLifetime time.Duration
}

// DefaultTCPLimits returns the limits a zero TCPLimits stands for.
func DefaultTCPLimits() TCPLimits {
	return TCPLimits{MaxConns: 4096, MaxConnsPerClient: 32, IdleTimeout: 10 * time.Second, IOTimeout: 2 * time.Second, MaxQueries: 1000,
		MaxConnLifetime: 2 * time.Minute}
}

// withDefaults fills the zero (or negative) fields with the defaults.
func (l TCPLimits) withDefaults() TCPLimits {
	d := DefaultTCPLimits()
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pickD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&l.MaxConns, d.MaxConns)
	pick(&l.MaxConnsPerClient, d.MaxConnsPerClient)
	pick(&l.MaxQueries, d.MaxQueries)
	pickD(&l.IdleTimeout, d.IdleTimeout)
	pickD(&l.IOTimeout, d.IOTimeout)
	pickD(&l.MaxConnLifetime, d.MaxConnLifetime)
	l.MaxConnsPerClient = min(l.MaxConnsPerClient, l.MaxConns)
	return l
}

// Why a TCP connection was closed: the reason label of
// glb_dns_tcp_closed_total. The set is fixed.
const (
	closeIdle          = "idle"           // IdleTimeout with nothing sent
	closeIOTimeout     = "io_timeout"     // a query not whole within IOTimeout (slowloris)
	closeWriteTimeout  = "write_timeout"  // replies not taken within IOTimeout (slow reader)
	closeLimit         = "limit"          // MaxQueries answered
	closeEvicted       = "evicted"        // the oldest idle one, to admit a new connection
	closeEvictedClient = "evicted_client" // the client's own oldest idle one, to admit its new connection
	closeLifetime      = "lifetime"       // MaxConnLifetime passed, closed after the answers in progress
	closeRefusedGlobal = "refused_global" // MaxConns reached and none idle
	closeRefusedClient = "refused_client" // MaxConnsPerClient reached
	closeMalformed     = "malformed"      // length under a header, or a message we do not answer
	closeClient        = "client_closed"  // the client closed (EOF)
	closeError         = "error"          // reset or another socket error
	closeShutdown      = "shutdown"       // the server is stopping
	closePanic         = "panic"          // a bug in the connection loop
)

var closeReasons = []string{closeIdle, closeIOTimeout, closeWriteTimeout, closeLimit, closeEvicted, closeEvictedClient,
	closeLifetime, closeRefusedGlobal, closeRefusedClient, closeMalformed, closeClient, closeError, closeShutdown, closePanic}

// tcpServer serves DNS over TCP for a PacketAnswerer: one goroutine
// accepting, one per connection reading length-framed queries and writing
// the replies. Admission (the caps and eviction) and the list of idle
// connections eviction picks from are kept under mu: a connection takes it
// when it starts waiting for a query and when one arrives (setIdle), never
// while answering.
type tcpServer struct {
	ln  *net.TCPListener
	h   PacketAnswerer
	lim TCPLimits
	m   *Metrics
	log *slog.Logger

	draining atomic.Bool // set by drain: idle reads wait only drainIdle
	stopping atomic.Bool // set by shutdown: reads stop at once
	// migrates reports whether the kernel hands a closing listener's
	// queue to another listener on the port (kernelMigratesTCP; a field
	// so that tests can choose).
	migrates func() bool
	// acceptWait is how long an Accept waits while draining before the
	// backlog counts as empty; set by drain before draining is.
	acceptWait atomic.Int64
	// What a drain did, for its log line: connections accepted while
	// draining, and closed silent (no query within drainFirstQuery).
	drainAccepted, drainSilent atomic.Int64

	acceptIdle chan struct{} // closed when the accept backlog was found empty while draining
	acceptDone chan struct{} // closed when the accept loop has returned
	stopc      chan struct{} // closed by shutdown: ends an accept backoff

	mu        sync.Mutex
	open      int                   // connections holding a slot
	conns     map[*tcpConn]struct{} // every connection with a goroutine
	perClient map[netip.Prefix]int
	idleHead  *tcpConn // idle connections, oldest first: the next to evict
	idleTail  *tcpConn
	wg        sync.WaitGroup // one per connection goroutine

	bufs sync.Pool // *tcpBufs
}

func newTCPServer(ln *net.TCPListener, h PacketAnswerer, lim TCPLimits, m *Metrics, log *slog.Logger) *tcpServer {
	return &tcpServer{
		ln: ln, h: h, lim: lim.withDefaults(), m: m, log: log, migrates: kernelMigratesTCP,
		acceptIdle: make(chan struct{}),
		acceptDone: make(chan struct{}),
		stopc:      make(chan struct{}),
		conns:      make(map[*tcpConn]struct{}),
		perClient:  make(map[netip.Prefix]int),
	}
}

// serve accepts connections until the listener is closed (nil) or fails
// for good (the error).
func (s *tcpServer) serve() error {
	defer close(s.acceptDone)
	var backoff time.Duration
	for {
		if s.draining.Load() {
			_ = s.ln.SetDeadline(time.Now().Add(time.Duration(s.acceptWait.Load())))
		}
		c, err := s.ln.AcceptTCP()
		if err != nil {
			switch {
			case s.stopping.Load() || errors.Is(err, net.ErrClosed):
				return nil
			case s.draining.Load() && errors.Is(err, os.ErrDeadlineExceeded):
				// The backlog is drained: stop accepting; drain
				// closes the listener at once.
				close(s.acceptIdle)
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // drain's wake-up deadline, set before the flag was seen
			}
			// Out of file descriptors and the like pass: wait a little,
			// as net/http does, rather than spin or give up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if backoff == time.Second {
				s.log.Warn("tcp accept failing", "err", err)
			}
			if !isTemporary(err) {
				return fmt.Errorf("accept tcp: %w", err)
			}
			select {
			case <-time.After(backoff):
			case <-s.stopc:
			}
			continue
		}
		backoff = 0
		if s.draining.Load() {
			s.drainAccepted.Add(1)
		}
		s.admit(c)
	}
}

// isTemporary reports accept errors worth retrying: running out of file
// descriptors or buffers, and a connection reset before it was accepted.
func isTemporary(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EPROTO, syscall.EPERM} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// clientKey is the unit MaxConnsPerClient counts: an IPv4 address, or the
// /64 of an IPv6 one, since a single IPv6 host usually has a whole /64.
func clientKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// admit applies the caps to a new connection and starts serving it, or
// closes it at once.
func (s *tcpServer) admit(c *net.TCPConn) {
	var remote netip.AddrPort
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		remote = ta.AddrPort()
	}
	key := clientKey(remote.Addr())
	s.mu.Lock()
	refused := ""
	var victim *tcpConn
	switch {
	case s.perClient[key] >= s.lim.MaxConnsPerClient:
		// A resolver that leaks idle connections should not lose TCP
		// until its leaked ones time out: its own connection idle
		// longest makes way. Only its own: one client must never close
		// another's. None idle: every one is busy, and it is refused.
		if victim = s.idleOfLocked(key); victim == nil {
			refused = closeRefusedClient
		} else {
			s.releaseLocked(victim, closeEvictedClient)
		}
	case s.open >= s.lim.MaxConns:
		// An idle connection costs its client only a reconnect
		// (RFC 7766 lets servers close idle connections under pressure);
		// refusing would deny the newcomer altogether. Connections in the
		// middle of a query are never evicted: their timeouts bound them.
		if victim = s.idleHead; victim == nil {
			refused = closeRefusedGlobal
		} else {
			s.releaseLocked(victim, closeEvicted)
		}
	}
	if refused != "" {
		s.mu.Unlock()
		s.m.tcpClosed[refused].Inc()
		// A reset, not a FIN: no TIME_WAIT left behind on our side by a
		// flood of refusals.
		_ = c.SetLinger(0)
		_ = c.Close()
		return
	}
	tc := &tcpConn{c: c, remote: remote, key: key, expires: time.Now().Add(s.lim.MaxConnLifetime)}
	// Idle from the start, until its first byte: a connection that sends
	// nothing is the first to make way, in the order connections came.
	s.linkIdleLocked(tc)
	s.open++
	s.perClient[key]++
	s.conns[tc] = struct{}{}
	s.m.tcpConns.Set(float64(s.open))
	s.wg.Add(1)
	s.mu.Unlock()
	if victim != nil {
		_ = victim.c.Close() // its goroutine sees the close and exits
	}
	go s.serveConn(tc)
}

// idleOfLocked returns key's connection idle longest, or nil. It walks
// the idle list from its oldest end, which is as long as the connections
// idle (at most MaxConns), only when a client is at its cap: a cost paid
// per refused or evicting accept, never per query.
func (s *tcpServer) idleOfLocked(key netip.Prefix) *tcpConn {
	for tc := s.idleHead; tc != nil; tc = tc.next {
		if tc.key == key {
			return tc
		}
	}
	return nil
}

// releaseLocked gives back tc's slot and counts why it closed, once.
func (s *tcpServer) releaseLocked(tc *tcpConn, reason string) {
	if tc.released {
		return
	}
	tc.released = true
	s.unlinkIdleLocked(tc)
	s.open--
	if s.perClient[tc.key]--; s.perClient[tc.key] <= 0 {
		delete(s.perClient, tc.key)
	}
	s.m.tcpConns.Set(float64(s.open))
	s.m.tcpClosed[reason].Inc()
}

// setIdle moves tc onto the idle list (oldest first) or off it. It
// reports false when tc has been evicted meanwhile.
func (s *tcpServer) setIdle(tc *tcpConn, idle bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tc.released {
		return false
	}
	if !idle {
		s.unlinkIdleLocked(tc)
		return true
	}
	s.linkIdleLocked(tc)
	return true
}

// linkIdleLocked puts tc at the tail of the idle list (the newest idle).
func (s *tcpServer) linkIdleLocked(tc *tcpConn) {
	if tc.idle {
		return
	}
	tc.idle, tc.prev, tc.next = true, s.idleTail, nil
	if s.idleTail != nil {
		s.idleTail.next = tc
	} else {
		s.idleHead = tc
	}
	s.idleTail = tc
}

func (s *tcpServer) unlinkIdleLocked(tc *tcpConn) {
	if !tc.idle {
		return
	}
	if tc.prev != nil {
		tc.prev.next = tc.next
	} else {
		s.idleHead = tc.next
	}
	if tc.next != nil {
		tc.next.prev = tc.prev
	} else {
		s.idleTail = tc.prev
	}
	tc.idle, tc.prev, tc.next = false, nil, nil
}
