package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/glb-dns/glb/internal/crash"
	"github.com/glb-dns/glb/internal/version"
	"github.com/glb-dns/glb/server/statuspage"
)

// routes serves /metrics, /healthz (the process is alive), /readyz
// (answers are real: a configuration snapshot and a GeoIP database are
// loaded), /explain and /simulate (why a client gets its answer, and what
// if), and the status page at /. Every route only reads: none changes
// glbd's state or etcd's. With -http-token-file every path but the open
// ones needs the token (httpguard.go).
func (a *app) routes(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	a.status = statuspage.Routes(mux, a.handler, statuspage.Options{Instance: a.cfg.Instance, Version: version.Get().Short()})
	mux.Handle("GET /explain", a.handler.ExplainHTTP())
	simulate := a.guard.limitSimulate(a.handler.SimulateHTTP())
	mux.Handle("GET /simulate", simulate)
	mux.Handle("POST /simulate", simulate)
	a.cfg.Runtime.routes(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		r := a.readiness()
		w.Header().Set("Content-Type", "application/json")
		if !r.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
	})
	return recoverHTTP(a.guard.protect(mux), a.log, crash.Counter(reg, "http"))
}

// recoverHTTP answers 500 to a request whose handler panicked and records
// the panic. net/http would recover it anyway, but with a line on its own
// error log only, uncounted and without our logger's fields.
func recoverHTTP(next http.Handler, log *slog.Logger, panics prometheus.Counter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { // net/http's way to abort a response: not a bug
					panic(v)
				}
				crash.Record(log, panics, "http handler panicked", v, "path", r.URL.Path)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// readiness is the /readyz document.
type readiness struct {
	// Ready is true when queries get real answers: a configuration snapshot
	// (from etcd or the cache file) and a GeoIP database are loaded. The
	// status is 503 otherwise.
	Ready bool `json:"ready"`
	// Stale is true while the configuration comes from the cache file
	// because etcd has not been listed since start-up: ready, but possibly
	// out of date.
	Stale bool `json:"stale"`
	// Reasons say what is missing or degraded, one sentence each; empty
	// when all is well.
	Reasons  []string       `json:"reasons"`
	Revision int64          `json:"revision"` // etcd revision of the configuration served; 0 before the first
	GeoIP    readinessGeoIP `json:"geoip"`
	Etcd     readinessEtcd  `json:"etcd"`
	Version  string         `json:"version"` // glbd's build: "v0.2.0 (revision 1a2b3c4d5e6f, go1.26.8)"
}

type readinessGeoIP struct {
	Path      string `json:"path"`
	BuildTime string `json:"build_time,omitempty"` // RFC 3339; absent when no database is loaded
	// Verified is "yes" once the database in use passed the full
	// verification, "pending" while it runs after start-up (answers are
	// served meanwhile), "failed" when it did not pass (see reasons).
	Verified string `json:"verified"`
}

type readinessEtcd struct {
	Connected bool   `json:"connected"` // as glb_store_etcd_connected
	Error     string `json:"error,omitempty"`
}

func (a *app) readiness() readiness {
	ws := a.watcher.Status()
	r := readiness{
		Ready:    true,
		Stale:    ws.Stale,
		Reasons:  []string{},
		Revision: ws.Revision,
		GeoIP:    readinessGeoIP{Path: a.geo.Path()},
		Etcd:     readinessEtcd{Connected: ws.Connected, Error: ws.ListError},
		Version:  version.Get().Short(),
	}
	if !a.handler.Ready() {
		r.Ready = false
		reason := "no configuration snapshot yet: waiting for the first list of etcd"
		if ws.ListError != "" {
			reason = "no configuration snapshot yet: etcd cannot be listed and there is no usable cache file"
		}
		r.Reasons = append(r.Reasons, reason)
	}
	if a.geo.Loaded() {
		r.GeoIP.BuildTime = a.geo.BuildTime().UTC().Format(time.RFC3339)
		switch done, err := a.reloader.Verification(); {
		case done:
			r.GeoIP.Verified = "yes"
		case err != nil:
			// Before the check moved behind the first answer, such a file
			// stopped glbd at start-up; unready is the milder equivalent.
			r.GeoIP.Verified = "failed"
			r.Ready = false
			r.Reasons = append(r.Reasons, fmt.Sprintf("the GeoIP database failed its full verification (%v): some clients may get answers without geography; install a good file and reload", err))
		default:
			r.GeoIP.Verified = "pending"
		}
	} else {
		r.Ready = false
		r.Reasons = append(r.Reasons, "no GeoIP database loaded")
	}
	for _, z := range a.handler.UnsignedZones() {
		// Said, not made unready: every instance reads the same keys, so
		// going unready would take the whole fleet and its other zones
		// out with it.
		r.Reasons = append(r.Reasons, fmt.Sprintf("zone %s says dnssec but has no usable keys: its DO queries get SERVFAIL (glbctl dnssec keygen %s)", z, z))
	}
	if ws.Stale {
		r.Reasons = append(r.Reasons, ws.StaleReason)
	} else if r.Ready && !ws.Connected {
		r.Reasons = append(r.Reasons, "etcd is not connected: answers come from the last configuration received, and changes are not seen")
	}
	return r
}
