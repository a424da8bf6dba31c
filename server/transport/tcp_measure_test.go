package transport

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkTCPPipelined answers GSLB queries over one connection, 50 per
// write; allocs/op counts the whole process (client and server), so 0
// means the server allocates nothing per query either.
func BenchmarkTCPPipelined(b *testing.B) {
	h, _ := newTestHandler(b, nil)
	r := startTCP(b, h, TCPLimits{MaxQueries: 1 << 30})
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const batch = 50
	one := frame(b, wwwQuery(1))
	var queries []byte
	for range batch {
		queries = append(queries, one...)
	}
	// Every reply to the same query has the same length: learn it once.
	if _, err := c.Write(one); err != nil {
		b.Fatal(err)
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		b.Fatal(err)
	}
	replies := make([]byte, batch*(2+int(binary.BigEndian.Uint16(l[:]))))
	if _, err := io.ReadFull(c, replies[2:len(replies)/batch]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		if _, err := c.Write(queries); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, replies); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTCPMeasure prints the numbers behind the TCP limits in README.md:
// TCP queries per second, the memory an idle connection costs, and what
// 200 slowloris connections do to a well-behaved client's latency. It
// only runs with GLB_TCP_MEASURE=1; every loop is bounded in time.
func TestTCPMeasure(t *testing.T) {
	if os.Getenv("GLB_TCP_MEASURE") == "" {
		t.Skip("set GLB_TCP_MEASURE=1 to measure")
	}
	h, _ := newTestHandler(t, nil)
	// miekg/dns's TCP server, for comparison, with the handler behind
	// its ServeDNS adapter.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	lib := &dns.Server{Listener: ln, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go func() { _ = lib.ActivateAndServe() }()
	<-started
	t.Logf("miekg/dns server, pipelined: %.0f queries/s over 4 connections", pipelinedRate(t, ln.Addr().String()))
	_ = lib.Shutdown()

	r := startTCP(t, h, TCPLimits{})
	query := frame(t, wwwQuery(1))
	t.Logf("our server, pipelined: %.0f queries/s over 4 connections", pipelinedRate(t, r.addr))
	measureRest(t, r, query)
}

// pipelinedRate runs 4 connections writing 50 queries at a time for 2 s
// and returns the answers per second.
func pipelinedRate(t *testing.T, addr string) float64 {
	query := frame(t, wwwQuery(1))
	var answered atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(2 * time.Second)
	for range 4 {
		wg.Go(func() {
			var batch []byte
			for range 50 {
				batch = append(batch, query...)
			}
			for time.Now().Before(stop) {
				c := dial(t, "", addr)
				for i := 0; i < 900/50 && time.Now().Before(stop); i++ { // under MaxQueries
					if _, err := c.Write(batch); err != nil {
						break
					}
					for range 50 {
						if _, err := readReply(c, 2*time.Second); err != nil {
							return
						}
						answered.Add(1)
					}
				}
				c.Close()
			}
		})
	}
	wg.Wait()
	return float64(answered.Load()) / 2
}

// rest of TestTCPMeasure
func measureRest(t *testing.T, r *tcpRig, query []byte) {
	// One query per connection: accept, answer, close.
	start, n := time.Now(), 0
	for time.Since(start) < time.Second {
		c := dial(t, "", r.addr)
		askTCP(t, c, 1)
		c.Close()
		n++
	}
	t.Logf("one query per connection, one client: %.0f connections/s", float64(n)/time.Since(start).Seconds())

	// Memory per idle connection (Go heap and stacks; not the kernel's).
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const idle = 500
	for i := range idle {
		dial(t, fmt.Sprintf("127.0.4.%d", i%250+1), r.addr)
	}
	waitUntil(t, 5*time.Second, "idle connections admitted", func() bool { return r.open() >= idle })
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("memory per idle connection: %.1f KiB (heap+stacks)",
		float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse)/idle/1024)

	for _, tc := range []struct {
		name    string
		clients int // source addresses the 200 slowloris connections come from
	}{{"no slowloris", 0}, {"200 slowloris from 1 address", 1}, {"200 slowloris from 200 addresses", 200}} {
		lat := measureUnderSlowloris(t, r, query, tc.clients)
		slices.Sort(lat)
		if len(lat) == 0 {
			t.Errorf("%s: no answers", tc.name)
			continue
		}
		t.Logf("%s: %d queries, new connection each: p50 %s p99 %s max %s; open %v; closed: %s", tc.name, len(lat),
			lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond),
			r.open(), r.reasons())
	}
}

// measureUnderSlowloris runs 200 dribbling connections (from clients
// addresses; 0: none) that reconnect when cut, and meanwhile times 3 s of
// queries from a well-behaved client, each on a new connection.
func measureUnderSlowloris(t *testing.T, r *tcpRig, query []byte, clients int) []time.Duration {
	var wg sync.WaitGroup
	stop := time.Now().Add(3500 * time.Millisecond)
	if clients > 0 {
		for i := range 200 {
			local := &net.TCPAddr{IP: net.IPv4(127, 0, 5, byte(i%clients+1))}
			wg.Go(func() {
				d := net.Dialer{Timeout: time.Second, LocalAddr: local}
				for time.Now().Before(stop) {
					c, err := d.Dial("tcp", r.addr)
					if err != nil {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					// One byte a second, forever: cut at the IOTimeout.
					for _, b := range query {
						if _, err := c.Write([]byte{b}); err != nil || !time.Now().Before(stop) {
							break
						}
						time.Sleep(time.Second)
					}
					c.Close()
				}
			})
		}
		time.Sleep(300 * time.Millisecond) // let them connect
	}
	var lat []time.Duration
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		t0 := time.Now()
		c, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err != nil {
			continue
		}
		if _, err := c.Write(query); err == nil {
			if _, err := readReply(c, time.Second); err == nil {
				lat = append(lat, time.Since(t0))
			}
		}
		c.Close()
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	return lat
}
