package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo/geotest"
	"github.com/glb-dns/glb/internal/dnsload"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/embedded"
	"github.com/glb-dns/glb/store/schema"
)

// Series read from glbd's /metrics.
const (
	mGoroutines = "go_goroutines"
	mHeapInuse  = "go_memstats_heap_inuse_bytes"
	mReloadsOK  = `glb_geoip_reloads_total{result="ok"}`
	mProbers    = "glb_health_probers"
)

// stopTimeout bounds the graceful stop of a child process.
const stopTimeout = 10 * time.Second

// run is the whole soak; the error lists every failed check.
func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir := cfg.WorkDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "glbsoak-*"); err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
		defer func() {
			if err == nil {
				os.RemoveAll(dir)
			} else {
				fmt.Fprintf(out, "logs kept in %s\n", dir)
			}
		}()
	}

	etcd, err := embedded.Start(ctx, embedded.Config{Dir: filepath.Join(dir, "etcd"), NoFsync: true}, log)
	if err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}
	defer etcd.Close()
	endpoint := etcd.Endpoints()[0]
	cli, err := store.NewClient(store.Config{Endpoints: etcd.Endpoints()}, log)
	if err != nil {
		return err
	}
	defer cli.Close()
	put := func(ctx context.Context, k, v string) error {
		_, err := cli.Put(ctx, schema.DefaultPrefix+k, v)
		return err
	}

	backends := map[string]*backend{}
	addrs := map[string]string{}
	defer func() {
		for _, b := range backends {
			b.Close()
		}
	}()
	for _, r := range soakRegions {
		b, err := startBackend()
		if err != nil {
			return err
		}
		backends[r.id], addrs[r.id] = b, b.Addr()
	}
	kvs, err := buildConfig(addrs)
	if err != nil {
		return err
	}
	if _, err := store.Seed(ctx, cli, schema.DefaultPrefix, kvs); err != nil {
		return err
	}

	rows, err := geotest.ReadCSVFile(cfg.GeoIPCSV)
	if err != nil {
		return err
	}
	geoPath := filepath.Join(dir, "geoip.mmdb")
	if err := (geotest.Options{}).WriteFile(geoPath, rows); err != nil {
		return err
	}

	dnsPort, err := freeDNSPort()
	if err != nil {
		return err
	}
	httpPort, err := freeDNSPort()
	if err != nil {
		return err
	}
	dnsAddr := "127.0.0.1:" + strconv.Itoa(dnsPort)
	httpAddr := "127.0.0.1:" + strconv.Itoa(httpPort)
	glbd, err := startProcess("glbd", dir, cfg.Glbd, "-etcd", endpoint, "-dns", dnsAddr, "-http", httpAddr,
		"-geoip", geoPath, "-geoip-poll", "200ms", "-cache-file=", "-log-level", "info")
	if err != nil {
		return err
	}
	defer func() {
		if !glbd.exited() {
			_ = glbd.Stop(stopTimeout)
		}
	}()
	startProber := func(p proberSpec) (*process, error) {
		return startProcess("glbprobe-"+p.id, dir, cfg.Glbprobe, "-id", p.id, "-location", p.location,
			"-etcd", endpoint, "-http", "127.0.0.1:0", "-log-level", "warn")
	}
	base, err := startProber(proberSpec{id: "soak-base", location: "50.11,8.68"})
	if err != nil {
		return err
	}
	defer func() {
		if !base.exited() {
			_ = base.Stop(stopTimeout)
		}
	}()

	sc := newScraper(httpAddr)
	if err := waitReady(ctx, glbd, sc, dnsAddr); err != nil {
		return err
	}
	fmt.Fprintf(out, "glbsoak: glbd on %s (http %s), etcd %s, work dir %s; load %.0f q/s udp + %.0f q/s tcp for %s\n",
		dnsAddr, httpAddr, endpoint, dir, cfg.Rate, cfg.TCPRate, cfg.Duration)

	// The soak proper: everything below runs until loadCtx ends.
	timeline := newDrainTimeline()
	j := newJudge(timeline, cfg.Timeout, cfg.Grace)
	rng := rand.New(rand.NewPCG(cfg.Seed, 2))
	loadCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var runErrs []error
	goRun := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(loadCtx); err != nil {
				mu.Lock()
				runErrs = append(runErrs, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
				cancel() // one part failing ends the soak
			}
		})
	}
	loads := map[string]float64{dnsload.UDP: cfg.Rate, dnsload.TCP: cfg.TCPRate}
	for i, transport := range []string{dnsload.UDP, dnsload.TCP} {
		if loads[transport] == 0 {
			continue
		}
		workers := 1
		if transport == dnsload.UDP {
			workers = cfg.Sockets
		}
		l, err := newLoad(transport, dnsAddr, j, loads[transport], workers, cfg.Duration, cfg.Seed+uint64(i)*7919)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		goRun(transport+" load", func(ctx context.Context) error { _, err := l.Run(ctx); return err })
	}
	fl := &flipper{put: put, timeline: timeline, tick: cfg.FlipEvery, rotateEvery: int(cfg.RotateEvery / cfg.FlipEvery), rng: rng}
	goRun("weight flipper", fl.Run)
	churn := &proberChurn{period: cfg.ChurnEvery, start: startProber, backends: backends}
	goRun("prober churn", churn.Run)
	smp := &sampler{scraper: sc, start: start, glbd: glbd}
	goRun("sampler", smp.Run)
	geo := &geoReplacer{path: geoPath, versions: geoVersions(rows), scraper: sc, dnsAddr: dnsAddr, duration: cfg.Duration}
	goRun("geoip replacer", geo.Run)
	stalls := &stallWatch{}
	goRun("stall watch", stalls.Run)
	wg.Wait()
	loadTook := time.Since(start)
	runErrs = append(runErrs, churn.errs...)

	// Shut down in order; each stop must be clean.
	if glbd.exited() {
		runErrs = append(runErrs, fmt.Errorf("glbd exited during the soak: %v; log:\n%s", glbd.err, glbd.tail(20)))
	} else if err := glbd.Stop(stopTimeout); err != nil {
		runErrs = append(runErrs, fmt.Errorf("stop glbd: %w", err))
	}
	if err := base.Stop(stopTimeout); err != nil {
		runErrs = append(runErrs, fmt.Errorf("stop prober: %w", err))
	}
	s := summarise(cfg, j, fl, churn, smp, geo, stalls, loadTook)
	s.print(out)
	return errors.Join(append(runErrs, s.failures...)...)
}

// waitReady waits until glbd is ready and answers www.
func waitReady(ctx context.Context, glbd *process, sc *scraper, dnsAddr string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	readyURL := "http://" + sc.url[len("http://"):len(sc.url)-len("/metrics")] + "/readyz"
	var state string // what is still missing, for the error
	for {
		if glbd.exited() {
			return fmt.Errorf("glbd exited at start-up: %v; log:\n%s", glbd.err, glbd.tail(20))
		}
		state = readiness(ctx, sc, readyURL, dnsAddr)
		if state == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("glbd not ready within 30 s: %s; log:\n%s", state, glbd.tail(20))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readiness returns "" once glbd is ready, answers www and counts a
// prober, else what is missing.
func readiness(ctx context.Context, sc *scraper, readyURL, dnsAddr string) string {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, readyURL, nil)
	resp, err := sc.client.Do(req)
	if err != nil {
		return fmt.Sprintf("readyz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "readyz: " + resp.Status
	}
	if rs, err := askRegions(dnsAddr, soakNames[0], netip.MustParsePrefix("81.2.69.0/24")); err != nil || len(rs) == 0 {
		return fmt.Sprintf("www answer %v, %v", rs, err)
	}
	m, err := sc.scrape(ctx, mProbers)
	if err != nil || m[mProbers] < 1 {
		return fmt.Sprintf("probers %v, %v", m, err)
	}
	return ""
}

// askRegions asks name A for the client subnet and returns the regions of
// the answer's addresses.
func askRegions(dnsAddr, name string, subnet netip.Prefix) ([]string, error) {
	q := querySpec{name: name, qtype: dns.TypeA}
	b, err := q.pack(dns.Id())
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return nil, err
	}
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1,
		SourceNetmask: uint8(subnet.Bits()), Address: subnet.Addr().AsSlice()}}
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	r, _, err := c.Exchange(m, dnsAddr)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	regions := addrRegions()
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ip, _ := netip.AddrFromSlice(a.A.To4())
			if reg := regions[ip]; reg != "" && !slices.Contains(out, reg) {
				out = append(out, reg)
			}
		}
	}
	return out, nil
}

// stallWatch measures how late the soak's own timers fire: when the machine
// is starved of CPU, the soak's receivers stall too and replies that glbd
// sent in time are read late. It tells such stalls apart from glbd's.
type stallWatch struct {
	mu      sync.Mutex
	longest time.Duration
	n       int
	stalls  []string // "15:04:05 1.2s" for every stall over stallReport
}

const stallReport = 250 * time.Millisecond

func (w *stallWatch) Run(ctx context.Context) error {
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			late := now.Sub(last) - tick
			last = now
			if late < stallReport {
				continue
			}
			w.mu.Lock()
			w.longest = max(w.longest, late)
			w.n++
			if len(w.stalls) < 20 {
				w.stalls = append(w.stalls, fmt.Sprintf("%s %s", now.Add(-late).Format("15:04:05.0"), late.Round(time.Millisecond)))
			}
			w.mu.Unlock()
		}
	}
}

// sample is one scrape of glbd's /metrics.
type sample struct {
	at         time.Duration // since the load started
	goroutines float64
	heapInuse  float64
	probers    float64
}

// sampler scrapes glbd every second for the flatness check and watches
// that glbd stays up.
type sampler struct {
	scraper    *scraper
	start      time.Time
	glbd       *process
	mu         sync.Mutex
	samples    []sample
	scrapeErrs int
}

func (s *sampler) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if s.glbd.exited() {
			return fmt.Errorf("glbd exited: %v", s.glbd.err)
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		m, err := s.scraper.scrape(sctx, mGoroutines, mHeapInuse, mProbers)
		cancel()
		s.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				s.scrapeErrs++
			}
		} else {
			s.samples = append(s.samples, sample{at: time.Since(s.start), goroutines: m[mGoroutines], heapInuse: m[mHeapInuse], probers: m[mProbers]})
		}
		s.mu.Unlock()
	}
}

// geoReplacer installs each GeoIP version at an even share of the run and
// checks that glbd reloaded it (its reload counter) and answers from it
// (the version's client moved).
type geoReplacer struct {
	path     string
	versions []geoVersion
	scraper  *scraper
	dnsAddr  string
	duration time.Duration
	results  []string // one line per version, for the summary
	failures []error
}

// reloadWait bounds the wait for glbd to notice a new file: it polls every
// 200 ms, so 5 s is generous even on a busy machine.
const reloadWait = 5 * time.Second

func (g *geoReplacer) Run(ctx context.Context) error {
	for i, v := range g.versions {
		select {
		case <-ctx.Done():
			g.failures = append(g.failures, fmt.Errorf("geoip: soak ended before replacement %d", i+1))
			return nil
		case <-time.After(g.duration / time.Duration(len(g.versions)+1)):
		}
		before, err := g.scraper.scrape(ctx, mReloadsOK)
		if err != nil {
			return err
		}
		installed := time.Now()
		if err := (geotest.Options{}).WriteFile(g.path, v.rows); err != nil {
			return err
		}
		var reloaded, moved time.Duration
		var last []string
		for deadline := installed.Add(reloadWait); time.Now().Before(deadline) && (reloaded == 0 || moved == 0); {
			if m, err := g.scraper.scrape(ctx, mReloadsOK); err == nil && m[mReloadsOK] > before[mReloadsOK] && reloaded == 0 {
				reloaded = time.Since(installed)
			}
			if rs, err := askRegions(g.dnsAddr, soakNames[0], v.client); err == nil {
				last = rs
				if len(rs) > 0 && !slices.ContainsFunc(rs, func(r string) bool { return !slices.Contains(v.want, r) }) && moved == 0 {
					moved = time.Since(installed)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		line := fmt.Sprintf("replacement %d (%s): reload counted after %s, %s answered from %v after %s",
			i+1, v.what, reloaded.Round(time.Millisecond), v.client, last, moved.Round(time.Millisecond))
		g.results = append(g.results, line)
		if reloaded == 0 || moved == 0 {
			g.failures = append(g.failures, fmt.Errorf("geoip %s", line+" (0s: not within "+reloadWait.String()+")"))
		}
	}
	return nil
}
