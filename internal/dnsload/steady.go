package dnsload

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Steady is the load of the rolling restart and handover checks: the same
// query over and over from closed-loop UDP workers, one socket (so one
// flow) each, so that together they reach every socket of a SO_REUSEPORT
// group, and from TCP workers opening a connection per query, as a
// resolver falling back to TCP does. A query without a reply within a
// second is lost.
type Steady struct {
	// UDP and TCP are the two loads; their Stats can be read while they
	// run. TCP is nil without TCP workers.
	UDP, TCP *Load

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
	udp, tcp Result
	errs     [2]error
}

// StartSteady starts a Steady load of query (packed; its id is replaced)
// against server, which ends after limit or at Stop.
func StartSteady(server string, query []byte, udpWorkers, tcpWorkers int, limit time.Duration) (*Steady, error) {
	q := func(int64) ([]byte, any, error) { return query, nil, nil }
	udp, err := New(Config{Server: server, Workers: udpWorkers, Duration: limit, Query: q})
	if err != nil {
		return nil, err
	}
	s := &Steady{UDP: udp}
	if tcpWorkers > 0 {
		if s.TCP, err = New(Config{Server: server, Transport: TCP, Workers: tcpWorkers, Duration: limit, Query: q}); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() { s.udp, s.errs[0] = udp.Run(ctx) })
	if s.TCP != nil {
		s.wg.Go(func() { s.tcp, s.errs[1] = s.TCP.Run(ctx) })
	}
	return s, nil
}

// Stop ends the load, waits for the replies due and returns what the two
// loads saw. It may be called again, and returns the same.
func (s *Steady) Stop() (udp, tcp Result, err error) {
	s.stopOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
	})
	return s.udp, s.tcp, errors.Join(s.errs[:]...)
}
