package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// The prober writes through store.Publisher; this keeps the two in step.
var _ health.Publisher = (*store.Publisher)(nil)

// shutdownTimeout bounds the HTTP server's graceful shutdown.
const shutdownTimeout = 5 * time.Second

// app is one running prober: an etcd watcher that turns the configuration
// into targets, the prober that checks them, the publisher that writes its
// verdicts into etcd under a lease, and the HTTP listener for /metrics.
//
// etcd load. With N regions of M checked endpoints each and P probers,
// every prober writes each verdict again every -refresh (or every check
// interval, when that is longer) even when it has not changed, so that
// readers can tell a live report from a stale one. In steady state that is
//
//	N·M·P / refresh   puts per second (10 regions × 2 endpoints × 5 probers
//	                  every 30s ≈ 3.3/s), plus
//	one put per verdict change, plus
//	P · 3 / lease-ttl lease keepalives per second (one per TTL/3 per prober;
//	                  keepalives go to the leader but are not raft writes).
//
// Each put is a new etcd revision that every glbd watcher receives, so
// etcd needs auto-compaction (e.g. --auto-compaction-retention=1h). After a
// lost lease a prober rewrites its registration and all N·M verdicts in
// transactions of up to 100 keys. glb_prober_etcd_writes_total counts what
// a prober actually writes.
type app struct {
	cfg     Config
	log     *slog.Logger
	reg     *prometheus.Registry
	watcher *store.Watcher
	prober  *health.Prober
	pub     *store.Publisher
	httpLn  net.Listener
	http    *http.Server
	closers []func() error // run in reverse order when Run returns
}

// newApp opens everything that can fail at start-up, so that a bad CA file
// or a taken port is reported before anything runs. etcd need not be up:
// the watcher and the publisher retry until it is.
func newApp(cfg Config, log *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.close() // what was opened before the failure
		}
	}()
	var roots *x509.CertPool
	if cfg.CAFile != "" {
		if roots, err = loadRoots(cfg.CAFile); err != nil {
			return nil, badFileError{err}
		}
	}
	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	conn := cfg.EtcdConn
	conn.Endpoints = cfg.Etcd
	client, err := store.NewClient(conn, log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, client.Close)
	info := cfg.info()
	info.Version = version()
	info.Started = time.Now().UTC().Truncate(time.Second)
	a.pub = store.NewPublisher(client, store.PublisherConfig{
		Prefix: cfg.Prefix, ProberID: cfg.ID, Info: info, LeaseTTL: cfg.LeaseTTL,
	}, log, store.NewPublisherMetrics(a.reg))
	a.prober = health.NewProber(health.ProberConfig{
		ID:        cfg.ID,
		Checker:   health.NewChecker(health.CheckerConfig{RootCAs: roots}),
		Publisher: a.pub,
		Logger:    log,
		Metrics:   health.NewMetrics(a.reg),
		Refresh:   cfg.Refresh,
	})
	a.watcher = store.NewWatcher(client, cfg.Prefix, log, store.NewMetrics(a.reg), func(st *schema.State) {
		a.prober.SetTargets(health.TargetsFromState(st))
	})
	// The regions are all a prober needs, and all its etcd role may read.
	a.watcher.WatchOnly("regions/")
	if a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	a.closers = append(a.closers, a.httpLn.Close)
	a.http = &http.Server{Handler: a.routes(), ReadHeaderTimeout: 5 * time.Second}
	return a, nil
}

// Run probes until ctx is cancelled or a part fails, then shuts everything
// down and returns the first error. The publisher revokes its lease on the
// way out, so a clean stop removes this prober's verdicts at once.
func (a *app) Run(ctx context.Context) error {
	defer a.close()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.watcher.Run(ctx) })
	g.Go(func() error { return a.prober.Run(ctx) })
	g.Go(func() error { return a.pub.Run(ctx) })
	g.Go(func() error {
		err := a.http.Serve(a.httpLn)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server: %w", err)
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		return a.http.Shutdown(sctx)
	})
	a.log.Info("glbprobe started", "id", a.cfg.ID, "etcd", a.cfg.Etcd, "prefix", a.cfg.Prefix,
		"http", a.httpLn.Addr().String(), "lease_ttl_seconds", a.cfg.LeaseTTL.Seconds())
	err := g.Wait()
	a.log.Info("glbprobe stopped")
	return err
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil && !errors.Is(err, net.ErrClosed) {
			a.log.Warn("close", "err", err)
		}
	}
	a.closers = nil
}

// routes serves /metrics, /healthz (the process is alive) and /verdicts
// (this prober's current verdicts, by "<region>/<endpoint>", as JSON).
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /verdicts", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.prober.Verdicts())
	})
	return mux
}

// loadRoots returns the system roots plus the certificates in a PEM file,
// so that checks of endpoints with a private CA verify as well as public
// ones.
func loadRoots(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read -ca-file: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		// No system pool (some minimal containers): the file alone.
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("read -ca-file %q: no PEM certificate found", path)
	}
	return roots, nil
}

// version is the module version glbprobe was built from, for the status
// page; "(devel)" for a build from a working tree.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}
