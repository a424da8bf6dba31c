package transport

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestUDPSocketsIgnorePMTU: the UDP sockets glbd listens on, and the
// blocking readers' twins, ignore path-MTU information
// (IP_PMTUDISC_OMIT, IPV6_PMTUDISC_OMIT for IPv6), over IPv4 and IPv6.
func TestUDPSocketsIgnorePMTU(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		level int
		opt   int
		want  int
	}{
		{"127.0.0.1:0", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_OMIT},
		{"[::1]:0", unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_OMIT},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			conns, err := listenUDP(tc.addr, 1)
			if err != nil {
				t.Skipf("no %s here: %v", tc.addr, err)
			}
			defer conns[0].Close()
			rc, err := conns[0].SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var got int
			var gerr error
			if err := rc.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), tc.level, tc.opt) }); err != nil || gerr != nil {
				t.Fatal(err, gerr)
			}
			if got != tc.want {
				t.Errorf("listening socket: path-MTU option %d, want %d", got, tc.want)
			}
			twin, err := newTwin(conns[0])
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(twin)
			if got, err := unix.GetsockoptInt(twin, tc.level, tc.opt); err != nil || got != tc.want {
				t.Errorf("twin: path-MTU option %d (%v), want %d", got, err, tc.want)
			}
		})
	}
}
