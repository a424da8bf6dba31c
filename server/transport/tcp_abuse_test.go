package transport

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestTCPSlowloris dribbles queries one byte at a time. Each dribbling
// connection is cut once its query has taken IOTimeout, however steadily
// it sends, and meanwhile a well-behaved client keeps being answered; with
// the dribblers holding every slot, the well-behaved client is refused at
// first and admitted as soon as their time is up.
func TestTCPSlowloris(t *testing.T) {
	const ioTimeout = 500 * time.Millisecond
	for _, tc := range []struct {
		name string
		slow int // dribbling connections
		max  int // MaxConns
	}{
		{name: "one dribbler, room for others", slow: 1, max: 100},
		{name: "dribblers fill every slot", slow: 8, max: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startTCP(t, nil, TCPLimits{MaxConns: tc.max, IOTimeout: ioTimeout})
			query := frame(t, wwwQuery(1))
			var cut atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for i := range tc.slow {
				c := dial(t, fmt.Sprintf("127.0.1.%d", i+1), r.addr)
				wg.Go(func() {
					// One byte every 50 ms: the query would take
					// about 2.5 s, five times the IOTimeout.
					for _, b := range query {
						if _, err := c.Write([]byte{b}); err != nil {
							break
						}
						time.Sleep(50 * time.Millisecond)
					}
					if closedBy(c, 3*time.Second) {
						cut.Add(1)
					}
				})
			}
			waitUntil(t, 2*time.Second, "dribblers admitted", func() bool { return r.open() == float64(tc.slow) })
			waitUntil(t, 2*time.Second, "dribblers' first bytes read", func() bool { return r.idle() == 0 })

			// A well-behaved client from its own address, asking while
			// the dribblers dribble.
			answered, waited := 0, time.Duration(0)
			for answered < 5 && time.Since(start) < 10*ioTimeout {
				c, err := net.DialTimeout("tcp", r.addr, time.Second)
				if err == nil {
					_, err = c.Write(frame(t, wwwQuery(2)))
				}
				if err == nil {
					var m *dns.Msg
					if m, err = readReply(c, time.Second); err == nil && m.Rcode == dns.RcodeSuccess {
						answered++
					}
				}
				if c != nil {
					c.Close()
				}
				if err != nil && answered == 0 {
					waited = time.Since(start) // refused while the slots were held
				}
				time.Sleep(20 * time.Millisecond)
			}
			wg.Wait()
			if got := cut.Load(); got != int64(tc.slow) {
				t.Errorf("%d of %d dribbling connections cut", got, tc.slow)
			}
			if got := r.closed(closeIOTimeout); got != float64(tc.slow) {
				t.Errorf("io_timeout = %v, want %d", got, tc.slow)
			}
			if answered == 0 {
				t.Fatal("the well-behaved client was never answered")
			}
			if tc.slow < tc.max && waited > 0 {
				t.Errorf("the well-behaved client was refused for %s with slots free", waited)
			}
			if waited > ioTimeout+time.Second {
				t.Errorf("the well-behaved client waited %s for a slot, want at most about the IOTimeout (%s)", waited, ioTimeout)
			}
			t.Logf("well-behaved client: %d answers; refused for the first %s", answered, waited)
		})
	}
}

// TestTCPSlowReader pipelines queries with large answers and never reads
// them. Once the socket buffers are full the server's write stalls, and
// the connection is cut after IOTimeout; another client is answered
// throughout.
func TestTCPSlowReader(t *testing.T) {
	var values []string
	for i := range 20 {
		values = append(values, fmt.Sprintf("%02d-%0100d", i, 0))
	}
	h, _ := newTestHandler(t, map[string]any{"zones/gslb.example.test/records/big/TXT": map[string]any{"values": values}})
	const ioTimeout = 300 * time.Millisecond
	// A query limit out of reach: it would close the connection first.
	r := startTCP(t, h, TCPLimits{IOTimeout: ioTimeout, MaxQueries: 1 << 20})

	// A small receive window on the reader's side, so the server's
	// writes stall after a few hundred kilobytes rather than megabytes.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	slow, err := d.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	q := mkQuery("big."+testZone, dns.TypeTXT, "")
	var batch []byte
	for i := range 200 {
		q.Id = uint16(i)
		batch = append(batch, frame(t, q)...)
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		// 20,000 queries of about 2 KB of answers each: 40 MB, far
		// more than any socket buffer. Stops when the server cuts it.
		_ = slow.SetWriteDeadline(time.Now().Add(10 * time.Second))
		for range 100 {
			if _, err := slow.Write(batch); err != nil {
				break
			}
		}
	}()

	other := dial(t, "127.0.0.5", r.addr)
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; r.closed(closeWriteTimeout) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("slow reader not cut after 5s (%v open; closed: %s)", r.open(), r.reasons())
		}
		askTCP(t, other, uint16(i))
		time.Sleep(10 * time.Millisecond)
	}
	askTCP(t, other, 9999)
	slow.Close()
	<-written
	if got := r.open(); got != 1 {
		t.Errorf("%v connections open, want 1 (the other client)", got)
	}
}

// TestTCPMalformed sends what is not a DNS query. The connection is closed,
// or the message answered FORMERR when it has a header we can answer; no
// reply is ever garbage, and answers to the queries before it still come.
func TestTCPMalformed(t *testing.T) {
	r := startTCP(t, nil, TCPLimits{})
	lenPrefixed := func(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }
	header := func(id, flags, qd uint16) []byte {
		var h [12]byte
		binary.BigEndian.PutUint16(h[0:], id)
		binary.BigEndian.PutUint16(h[2:], flags)
		binary.BigEndian.PutUint16(h[4:], qd)
		return h[:]
	}
	for _, tc := range []struct {
		name    string
		msg     []byte
		formerr bool // else: closed without a reply
	}{
		{name: "length 0", msg: []byte{0, 0}},
		{name: "shorter than a header", msg: lenPrefixed([]byte{1, 2, 3, 4, 5})},
		{name: "a response", msg: lenPrefixed(header(77, 1<<15, 1))},
		{name: "a question that runs off the end", msg: lenPrefixed(append(header(77, 0, 1), 3, 'w', 'w')), formerr: true},
		{name: "garbage after a header", msg: lenPrefixed(append(header(77, 0, 1), 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa)), formerr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, "", r.addr)
			// A good query first, pipelined with the bad message: its
			// answer must still arrive.
			if _, err := c.Write(append(frame(t, wwwQuery(5)), tc.msg...)); err != nil {
				t.Fatal(err)
			}
			if m, err := readReply(c, 2*time.Second); err != nil || m.Id != 5 || len(m.Answer) != 2 {
				t.Fatalf("answer to the good query: %v %v", m, err)
			}
			if !tc.formerr {
				m, err := readReply(c, 2*time.Second)
				if err == nil {
					t.Fatalf("got a reply to garbage: %v", m)
				}
				if !closedBy(c, 2*time.Second) {
					t.Fatal("connection left open")
				}
				return
			}
			m, err := readReply(c, 2*time.Second)
			if err != nil {
				t.Fatalf("no FORMERR: %v", err)
			}
			if m.Id != 77 || !m.Response || m.Rcode != dns.RcodeFormatError {
				t.Fatalf("reply id %d QR %v rcode %s, want id 77, a FORMERR response", m.Id, m.Response, dns.RcodeToString[m.Rcode])
			}
			askTCP(t, c, 6) // the connection still serves
		})
	}
	if got := r.closed(closeMalformed); got != 3 {
		t.Errorf("malformed = %v, want 3", got)
	}
}
