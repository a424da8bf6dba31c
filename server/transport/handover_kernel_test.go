package transport

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestKernelConnectLeavesReuseportSelection checks, on the running kernel,
// what handover.go relies on: of two sockets in an SO_REUSEPORT group, the
// one taken out by leaveReuseportGroup gets no datagram sent after that,
// keeps the ones queued before, and its replies (with the query's
// destination as source) reach every client, whatever local address the
// client sent to. Without IP_PKTINFO on the replies the wildcard cases with
// a second local address (127.0.0.2) fail: the connect made the socket's
// own address loopback 127.0.0.1 or ::1.
func TestKernelConnectLeavesReuseportSelection(t *testing.T) {
	for _, tc := range []struct {
		bind string
		dial []string // local addresses the clients send to
	}{
		{"127.0.0.1:0", []string{"127.0.0.1"}},
		{"[::1]:0", []string{"::1"}},
		{"0.0.0.0:0", []string{"127.0.0.1", "127.0.0.2"}},
		{"[::]:0", []string{"::1", "127.0.0.1", "127.0.0.2"}},
	} {
		t.Run(tc.bind, func(t *testing.T) {
			conns, err := listenUDP(tc.bind, 2)
			if err != nil {
				t.Skip(err) // no IPv6 here
			}
			old, next := conns[0], conns[1]
			defer old.Close()
			defer next.Close()
			port := old.LocalAddr().(*net.UDPAddr).Port
			const perAddr = 64
			send := func(tag string) []net.Conn {
				var cs []net.Conn
				for _, host := range tc.dial {
					for i := range perAddr {
						c, err := net.Dial("udp", net.JoinHostPort(host, fmt.Sprint(port)))
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { c.Close() })
						fmt.Fprintf(c, "%s-%d", tag, i)
						cs = append(cs, c)
					}
				}
				return cs
			}
			n := perAddr * len(tc.dial)
			before := send("before")
			time.Sleep(20 * time.Millisecond) // loopback delivery is synchronous; this is slack
			if err := leaveReuseportGroup(old); err != nil {
				t.Fatal(err)
			}
			send("after")
			time.Sleep(20 * time.Millisecond)

			oldGot := readAndReply(t, old)
			nextGot := readAndReply(t, next)
			t.Logf("old socket read %v, the other %v", oldGot, nextGot)
			if oldGot["after"] != 0 {
				t.Errorf("old socket got %d datagrams sent after it left the group", oldGot["after"])
			}
			if oldGot["before"] == 0 || oldGot["before"]+nextGot["before"] != n || nextGot["after"] != n {
				t.Errorf("datagrams lost or misplaced: old %v, other %v, want %d before and %d after in all", oldGot, nextGot, n, n)
			}
			replies := 0
			for _, c := range before {
				_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				if _, err := c.Read(make([]byte, 64)); err == nil {
					replies++
				}
			}
			if replies != n {
				t.Errorf("%d of %d clients got their reply", replies, n)
			}
		})
	}
}

// readAndReply reads c's queue until it is empty, replying "ok" to each
// datagram from the address it was sent to, and counts the datagrams by
// tag.
func readAndReply(t *testing.T, c *net.UDPConn) map[string]int {
	t.Helper()
	pc, err := newPktinfoConn(c)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	b := make([]byte, 64)
	for {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		k, dst, from, err := pc.read(b)
		if err != nil {
			return got
		}
		tag, _, _ := strings.Cut(string(b[:k]), "-")
		got[tag]++
		if err := pc.write([]byte("ok"), dst, from); err != nil {
			t.Errorf("reply to %s from %s: %v", from, dst, err)
		}
	}
}
