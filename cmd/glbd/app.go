package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/internal/version"
	"github.com/glb-dns/glb/server"
	"github.com/glb-dns/glb/server/querylog"
	"github.com/glb-dns/glb/server/statuspage"
	"github.com/glb-dns/glb/server/transport"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/embedded"
	"github.com/glb-dns/glb/store/schema"
)

// app is one running glbd: the GeoIP database, the etcd watcher feeding the
// DNS handler, the DNS listeners and the HTTP listener.
type app struct {
	cfg      Config
	log      *slog.Logger
	stdout   io.Writer
	geo      *geo.DB
	served   servedGeo // geo as the handler sees it (geoload.go)
	reloader *geo.Reloader
	asn      *geo.ASNDB    // -geoip-asn; nil without
	asnLoad  *geo.Reloader // asn's reloader; nil without
	// hup delivers SIGHUP, which reloads the GeoIP database; run sets it,
	// tests send on it. nil means no signal is caught.
	hup     chan os.Signal
	reg     *prometheus.Registry
	handler *server.Handler
	dns     *transport.Server
	watcher *store.Watcher
	dev     *devParts        // dev mode only
	status  *statuspage.Page // the status page and its answer sampler
	dnstap  *querylog.Dnstap // nil unless -dnstap
	httpLn  net.Listener
	http    *http.Server
	// guard is the TLS, token and /simulate bound of the HTTP listener
	// (httpguard.go).
	guard   *httpGuard
	closers []func() error // run in reverse order when Run returns

	// keys watches the DNSSEC keys (dnssec.go); anchors are the trust
	// anchors dev mode prints.
	keys    *store.KeysWatcher
	anchors []string
}

// newApp opens everything that can fail at start-up, so that a bad GeoIP
// path or a taken port is reported before anything runs.
func newApp(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, stdout: stdout}
	defer func() {
		if err != nil {
			a.close() // what was opened before the failure
		}
	}()
	reg := prometheus.NewRegistry()
	a.reg = reg
	// First: a bad certificate or token file costs nothing to report.
	if a.guard, err = newHTTPGuard(cfg.HTTP, log, reg, time.Now); err != nil {
		return nil, err
	}
	if a.geo, err = geo.Open(cfg.GeoIP); err != nil {
		return nil, badFileError{fmt.Errorf("-geoip: %w", err)}
	}
	if cfg.Dev { // before the embedded etcd starts, so a bad seed costs nothing
		if _, err := store.LoadSeedFile(cfg.DevSeed); err != nil {
			return nil, badFileError{fmt.Errorf("-dev-seed: %w", err)}
		}
	}
	a.closers = append(a.closers, a.geo.Close)
	if cfg.GeoIPASN != "" {
		if a.asn, err = geo.OpenASN(cfg.GeoIPASN); err != nil {
			return nil, badFileError{fmt.Errorf("-geoip-asn: %w", err)}
		}
	}

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	version.Register(reg, version.Get())

	endpoints := cfg.Etcd
	if cfg.Dev {
		if endpoints, err = a.startDevEtcd(ctx); err != nil {
			return nil, err
		}
	}
	conn := cfg.EtcdConn // TLS and user; none in dev mode
	conn.Endpoints = endpoints
	client, err := store.NewClient(conn, log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, client.Close)
	observer, err := a.queryLogs(reg)
	if err != nil {
		return nil, err
	}
	metrics := server.NewMetrics(reg)
	a.served = newServedGeo(a.geo, os.Getenv("GOGC") == "") // GOGC in the environment is the operator's
	a.handler = server.NewHandler(server.Options{Geo: a.served, Metrics: metrics, Logger: log,
		Health: health.Policy{Quorum: cfg.Quorum}, Observer: observer, RRL: cfg.Limits.RRL, Cookies: cfg.Limits.Cookies,
		ZoneMetrics: !cfg.NameMetrics, ASN: a.asn})
	a.reloader = geo.NewReloader(a.geo, geo.ReloaderConfig{Interval: cfg.GeoIPPoll, Logger: log, Metrics: geo.NewMetrics(reg),
		OnReload: a.handler.GeoReloaded})
	if a.asn != nil {
		a.asnLoad = geo.NewReloader(a.asn, geo.ReloaderConfig{Interval: cfg.GeoIPPoll, Logger: log, Metrics: geo.NewASNMetrics(reg),
			Component: "geoip_asn", OnReload: a.handler.ASNReloaded})
	}
	onState := a.handler.Apply
	if cfg.Dev {
		write := func(ctx context.Context, prefix string, kvs map[string]string) (bool, error) {
			return store.Seed(ctx, client, prefix, kvs)
		}
		adm := store.NewAdmin(client, cfg.Prefix)
		backends, err := a.seed(ctx, write, adm.ReadState)
		if err != nil {
			return nil, err
		}
		if a.anchors, err = a.devKeys(ctx, adm); err != nil {
			_ = backends.Close()
			return nil, err
		}
		pub := store.NewPublisher(client, store.PublisherConfig{Prefix: cfg.Prefix, ProberID: devProberID,
			Info: a.devProberInfo()}, log, store.NewPublisherMetrics(reg))
		a.dev = a.startDev(backends, pub, reg)
		onState = func(st *schema.State) {
			a.handler.Apply(st)
			a.dev.prober.SetTargets(health.TargetsFromState(st))
		}
	}
	storeMetrics := store.NewMetrics(reg)
	a.watcher = store.NewWatcher(client, cfg.Prefix, log, storeMetrics, onState)
	a.keys = store.NewKeysWatcher(client, cfg.Prefix, log, storeMetrics, a.onKeys)
	if err := a.setCache(); err != nil {
		return nil, err
	}
	a.dns = transport.NewServerWith(cfg.DNSAddr, a.handler, transport.ServerOptions{Logger: log, Metrics: transport.NewMetrics(reg), TCP: cfg.TCP})
	if a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	a.closers = append(a.closers, a.httpLn.Close)
	a.http = &http.Server{Handler: a.routes(reg), ReadHeaderTimeout: 5 * time.Second, TLSConfig: a.guard.tlsConfig(),
		// Failed handshakes (no client certificate, port scanners) are
		// the client's problem: debug lines, not stderr noise.
		ErrorLog: slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelDebug)}
	a.guard.warnExposed(log, a.httpLn.Addr())
	return a, nil
}

// Run serves until ctx is cancelled or a part fails, then shuts everything
// down and returns the first error.
func (a *app) Run(ctx context.Context) error {
	defer a.close()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.runDNS(ctx) })
	g.Go(func() error { return a.notifyReady(ctx) })
	g.Go(func() error { return a.watcher.Run(ctx) })
	g.Go(func() error { return a.keys.Run(ctx) })
	g.Go(func() error { return a.handler.Run(ctx) })
	g.Go(func() error { return a.status.Run(ctx) })
	if a.dnstap != nil {
		g.Go(func() error { return a.dnstap.Run(ctx) })
	}
	if a.cfg.GeoIPPoll > 0 {
		g.Go(func() error { return a.reloader.Run(ctx) })
		if a.asnLoad != nil {
			g.Go(func() error { return a.asnLoad.Run(ctx) })
		}
	}
	// Open checked the database's structure only, so that DNS answers
	// without waiting for the whole file to be read; the full verification
	// runs beside the answers and reports a failure itself (log,
	// glb_geoip_verified, /readyz).
	g.Go(func() error { a.verifyInBackground(ctx); return nil })
	g.Go(func() error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-a.hup: // a nil channel never delivers
				_ = a.reloader.Reload() // logged and counted by the reloader
				if a.asnLoad != nil {
					_ = a.asnLoad.Reload()
				}
			}
		}
	})
	if a.dev != nil {
		g.Go(func() error { return a.dev.pub.Run(ctx) })
		g.Go(func() error { return a.dev.prober.Run(ctx) })
	}
	g.Go(func() error {
		var err error
		if a.http.TLSConfig != nil {
			err = a.http.ServeTLS(a.httpLn, "", "") // the certificate comes from TLSConfig
		} else {
			err = a.http.Serve(a.httpLn)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server: %w", err)
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), transport.ShutdownTimeout)
		defer cancel()
		return a.http.Shutdown(sctx)
	})
	g.Go(func() error {
		select {
		case <-a.dns.Ready():
			a.log.Info("glbd started", "dns", a.cfg.DNSAddr, "http", a.httpLn.Addr().String(), "geoip", a.cfg.GeoIP,
				"geoip_poll", a.cfg.GeoIPPoll.String(), "cache_file", a.cfg.CacheFile)
			if a.cfg.Dev {
				a.printDevHelp()
			}
		case <-ctx.Done():
		}
		return nil
	})
	err := g.Wait()
	a.log.Info("glbd stopped")
	return err
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		// net.ErrClosed: the HTTP listener, already closed by Shutdown.
		if err := a.closers[i](); err != nil && !errors.Is(err, net.ErrClosed) {
			a.log.Warn("close", "err", err)
		}
	}
	a.closers = nil
}

// dnsAddr returns the bound DNS address once the listeners are up.
func (a *app) dnsAddr() string {
	udp, _ := a.dns.Addrs()
	return udp.String()
}

func (a *app) startDevEtcd(ctx context.Context) ([]string, error) {
	e, err := embedded.Start(ctx, embedded.Config{ClientURL: "http://" + a.cfg.DevEtcd, Dir: a.cfg.DevDataDir, Name: "glb-dev"}, a.log)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd on %s: %w", a.cfg.DevEtcd, err)
	}
	a.closers = append(a.closers, e.Close)
	// With port 0 etcd picked one: the start-up lines name the real one.
	a.cfg.DevEtcd = strings.TrimPrefix(e.Endpoints()[0], "http://")
	return e.Endpoints(), nil
}

// setCache gives the watcher the -cache-file, after checking that its
// directory is writable: a cache that can never be saved would only be
// noticed during the outage it was meant for. The default path failing is a
// warning (glbd run by hand, without /var/lib/glbd); a path given on the
// command line failing is an error.
func (a *app) setCache() error {
	if a.cfg.CacheFile == "" {
		return nil
	}
	c := store.NewCache(a.cfg.CacheFile)
	if err := c.CheckWritable(); err != nil {
		if !a.cfg.cacheDefault {
			return badFileError{fmt.Errorf("-cache-file: %w", err)}
		}
		a.log.Warn("configuration cache off: its default place is not writable; set -cache-file to a writable path, or \"\" to silence this",
			"cache_file", a.cfg.CacheFile, "err", err)
		a.cfg.CacheFile = ""
		return nil
	}
	a.watcher.SetCache(c)
	return nil
}

// queryLogs builds the optional query observers: dnstap and sampled JSON
// lines. It returns nil when neither is on, so the query path pays nothing.
func (a *app) queryLogs(reg prometheus.Registerer) (server.QueryObserver, error) {
	var obs []server.QueryObserver
	if a.cfg.Dnstap != "" {
		d, err := querylog.NewDnstap(querylog.DnstapConfig{Path: a.cfg.Dnstap, Identity: a.cfg.DnstapIdentity, Version: "glbd"}, a.log, reg)
		if err != nil {
			return nil, err
		}
		// Closed after the DNS server stops, so its last queries are written.
		a.closers = append(a.closers, func() error { d.Close(); return nil })
		a.dnstap = d
		obs = append(obs, d)
	}
	if a.cfg.QueryLogSample > 0 {
		s, err := querylog.NewSampler(querylog.SampleConfig{Rate: a.cfg.QueryLogSample}, slog.New(slog.NewJSONHandler(a.stdout, nil)), reg)
		if err != nil {
			return nil, err
		}
		obs = append(obs, s)
	}
	return querylog.Multi(obs...), nil
}
