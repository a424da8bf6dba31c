package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// sdNotify sends a state ("READY=1", "STOPPING=1", ...) to the service
// manager over the datagram socket named by $NOTIFY_SOCKET, the protocol
// of sd_notify(3), which systemd sets for Type=notify units. An empty path
// (not run by systemd) sends nothing. A leading '@' names a socket in the
// abstract namespace.
func sdNotify(ctx context.Context, path, state string) error {
	if path == "" {
		return nil
	}
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:]
	}
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "unixgram", path)
	if err != nil {
		return fmt.Errorf("notify service manager on %q: %w", path, err)
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify service manager on %q: %w", path, err)
	}
	return nil
}

// runDNS binds and serves DNS. Unless -listen-before-ready, it first waits
// for a configuration: the DNS port is shared with SO_REUSEPORT, and the
// kernel sends a share of the queries to an instance as soon as it binds,
// so the new glbd of a rolling restart must not bind while it would still
// answer SERVFAIL.
func (a *app) runDNS(ctx context.Context) error {
	if !a.cfg.ListenBeforeReady {
		select {
		case <-a.handler.Configured():
		case <-ctx.Done():
			return nil
		}
	}
	return a.dns.Run(ctx)
}

// notifyReady tells the service manager READY=1 once DNS is bound and
// configured, which is when a rolling restart may stop the old instance,
// and STOPPING=1 when the shutdown starts.
func (a *app) notifyReady(ctx context.Context) error {
	select {
	case <-a.dns.Ready():
	case <-ctx.Done():
		return nil
	}
	select {
	case <-a.handler.Configured():
	case <-ctx.Done():
		return nil
	}
	if err := sdNotify(ctx, a.cfg.NotifySocket, "READY=1\nSTATUS=serving DNS on "+a.dnsAddr()); err != nil {
		a.log.Warn("tell systemd glbd is ready", "err", err)
	}
	<-ctx.Done()
	if err := sdNotify(context.Background(), a.cfg.NotifySocket, "STOPPING=1"); err != nil {
		a.log.Warn("tell systemd glbd is stopping", "err", err)
	}
	return nil
}
