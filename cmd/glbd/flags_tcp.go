package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/glb-dns/glb/server"
)

// tcpFlags registers the DNS-over-TCP limits (README.md, "TCP limits").
func tcpFlags(fs *flag.FlagSet, l *server.TCPLimits) {
	d := server.DefaultTCPLimits()
	fs.IntVar(&l.MaxConns, "tcp-max-conns", d.MaxConns, "most open DNS-over-TCP connections; over it the longest-idle one is closed, or the new one refused when none is idle")
	fs.IntVar(&l.MaxConnsPerClient, "tcp-max-conns-per-client", d.MaxConnsPerClient, "most TCP connections from one IPv4 address or IPv6 /64; over it that client's longest-idle one is closed, or the new one refused when none of its connections is idle")
	fs.DurationVar(&l.IdleTimeout, "tcp-idle-timeout", d.IdleTimeout, "close a TCP connection idle for this long")
	fs.DurationVar(&l.IOTimeout, "tcp-io-timeout", d.IOTimeout, "time for a TCP query to arrive whole once begun, and for replies to be written")
	fs.IntVar(&l.MaxQueries, "tcp-max-queries", d.MaxQueries, "close a TCP connection after answering this many queries")
	fs.DurationVar(&l.MaxConnLifetime, "tcp-max-conn-lifetime", d.MaxConnLifetime, "close a TCP connection open this long at its next query boundary, once the replies to the queries read are written")
}

// minTCPTimeout keeps the timeouts above what a round trip across the
// world needs.
const minTCPTimeout = 100 * time.Millisecond

// validateTCP checks the TCP limits; each error names its flag.
func validateTCP(l server.TCPLimits) error {
	var errs []error
	for _, f := range []struct {
		flag string
		v    int
	}{{"-tcp-max-conns", l.MaxConns}, {"-tcp-max-conns-per-client", l.MaxConnsPerClient}, {"-tcp-max-queries", l.MaxQueries}} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s %d: want at least 1", f.flag, f.v))
		}
	}
	if l.MaxConnsPerClient > l.MaxConns && l.MaxConns >= 1 {
		errs = append(errs, fmt.Errorf("-tcp-max-conns-per-client %d: more than -tcp-max-conns %d", l.MaxConnsPerClient, l.MaxConns))
	}
	for _, f := range []struct {
		flag string
		v    time.Duration
	}{{"-tcp-idle-timeout", l.IdleTimeout}, {"-tcp-io-timeout", l.IOTimeout}, {"-tcp-max-conn-lifetime", l.MaxConnLifetime}} {
		if f.v < minTCPTimeout {
			errs = append(errs, fmt.Errorf("%s %s: want at least %s", f.flag, f.v, minTCPTimeout))
		}
	}
	return errors.Join(errs...)
}
