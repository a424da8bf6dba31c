package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/internal/dnsload"
)

// TestRollingRestartProcesses builds glbd and runs real processes on one
// DNS address against one etcd, under steady UDP and TCP load: start the
// next process, wait for its /readyz, SIGTERM the old one; again and
// again. Every UDP query must be answered; TCP loss is reported, not
// failed: it is zero or near it only when the kernel migrates a closing
// listener's queue (net.ipv4.tcp_migrate_req=1). GLB_RESTARTS (default 3) sets how many
// restarts; make restart-check runs more and prints the summary line.
func TestRollingRestartProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds glbd and runs it under load")
	}
	restarts := 3
	if s := os.Getenv("GLB_RESTARTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			t.Fatalf("GLB_RESTARTS=%q: want 1..1000", s)
		}
		restarts = n
	}
	bin := buildGlbd(t)
	etcd := seededEtcd(t)
	args := []string{"-http", "127.0.0.1:0", "-etcd", strings.Join(etcd.Endpoints(), ","),
		"-geoip", testDB, "-cache-file", "", "-geoip-poll", "0"}

	old := startGlbd(t, bin, append([]string{"-dns", "127.0.0.1:0"}, args...))
	addr := old.dns
	// Bounded: each restart takes about a second; the load stops at
	// stopLoad or after this long, whichever comes first.
	load, err := dnsload.StartSteady(addr, glbdQuery(t), 32, 4, time.Duration(restarts)*5*time.Second+30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer load.Stop() // on a failure
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	for i := range restarts {
		next := startGlbd(t, bin, append([]string{"-dns", addr}, args...))
		time.Sleep(200 * time.Millisecond) // both serve
		before := load.UDP.Stats().NoError
		if err := old.stop(); err != nil {
			t.Fatalf("restart %d: old glbd: %v\n%s", i, err, old.log())
		}
		if load.UDP.Stats().NoError == before {
			t.Errorf("restart %d: no UDP answers while the old glbd stopped", i)
		}
		old = next
	}
	time.Sleep(300 * time.Millisecond)
	udp, tcp, err := load.Stop()
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if err := old.stop(); err != nil {
		t.Errorf("last glbd: %v", err)
	}

	// A query not answered NOERROR is lost.
	udpLost := udp.Sent - udp.NoError
	tcpLost := tcp.Sent - tcp.NoError
	// One line, parsed by deploy/restart-check.sh.
	t.Logf("restart-check: restarts=%d seconds=%.1f udp_sent=%d udp_answered=%d udp_lost=%d tcp_sent=%d tcp_answered=%d tcp_lost=%d tcp_migrate_req=%v",
		restarts, took.Seconds(), udp.Sent, udp.NoError, udpLost,
		tcp.Sent, tcp.NoError, tcpLost, tcpMigrates())
	if udp.NoError < int64(restarts)*100 {
		t.Errorf("only %d UDP answers: no steady load", udp.NoError)
	}
	if udpLost != 0 {
		t.Errorf("%d UDP queries lost over %d rolling restarts, want 0", udpLost, restarts)
	}
}

// buildGlbd compiles this package into the test's temporary directory.
func buildGlbd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "glbd")
	goBin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// glbdProcess is one glbd run by a test.
type glbdProcess struct {
	cmd      *exec.Cmd
	dns      string // bound DNS address
	http     string
	exited   chan struct{}
	exitErr  error
	mu       sync.Mutex
	stderr   strings.Builder
	stopOnce sync.Once
}

// startGlbd starts glbd with args and waits until /readyz says ready (at
// most 15 s). The process is killed when the test ends, if still running.
func startGlbd(t *testing.T, bin string, args []string) *glbdProcess {
	t.Helper()
	p := &glbdProcess{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	started := make(chan struct{})
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stderr)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			if strings.Contains(line, `msg="glbd started"`) {
				p.dns, p.http = logValue(line, "dns="), logValue(line, "http=")
				once.Do(func() { close(started) })
			}
			p.mu.Unlock()
		}
		p.exitErr = p.cmd.Wait()
	}()
	select {
	case <-started:
	case <-p.exited:
		t.Fatalf("glbd %v exited at start: %v\n%s", args, p.exitErr, p.log())
	case <-time.After(15 * time.Second):
		t.Fatalf("glbd %v did not start in 15s\n%s", args, p.log())
	}
	p.mu.Lock()
	if strings.HasSuffix(p.dns, ":0") { // the flag as given; the bound address is logged by the DNS server
		p.dns = logValue(p.stderr.String(), "udp=")
	}
	dnsAddr := p.dns
	p.mu.Unlock()
	if dnsAddr == "" {
		t.Fatalf("glbd %v: no bound DNS address before \"glbd started\"\n%s", args, p.log())
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + p.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("glbd on %s not ready in 15s\n%s", p.dns, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM, as systemctl stop does, and waits for a clean exit.
func (p *glbdProcess) stop() error {
	p.stopOnce.Do(func() { _ = p.cmd.Process.Signal(syscall.SIGTERM) })
	select {
	case <-p.exited:
		return p.exitErr
	case <-time.After(15 * time.Second):
		return fmt.Errorf("glbd did not exit within 15s of SIGTERM")
	}
}

func (p *glbdProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// logValue returns the value of key (with its '=') in a slog text line.
func logValue(line, key string) string {
	i := strings.Index(line, " "+key)
	if i < 0 {
		return ""
	}
	v, _, _ := strings.Cut(line[i+1+len(key):], " ")
	return strings.Trim(v, `"`)
}

// tcpMigrates reports whether the kernel moves the connections queued on a
// closing SO_REUSEPORT listener to another listener of its group.
func tcpMigrates() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_migrate_req")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// glbdQuery is the query of the steady load: www, A, from London.
func glbdQuery(t *testing.T) []byte {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("www."+zone, dns.TypeA)
	q.SetEdns0(1232, false)
	q.IsEdns0().Option = append(q.IsEdns0().Option, ecsOpt(londonECS))
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return wire
}
