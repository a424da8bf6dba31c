package etcdtest

import (
	"io"
	"net"
	"sync"
)

// proxy is a loopback TCP forwarder in front of etcd's client port. It exists
// because etcd shuts down gracefully: with a watch stream open it waits its
// request timeout (over 5s) for the stream to end. Closing the proxied
// connections first ends the streams at once, so Stop takes milliseconds and
// clients see what they would see if etcd died: the connection drops, and
// then nothing listens on the port until Restart.
type proxy struct {
	addr   string // where clients connect; fixed after the first start
	target string // etcd's own client address

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// start listens on p.addr ("127.0.0.1:0" the first time) and forwards every
// connection to p.target.
func (p *proxy) start() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	if a := ln.Addr().String(); a != p.addr {
		p.addr = a // only on the first start; Endpoints reads it unlocked
	}
	p.mu.Lock()
	p.ln = ln
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.wg.Go(func() { p.accept(ln) })
	return nil
}

func (p *proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by stop
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

func (p *proxy) forward(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, u) {
		return
	}
	done := make(chan struct{})
	go func() {
		io.Copy(u, c)
		close(done)
	}()
	io.Copy(c, u)
	// Either side ending ends both, as a direct connection would.
	c.Close()
	u.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// track registers both ends for stop, or closes them if stop came first.
func (p *proxy) track(c, u net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		u.Close()
		return false
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	return true
}

// stop closes the listener and every forwarded connection, and waits for
// the forwarding goroutines to end.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// dropConns closes every forwarded connection and keeps listening, as a
// network blip would: clients reconnect at once.
func (p *proxy) dropConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}
