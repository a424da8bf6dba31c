package etcdtest

import (
	"net"
	"sync"
)

// relay is the address clients of a cluster member connect to: a loopback
// TCP forwarder to the member's client port. Unlike proxy (proxy.go), its
// listener stays open for the whole test, so the endpoints clients were
// given never change and cannot be taken by another process while the
// member is down. While the member is down it closes every connection as
// soon as it is accepted, with a reset, which clients see as they would a
// refused connection. It can also pause: hold every byte in both directions
// without closing anything, as a congested or stalled network would.
type relay struct {
	ln net.Listener

	mu     sync.Mutex
	target string                // the member's own client address; "" while it is down
	conns  map[net.Conn]struct{} // both ends of every forwarded connection
	paused chan struct{}         // non-nil while paused; closed to resume
	closed bool
	wg     sync.WaitGroup
}

// newRelay listens on a free loopback port; it forwards nothing until up.
func newRelay() (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, conns: map[net.Conn]struct{}{}}
	r.wg.Go(r.accept)
	return r, nil
}

// addr is where clients connect.
func (r *relay) addr() string { return r.ln.Addr().String() }

// up starts forwarding new connections to target.
func (r *relay) up(target string) {
	r.mu.Lock()
	r.target = target
	r.mu.Unlock()
}

// down drops every forwarded connection and refuses new ones until up.
func (r *relay) down() {
	r.mu.Lock()
	r.target = ""
	r.mu.Unlock()
	r.drop()
}

// drop closes every forwarded connection; a paused relay is resumed so
// that its forwarders see the close and end.
func (r *relay) drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		c.Close()
	}
	if r.paused != nil {
		close(r.paused)
		r.paused = nil
	}
}

// pause holds all traffic, in both directions, until resume.
func (r *relay) pause() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.paused == nil {
		r.paused = make(chan struct{})
	}
}

// resume lets held traffic through again.
func (r *relay) resume() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.paused != nil {
		close(r.paused)
		r.paused = nil
	}
}

// close stops listening, drops every connection and waits for the
// forwarders to end.
func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.ln.Close()
	r.down()
	r.wg.Wait()
}

func (r *relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return // closed
		}
		r.mu.Lock()
		target := r.target
		r.mu.Unlock()
		if target == "" {
			refuse(c)
			continue
		}
		r.wg.Go(func() { r.forward(c, target) })
	}
}

// refuse closes c with a reset rather than a FIN, the nearest a listener
// can come to a refused connection.
func refuse(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (r *relay) forward(c net.Conn, target string) {
	u, err := net.Dial("tcp", target)
	if err != nil {
		refuse(c)
		return
	}
	r.mu.Lock()
	if r.closed || r.target != target {
		// Went down between accept and dial.
		r.mu.Unlock()
		refuse(c)
		u.Close()
		return
	}
	r.conns[c], r.conns[u] = struct{}{}, struct{}{}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.pipe(u, c)
		close(done)
	}()
	r.pipe(c, u)
	// Either side ending ends both, as a direct connection would.
	c.Close()
	u.Close()
	<-done
	r.mu.Lock()
	delete(r.conns, c)
	delete(r.conns, u)
	r.mu.Unlock()
}

// pipe copies src to dst, holding each chunk while the relay is paused.
func (r *relay) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			wait := r.paused
			r.mu.Unlock()
			if wait != nil {
				<-wait
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
