package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Cluster raft timing. A tick of 10 ms and an election timeout of 100 ms
// make the first election and the election after a killed leader take about
// a tenth of a second instead of one to two seconds. Pre-vote (on by
// default) keeps a member that was starved of CPU on a loaded machine from
// deposing a healthy leader when it comes back.
const (
	clusterTickMs     = 10
	clusterElectionMs = 100
)

// clusterAttempts is how often StartCluster starts over, on fresh ports,
// when a port it picked was taken before etcd could bind it.
const clusterAttempts = 3

// Cluster is a real etcd cluster of several embedded members on loopback,
// for tests of what glb does when members fail. Clients connect to each
// member through a relay (cluster_relay.go) whose address never changes,
// and the members advertise those addresses, so a client that syncs its
// endpoints from the member list still goes through them.
//
// Members are numbered from 0. Kill stops a member as a crash would (no
// leadership transfer, connections dropped at once) and keeps its data;
// Restart brings it back on the same ports with the same data.
type Cluster struct {
	token   string // initial cluster token, unique to the test
	members []*member

	clientOnce sync.Once
	client     *clientv3.Client
}

type member struct {
	name      string
	dir       string
	clientURL url.URL // where the member listens for clients (behind relay)
	peerURL   url.URL
	relay     *relay

	mu      sync.Mutex
	etcd    *embed.Etcd   // nil while killed
	stopped chan struct{} // closed when the last killed etcd has released its ports
}

// StartCluster starts an n-member cluster, waits until every member serves
// and stops it when the test ends. It skips the test under -short.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("etcdtest: skipping test with a real etcd cluster in -short mode")
	}
	var err error
	for range clusterAttempts {
		var c *Cluster
		c, err = startCluster(t, n)
		if err == nil {
			t.Cleanup(func() { c.close(t) })
			return c
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	t.Fatalf("etcdtest: start cluster of %d: %v", n, err)
	return nil
}

func startCluster(t testing.TB, n int) (_ *Cluster, err error) {
	c := &Cluster{token: fmt.Sprintf("etcdtest-%x", rand.Uint64())}
	defer func() {
		if err != nil {
			c.close(t)
		}
	}()
	base := t.TempDir()
	var initial []string
	for i := range n {
		m := &member{name: fmt.Sprintf("m%d", i), dir: filepath.Join(base, fmt.Sprintf("m%d", i))}
		if m.relay, err = newRelay(); err != nil {
			return c, fmt.Errorf("relay: %w", err)
		}
		c.members = append(c.members, m)
		cport, err := pickPort()
		if err != nil {
			return c, err
		}
		pport, err := pickPort()
		if err != nil {
			return c, err
		}
		m.clientURL = url.URL{Scheme: "http", Host: cport}
		m.peerURL = url.URL{Scheme: "http", Host: pport}
		initial = append(initial, m.name+"="+m.peerURL.String())
	}
	// embed.StartEtcd does not wait for the peers: every member is started,
	// then all are awaited together, as a first election needs a quorum.
	for _, m := range c.members {
		if err := c.launch(m, strings.Join(initial, ",")); err != nil {
			return c, err
		}
	}
	return c, c.awaitReady(t.Context(), c.members)
}

// pickPort returns a free loopback address whose port lies below the
// kernel's ephemeral range. A port picked with ":0" comes from that range,
// and once released it can be taken by any outgoing connection (there are
// hundreds during a test run) before a killed member binds it again; ports
// below the range are only ever taken by a listener asking for them.
func pickPort() (string, error) {
	const lo, hi = 20000, 32000 // Linux's default ephemeral range starts at 32768
	for range 50 {
		addr := fmt.Sprintf("127.0.0.1:%d", lo+rand.IntN(hi-lo))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		return addr, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// config is the member's embed configuration. initial is only read on the
// first start: a member with data ignores it.
func (c *Cluster) config(m *member, initial string) *embed.Config {
	ec := embed.NewConfig()
	ec.Name = m.name
	ec.Dir = m.dir
	ec.ListenClientUrls = []url.URL{m.clientURL}
	ec.AdvertiseClientUrls = []url.URL{{Scheme: "http", Host: m.relay.addr()}}
	ec.ListenPeerUrls = []url.URL{m.peerURL}
	ec.AdvertisePeerUrls = []url.URL{m.peerURL}
	ec.InitialCluster = initial
	// A token of its own keeps a member from ever joining the peers of
	// another test that reused one of its ports.
	ec.InitialClusterToken = c.token
	ec.ClusterState = embed.ClusterStateFlagNew
	ec.TickMs, ec.ElectionMs = clusterTickMs, clusterElectionMs
	ec.UnsafeNoFsync = true
	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	return ec
}

// launch starts m's etcd without waiting for it to serve.
func (c *Cluster) launch(m *member, initial string) error {
	e, err := embed.StartEtcd(c.config(m, initial))
	if err != nil {
		return fmt.Errorf("start etcd member %s: %w", m.name, err)
	}
	m.mu.Lock()
	m.etcd = e
	m.mu.Unlock()
	return nil
}

// awaitReady waits until every member of ms serves clients, then opens
// their relays.
func (c *Cluster) awaitReady(ctx context.Context, ms []*member) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for _, m := range ms {
		e := m.running()
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			return fmt.Errorf("etcd member %s: %w", m.name, err)
		case <-ctx.Done():
			return fmt.Errorf("etcd member %s: wait for ready: %w", m.name, ctx.Err())
		}
		m.relay.up(m.clientURL.Host)
	}
	return nil
}

func (m *member) running() *embed.Etcd {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.etcd
}

// Size is the number of members, running or not.
func (c *Cluster) Size() int { return len(c.members) }

// Endpoints returns the client URLs of every member, in member order; they
// stay the same across Kill and Restart.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = "http://" + m.relay.addr()
	}
	return out
}

// Endpoint returns member i's client URL.
func (c *Cluster) Endpoint(i int) string { return c.Endpoints()[i] }

// Running reports whether member i runs.
func (c *Cluster) Running(i int) bool { return c.members[i].running() != nil }

// Kill stops member i as a crash would: its client connections drop at
// once, and if it leads, the others notice only when its heartbeats stop
// (etcd's own Close would hand leadership over first). Its data directory
// and ports are kept for Restart. Killing a killed member does nothing.
func (c *Cluster) Kill(t testing.TB, i int) {
	t.Helper()
	m := c.members[i]
	m.mu.Lock()
	e := m.etcd
	m.etcd = nil
	m.mu.Unlock()
	if e == nil {
		return
	}
	m.relay.down()
	// HardStop ends raft at once, without the leadership transfer of
	// Close. Close then closes the listeners, which takes up to a second
	// while peers hold connections to it; the member is dead to them
	// already, so the test goes on meanwhile and only Restart waits.
	e.Server.HardStop()
	stopped := make(chan struct{})
	m.mu.Lock()
	m.stopped = stopped
	m.mu.Unlock()
	go func() {
		defer close(stopped)
		e.Close()
	}()
}

// waitStopped waits until m's last etcd has closed its listeners.
func (m *member) waitStopped() {
	m.mu.Lock()
	ch := m.stopped
	m.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// KillAll kills every running member at the same moment.
func (c *Cluster) KillAll(t testing.TB) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range c.members {
		wg.Go(func() { c.Kill(t, i) })
	}
	wg.Wait()
}

// Restart starts killed member i again with its data, on its ports, and
// waits until it serves, which needs a quorum of members running.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	c.restart(t, []*member{c.members[i]})
}

// RestartAll restarts every killed member and waits until all serve.
func (c *Cluster) RestartAll(t testing.TB) {
	t.Helper()
	var ms []*member
	for _, m := range c.members {
		if m.running() == nil {
			ms = append(ms, m)
		}
	}
	c.restart(t, ms)
}

func (c *Cluster) restart(t testing.TB, ms []*member) {
	t.Helper()
	for _, m := range ms {
		if m.running() != nil {
			t.Fatalf("etcdtest: Restart of running member %s; Kill it first", m.name)
		}
		m.waitStopped()
		// The member's ports were free when it was killed; a listener
		// that holds one briefly (another test's port probe) is waited
		// out.
		var err error
		for attempt := 0; attempt < 20; attempt++ {
			if err = c.launch(m, ""); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("etcdtest: restart: %v", err)
		}
	}
	if err := c.awaitReady(t.Context(), ms); err != nil {
		t.Fatalf("etcdtest: restart: %v", err)
	}
}

// Leader returns the index of the member that leads, as the running
// members see it, waiting up to 10s for them to agree on a running one.
func (c *Cluster) Leader(t testing.TB) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if i, ok := c.leader(); ok {
			return i
		}
		if time.Now().After(deadline) {
			t.Fatal("etcdtest: no leader agreed on by the running members within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *Cluster) leader() (int, bool) {
	lead, idx := uint64(0), -1
	for i, m := range c.members {
		e := m.running()
		if e == nil {
			continue
		}
		l := e.Server.Lead()
		if l == 0 || (lead != 0 && l != lead) {
			return -1, false
		}
		lead = l
		if uint64(e.Server.MemberID()) == l {
			idx = i
		}
	}
	return idx, idx >= 0
}

// Follower returns the index of a running member that does not lead.
func (c *Cluster) Follower(t testing.TB) int {
	t.Helper()
	l := c.Leader(t)
	for i := range c.members {
		if i != l && c.Running(i) {
			return i
		}
	}
	t.Fatal("etcdtest: no running follower")
	return -1
}

// Pause holds all client traffic to and from member i, without closing
// any connection, until Resume. Its peers still reach it.
func (c *Cluster) Pause(i int) { c.members[i].relay.pause() }

// Resume lets member i's client traffic through again.
func (c *Cluster) Resume(i int) { c.members[i].relay.resume() }

// DropConnections closes every client connection to member i, as a
// network fault or a keepalive timeout would, and resumes a paused relay;
// the member keeps running and clients can connect again at once.
func (c *Cluster) DropConnections(i int) { c.members[i].relay.drop() }

func (c *Cluster) close(t testing.TB) {
	var wg sync.WaitGroup
	for _, m := range c.members {
		wg.Go(func() {
			// As Kill: a leadership transfer to members that are
			// closing too would wait for its timeout.
			if e := m.running(); e != nil {
				m.relay.down()
				e.Server.HardStop()
				e.Close()
			}
			m.waitStopped()
			m.relay.close()
		})
	}
	wg.Wait()
}
