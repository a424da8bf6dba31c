package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// backend stands in for a region's load balancer: its /healthz answers 200,
// or 503 while failing, so the soak can change a region's health.
type backend struct {
	ln      net.Listener
	srv     *http.Server
	failing atomic.Bool
	done    chan struct{}
}

func startBackend() (*backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen backend: %w", err)
	}
	b := &backend{ln: ln, done: make(chan struct{})}
	b.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if b.failing.Load() {
			http.Error(w, "failing", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})}
	go func() {
		defer close(b.done)
		_ = b.srv.Serve(ln)
	}()
	return b, nil
}

func (b *backend) Addr() string { return b.ln.Addr().String() }

// Close stops the backend and waits for its serving goroutine.
func (b *backend) Close() error {
	err := b.srv.Close()
	<-b.done
	return err
}

// freeDNSPort returns a loopback port free for both UDP and TCP. glbd
// prints the address it was given rather than the one it bound, so the
// soak picks the port itself; the window in which another process could
// take it is short, and a taken port fails the start loudly.
func freeDNSPort() (int, error) {
	for range 20 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("pick a port: %w", err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		tl.Close()
		if err == nil {
			ul.Close()
			return port, nil
		}
	}
	return 0, errors.New("pick a port: no port free for both udp and tcp")
}

// process is a child process (glbd or glbprobe) whose output goes to a log
// file, stopped with SIGTERM and, if that is not enough, SIGKILL.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // Wait's result, once done is closed
}

func startProcess(name, logDir, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended (which, before Stop, is a
// failure of the soak).
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to timeout for a graceful exit, then
// kills. It returns an error when the process did not exit cleanly.
func (p *process) Stop(timeout time.Duration) error {
	if p.exited() {
		return fmt.Errorf("%s had already exited: %w", p.name, p.err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("%s exit: %w", p.name, p.err)
		}
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", p.name, timeout)
	}
}

// tail returns the last n lines of the process's log, for error reports.
func (p *process) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// scraper reads glbd's /metrics.
type scraper struct {
	url    string
	client *http.Client
	mu     sync.Mutex
}

func newScraper(httpAddr string) *scraper {
	return &scraper{url: "http://" + httpAddr + "/metrics", client: &http.Client{Timeout: 2 * time.Second}}
}

// scrape returns the samples of the wanted series, keyed by the series as
// written in the exposition format (name{labels}); a series not exposed is
// absent from the map.
func (s *scraper) scrape(ctx context.Context, want ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %s", s.url, resp.Status)
	}
	return parseSamples(resp.Body, want)
}

// parseSamples picks the wanted series out of the Prometheus text format.
// A series is matched exactly as written, labels in the registry's order
// (sorted by name), which is all the soak needs.
func parseSamples(r io.Reader, want []string) (map[string]float64, error) {
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || !wanted[line[:i]] {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}
