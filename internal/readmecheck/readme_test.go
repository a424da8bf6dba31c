package readmecheck

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glb-dns/glb/store"
)

// Sections names the README sections whose examples are run, in README's
// order: each may rely on what the one before changed.
var Sections = []string{"Try it", "Health: probers, quorum and failing open", "Policies", "The ECS scope"}

// dHelper is README's shell helper that the d command stands for; if README
// changes it, the interpreter must change too.
const dHelper = `d() { dig @127.0.0.1 -p 5353 "$@" +short | sort; }`

// TestReadme is make readme-check: it builds glbd, starts it in dev mode
// on free ports, and runs README's examples against it. Set
// GLB_README_CHECK=1 to run it; GLB_README_CHECK_HOST is the loopback
// address glbd binds (default 127.0.0.1).
func TestReadme(t *testing.T) {
	if os.Getenv("GLB_README_CHECK") == "" {
		t.Skip("set GLB_README_CHECK=1 (make readme-check) to run README's examples against glbd -dev")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	if !strings.Contains(readme, dHelper) {
		t.Fatalf("README no longer defines %s: teach readmecheck its d()", dHelper)
	}
	examples, rows, err := Parse(readme, Sections)
	if err != nil {
		t.Fatal(err)
	}
	g := startDev(t, root)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	client, err := store.NewClient(store.Config{Endpoints: []string{"http://" + g.etcd}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	env := &Env{DNS: g.dns, Backends: g.backendMap(t, root),
		Put: func(ctx context.Context, key, value string) error {
			_, err := client.Put(ctx, key, value)
			return err
		},
		Delete: func(ctx context.Context, key string) (int64, error) {
			r, err := client.Delete(ctx, key)
			if err != nil {
				return 0, err
			}
			return r.Deleted, nil
		},
	}

	// A row is asked again for up to 6 s, as the examples are: glbd answers
	// before its ECS scope tables are built (and again after each health
	// change while they are rebuilt), with scopes that are truthful but
	// narrower than the ones README shows once the tables are in.
	rowAnswer := func(r Row) (got []string, scope int, err error) {
		m, err := env.query(ctx, "www.gslb.example.test", 1, r.Subnet)
		if err != nil {
			return nil, 0, err
		}
		for _, rr := range m.Answer {
			got = append(got, strings.Fields(rr.String())[4])
		}
		scope = -1
		if opt := m.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if s, ok := o.(interface{ String() string }); ok && strings.Count(s.String(), "/") == 2 {
					fmt.Sscanf(s.String()[strings.LastIndex(s.String(), "/")+1:], "%d", &scope)
				}
			}
		}
		slices.Sort(got)
		return got, scope, nil
	}
	for _, r := range rows {
		want := slices.Sorted(slices.Values(r.Addrs))
		same := func(got []string, scope int) bool {
			return (r.Addrs == nil || slices.Equal(got, want)) && scope == r.Scope
		}
		got, scope, err := rowAnswer(r)
		for deadline := time.Now().Add(6 * time.Second); err == nil && !same(got, scope) && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
			got, scope, err = rowAnswer(r)
		}
		if err != nil {
			t.Errorf("README.md:%d: %v", r.Line, err)
			continue
		}
		if !same(got, scope) {
			t.Errorf("README.md:%d: +subnet=%s answers %v with scope %d; README says %v with scope %d", r.Line, r.Subnet, got, scope, want, r.Scope)
		}
	}
	for _, ex := range examples {
		out, err := env.Run(ctx, ex.Command)
		// A change takes a moment to reach the answers (the watch, the
		// prober's checks): a query is asked again for a few seconds.
		for deadline := time.Now().Add(6 * time.Second); err == nil && !Same(ex.Command, out, ex.Want) &&
			ReadOnly(ex.Command) && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
			out, err = env.Run(ctx, ex.Command)
		}
		switch {
		case err != nil:
			t.Errorf("README.md:%d: $ %s\n%v", ex.Line, ex.Command, err)
		case !Same(ex.Command, out, ex.Want):
			t.Errorf("README.md:%d: $ %s\ngot:\n%s\nREADME shows:\n%s", ex.Line, ex.Command, indent(out), indent(strings.Join(ex.Want, "\n")))
		}
	}
	g.stop(t)
	t.Logf("checked %d console examples and %d table rows of README.md's sections %q", len(examples), len(rows), Sections)
	if errs := regexp.MustCompile(`(?m)^.*level=(ERROR|WARN).*$`).FindAllString(g.log(), -1); len(errs) > 0 {
		t.Errorf("glbd logged at WARN or ERROR while the examples ran:\n%s", strings.Join(errs, "\n"))
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// devGlbd is a running glbd -dev and what its start-up lines said.
type devGlbd struct {
	cmd      *exec.Cmd
	stderr   *syncBuffer
	dns      string
	http     string
	etcd     string
	backends map[string]string // by region
	done     chan error
}

// startDev builds glbd and starts it in dev mode from root (where its
// default seed and GeoIP database are), on free ports of the check's host.
func startDev(t *testing.T, root string) *devGlbd {
	t.Helper()
	host := os.Getenv("GLB_README_CHECK_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	bin := filepath.Join(t.TempDir(), "glbd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/glbd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build glbd: %v\n%s", err, out)
	}
	g := &devGlbd{stderr: &syncBuffer{}, backends: map[string]string{}, done: make(chan error, 1)}
	g.cmd = exec.Command(bin, "-dev", "-dns", host+":0", "-http", host+":0", "-dev-etcd", host+":0")
	g.cmd.Dir = root
	g.cmd.Stderr = g.stderr
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.stop(t) })
	go func() { g.done <- g.cmd.Wait() }()

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	addr := regexp.MustCompile(`^\s+(DNS|HTTP|etcd)\s+(?:http://)?([^\s/]+)`)
	backend := regexp.MustCompile(`^\s+(\S+)\s+http://(\S+)/$`)
	inBackends := false
	timeout := time.After(60 * time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			switch m, b := addr.FindStringSubmatch(l), backend.FindStringSubmatch(l); {
			case !ok:
				t.Fatalf("glbd ended before its start-up lines were read:\n%s", g.log())
			case strings.HasPrefix(l, "Stand-in backends"):
				inBackends = true
			case inBackends && b != nil:
				g.backends[b[1]] = b[2]
			case m != nil && m[1] == "DNS":
				g.dns = m[2]
			case m != nil && m[1] == "HTTP":
				g.http = m[2]
			case m != nil && m[1] == "etcd":
				g.etcd = m[2]
			}
		case <-time.After(time.Second):
			done = inBackends // the lines come all at once: a pause ends them
		case <-timeout:
			t.Fatalf("no start-up lines within 60 s:\n%s", g.log())
		}
	}
	go func() {
		for range lines { // drain the rest
		}
	}()
	if g.dns == "" || g.http == "" || g.etcd == "" || len(g.backends) == 0 {
		t.Fatalf("start-up lines: dns %q, http %q, etcd %q, backends %v", g.dns, g.http, g.etcd, g.backends)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + g.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("glbd not ready within 30 s:\n%s", g.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return g
}

// backendMap maps the backend addresses of the seed glbd loaded (the ones
// README uses) to where the backends are: the seed names each region, then
// its check's connect address.
func (g *devGlbd) backendMap(t *testing.T, root string) map[string]string {
	t.Helper()
	m := regexp.MustCompile(`msg="seeded example configuration" file=(\S+)`).FindStringSubmatch(g.log())
	if m == nil {
		t.Fatalf("glbd did not say which seed it loaded:\n%s", g.log())
	}
	seed, err := os.ReadFile(filepath.Join(root, strings.Trim(m[1], `"`)))
	if err != nil {
		t.Fatal(err)
	}
	words := regexp.MustCompile(`127\.0\.0\.1:[0-9]+|[a-z0-9][a-z0-9_.-]*`).FindAllString(string(seed), -1)
	out := map[string]string{}
	region := ""
	for _, w := range words {
		if _, ok := g.backends[w]; ok {
			region = w
		} else if strings.HasPrefix(w, "127.0.0.1:") && region != "" {
			out[w] = g.backends[region]
		}
	}
	if len(out) != len(g.backends) {
		t.Fatalf("seed backends %v, but glbd started %v", out, g.backends)
	}
	return out
}

// stop ends glbd with SIGTERM, as Ctrl-C would, and waits for it.
func (g *devGlbd) stop(t *testing.T) {
	if g.cmd.ProcessState != nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("glbd: %v\n%s", err, g.log())
		}
	case <-time.After(20 * time.Second):
		_ = g.cmd.Process.Kill()
		t.Errorf("glbd did not stop within 20 s of SIGTERM")
		<-g.done
	}
}

func (g *devGlbd) log() string { return g.stderr.String() }

// syncBuffer is glbd's stderr, written by os/exec while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
