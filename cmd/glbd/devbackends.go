package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

// devBackendCloseTimeout bounds the graceful shutdown of the dev backends;
// their requests are tiny, so anything still open after it is cut.
const devBackendCloseTimeout = time.Second

// devBackends are small loopback HTTP servers, one per region, that stand in
// for the regions' load balancers in dev mode: the example regions' health
// checks point at them (through the check's "connect" field), so a reader
// can make a region fail and watch the answers move. Each serves:
//
//	GET  /healthz  200 "ok\n", or 503 "failing\n" while failing; the
//	               header X-Load says the load set with /load (default 0)
//	POST /fail     start failing
//	POST /recover  stop failing
//	POST /load?value=0.9  report this load (utilization 0..10) from now on
//	GET  /         one line naming the backend, its state and the commands
//
// /fail and /recover take POST only (curl -X POST ...): GET must not change
// state, or a browser's prefetch of a link on a status page could take a
// region down. A GET of them answers 405 with the curl command to use.
type devBackends struct {
	log      *slog.Logger
	backends map[string]*devBackend // by region
	wg       sync.WaitGroup         // the Serve goroutines
	closed   sync.Once
	closeErr error
}

// devBackend is one region's backend.
type devBackend struct {
	region  string
	ln      net.Listener
	srv     *http.Server
	failing atomic.Bool
	load    atomic.Uint64 // math.Float64bits of the load it reports
}

// startDevBackends listens on each address (e.g. "127.0.0.1:18001"; port 0
// picks a free one) and serves until Close. With move, an address whose
// port is taken (another dev instance, say) is replaced by a free port on
// the same host, and Addr says which; without it, or if no port can be had,
// the backends already started are closed and the error names the region
// and address.
func startDevBackends(addrs map[string]string, move bool, log *slog.Logger) (*devBackends, error) {
	d := &devBackends{log: log.With("component", "dev-backends"), backends: make(map[string]*devBackend, len(addrs))}
	// In a fixed order, so that a failure names the same region each time.
	regions := make([]string, 0, len(addrs))
	for r := range addrs {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, region := range regions {
		ln, err := net.Listen("tcp", addrs[region])
		if host, _, splitErr := net.SplitHostPort(addrs[region]); move && splitErr == nil && errors.Is(err, syscall.EADDRINUSE) {
			ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
		}
		if err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("dev backend for region %s: listen %s: %w", region, addrs[region], err)
		}
		b := &devBackend{region: region, ln: ln}
		b.srv = &http.Server{Handler: d.routes(b), ReadHeaderTimeout: 5 * time.Second}
		d.backends[region] = b
		d.wg.Go(func() {
			if err := b.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Warn("dev backend stopped", "region", region, "err", err)
			}
		})
	}
	return d, nil
}

// Regions returns the regions with a backend, sorted.
func (d *devBackends) Regions() []string {
	return slices.Sorted(maps.Keys(d.backends))
}

// Addr returns the bound address of region's backend, or "" when there is
// none.
func (d *devBackends) Addr(region string) string {
	if b := d.backends[region]; b != nil {
		return b.ln.Addr().String()
	}
	return ""
}

// Close stops every backend, waits for them and releases their ports.
// Later calls return the first call's result.
func (d *devBackends) Close() error {
	d.closed.Do(func() { d.closeErr = d.close() })
	return d.closeErr
}

func (d *devBackends) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), devBackendCloseTimeout)
	defer cancel()
	var errs []error
	for region, b := range d.backends {
		if err := b.srv.Shutdown(ctx); err != nil {
			// Cut what did not finish in time; the port is released either way.
			_ = b.srv.Close()
			errs = append(errs, fmt.Errorf("close dev backend for region %s: %w", region, err))
		}
	}
	d.wg.Wait()
	return errors.Join(errs...)
}

// routes is one backend's handler.
func (d *devBackends) routes(b *devBackend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Load", strconv.FormatFloat(math.Float64frombits(b.load.Load()), 'g', -1, 64))
		if b.failing.Load() {
			http.Error(w, "failing", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	set := func(failing bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				w.Header().Set("Allow", http.MethodPost)
				http.Error(w, fmt.Sprintf("use POST: curl -X POST http://%s%s", b.ln.Addr(), r.URL.Path), http.StatusMethodNotAllowed)
				return
			}
			if b.failing.Swap(failing) != failing {
				d.log.Info("dev backend state changed", "region", b.region, "failing", failing)
			}
			_, _ = fmt.Fprintf(w, "%s\n", b.describe())
		}
	}
	mux.HandleFunc("/fail", set(true))
	mux.HandleFunc("/recover", set(false))
	mux.HandleFunc("/load", d.setLoad(b))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintf(w, "%s; curl -X POST http://%s/fail (or /recover)\n", b.describe(), b.ln.Addr())
	})
	return mux
}

// describe says which backend this is and how it is.
func (b *devBackend) describe() string {
	state := "healthy"
	if b.failing.Load() {
		state = "failing"
	}
	return fmt.Sprintf("glb dev backend for region %s: %s, load %g", b.region, state, math.Float64frombits(b.load.Load()))
}

// setLoad is POST /load?value=0.9: the backend reports that load in its
// health responses from now on, as a real service's exporter would.
func (d *devBackends) setLoad(b *devBackend) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, fmt.Sprintf("use POST: curl -X POST 'http://%s/load?value=0.9'", b.ln.Addr()), http.StatusMethodNotAllowed)
			return
		}
		v, err := schema.ParseLoad([]byte(r.URL.Query().Get("value")))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if math.Float64frombits(b.load.Swap(math.Float64bits(v))) != v {
			d.log.Info("dev backend load changed", "region", b.region, "load", v)
		}
		_, _ = fmt.Fprintf(w, "%s\n", b.describe())
	}
}
