package transport

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/internal/dnsload"
	"github.com/glb-dns/glb/server"
)

// countingHandler counts the UDP queries one server instance answered, to
// show that every instance of a handover really served.
type countingHandler struct {
	*server.Handler
	udp atomic.Int64
}

func (c *countingHandler) AnswerPacket(dst, pkt []byte, remote netip.AddrPort, tcp bool) ([]byte, bool) {
	if !tcp {
		c.udp.Add(1)
	}
	return c.Handler.AnswerPacket(dst, pkt, remote, tcp)
}

func (c *countingHandler) Batches() BatchAnswerer {
	return hookedBatches{c.Handler.Batches(), func([]byte) { c.udp.Add(1) }}
}

// handoverQuery is the query of the steady load: www, A, from London.
func handoverQuery(t *testing.T) []byte {
	t.Helper()
	wire, err := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24").Pack()
	if err != nil {
		t.Fatal(err)
	}
	return wire
}

// TestRollingHandover runs two servers on one address under steady load,
// over and over: start the next one, then stop the old one. Leaving the
// SO_REUSEPORT group before draining loses no UDP query; the naive drain
// (read the queues until idle, then close) loses some at every handover,
// since under steady load the kernel keeps hashing flows to the old
// sockets until they close.
//
// TCP must lose nothing when the kernel migrates a closing listener's
// queue (net.ipv4.tcp_migrate_req=1); without, the connections queued on
// the old listener at its close are reset, and their loss is only logged.
// As root, with the host's sysctl at 0, the test also runs itself in a
// private network namespace with the sysctl at 1 (see rerunWithTCPMigration),
// so both kernel settings are checked on every run.
func TestRollingHandover(t *testing.T) {
	if testing.Short() {
		t.Skip("steady load for a few seconds")
	}
	migrates := kernelMigratesTCP()
	if !migrates && os.Getenv(netnsEnv) == "" {
		t.Run("netns tcp_migrate_req=1", rerunWithTCPMigration)
	}
	for _, tc := range []struct {
		name        string
		bind        string // the servers' address; the clients send to 127.0.0.1
		keepInGroup bool
	}{
		{"leave the group, then drain", "127.0.0.1", false},
		// Go binds a dual-stack [::] socket: the connect rehashes it out
		// of the group, and drain replies from ::ffff:127.0.0.1.
		{"wildcard address", "0.0.0.0", false},
		{"naive drain", "127.0.0.1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, _ := newTestHandler(t, nil)
			const rounds = 4
			type instance struct {
				s      *Server
				h      *countingHandler
				cancel context.CancelFunc
				done   chan error
			}
			addr := net.JoinHostPort(tc.bind, "0")
			start := func() *instance {
				in := &instance{h: &countingHandler{Handler: base}, done: make(chan error, 1)}
				s := NewServer(addr, in.h, nil)
				s.keepInGroup = tc.keepInGroup
				in.s = s
				ctx, cancel := context.WithCancel(context.Background())
				in.cancel = cancel
				go func() { in.done <- s.Run(ctx) }()
				select {
				case <-s.Ready():
				case err := <-in.done:
					t.Fatalf("server on %s did not start: %v", addr, err)
				}
				u, _ := s.Addrs()
				addr = net.JoinHostPort(tc.bind, strconv.Itoa(u.(*net.UDPAddr).Port))
				return in
			}
			stopInstance := func(in *instance) {
				in.cancel()
				select {
				case err := <-in.done:
					if err != nil {
						t.Errorf("Run: %v", err)
					}
				case <-time.After(drainMax + ShutdownTimeout + time.Second):
					t.Fatal("Run did not return")
				}
			}

			old := start()
			_, port, _ := net.SplitHostPort(addr)
			load, err := dnsload.StartSteady(net.JoinHostPort("127.0.0.1", port), handoverQuery(t), 32, 4, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer load.Stop() // on a failure
			time.Sleep(200 * time.Millisecond)
			cutShort := 0 // drains that reached drainMax: their leftovers are lost by design
			for round := range rounds {
				next := start()
				time.Sleep(200 * time.Millisecond) // both serve
				began := time.Now()
				stopInstance(old)
				if old.s.drainCutShort.Load() {
					cutShort++
				}
				t.Logf("round %d: old instance answered %d UDP queries, stopped in %s, drain cut short: %v",
					round, old.h.udp.Load(), time.Since(began).Round(time.Millisecond), old.s.drainCutShort.Load())
				if old.h.udp.Load() == 0 {
					t.Errorf("round %d: the old instance answered nothing: the load does not reach every socket", round)
				}
				old = next
			}
			time.Sleep(200 * time.Millisecond)
			udp, tcp, err := load.Stop()
			if err != nil {
				t.Fatal(err)
			}
			stopInstance(old)

			// A query not answered NOERROR is lost; Failures say where.
			udpLost := udp.Sent - udp.NoError
			tcpLost := tcp.Sent - tcp.NoError
			t.Logf("%d handovers: UDP %d sent, %d lost; TCP %d sent, %d lost %v rcodes %v (tcp_migrate_req=1: %v)",
				rounds, udp.Sent, udpLost, tcp.Sent, tcpLost, tcp.Failures, tcp.Rcodes, migrates)
			if migrates && tcpLost != 0 {
				t.Errorf("%d TCP queries lost across %d handovers with tcp_migrate_req=1, want 0: %v", tcpLost, rounds, tcp.Failures)
			}
			if tcp.NoError < 100 {
				t.Errorf("only %d TCP queries answered: no steady load", tcp.NoError)
			}
			if udp.NoError < 1000 {
				t.Errorf("only %d UDP queries answered: no steady load", udp.NoError)
			}
			switch {
			case tc.keepInGroup && udpLost == 0:
				t.Errorf("the naive drain lost no UDP query: this test cannot tell a handover that loses from one that does not")
			case !tc.keepInGroup && udpLost != 0 && cutShort == 0:
				t.Errorf("%d UDP queries lost across %d handovers whose drains all finished, want 0", udpLost, rounds)
			case !tc.keepInGroup && cutShort == rounds:
				// A drain that runs out of time loses what is still queued,
				// as documented; if every one did, this run shows nothing.
				t.Errorf("every drain reached its %s bound (%d UDP queries lost): the machine is too busy for this test to tell", drainMax, udpLost)
			case !tc.keepInGroup && udpLost != 0:
				t.Logf("%d UDP queries lost in %d of %d handovers whose drain reached its %s bound", udpLost, cutShort, rounds, drainMax)
			}
		})
	}
}

// netnsEnv marks the copy of the test binary that rerunWithTCPMigration
// runs in its network namespace.
const netnsEnv = "GLB_TEST_NETNS"

// rerunWithTCPMigration runs TestRollingHandover again in a private network
// namespace (its own loopback and sysctls, so the host's setting is left
// alone) with net.ipv4.tcp_migrate_req=1, where TCP must lose nothing. It
// skips when it cannot make one: not root, no unshare or ip, or a sandbox
// that forbids new namespaces.
func rerunWithTCPMigration(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a network namespace needs root")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("a network namespace needs %s: %v", tool, err)
		}
	}
	if out, err := exec.Command("unshare", "--net", "true").CombinedOutput(); err != nil {
		t.Skipf("unshare --net: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "sh", "-c",
		`ip link set lo up && echo 1 >/proc/sys/net/ipv4/tcp_migrate_req && exec "$@"`, "sh",
		os.Args[0], "-test.run", "^TestRollingHandover$", "-test.count", "1", "-test.v", "-test.timeout", "170s")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, "handovers:") || strings.Contains(line, "want 0") {
			t.Log(strings.TrimSpace(line))
		}
	}
	if err != nil {
		t.Errorf("in a network namespace with tcp_migrate_req=1: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "tcp_migrate_req=1: true") {
		t.Errorf("the namespace run did not see tcp_migrate_req=1:\n%s", out)
	}
}
