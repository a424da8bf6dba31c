package statuspage

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/server"
	"github.com/glb-dns/glb/server/transport"
	"github.com/glb-dns/glb/store/schema"
)

// previewFor is how long TestStatusPreview serves.
const previewFor = 60 * time.Second

// previewProbers are the preview's probers: Frankfurt, Ashburn, Tokyo.
var previewProbers = []struct {
	id       string
	lat, lon float64
	version  string
}{
	{"fra-1", 50.11, 8.68, "v0.4.0"},
	{"iad-1", 39.04, -77.49, "v0.4.0"},
	{"nrt-1", 35.68, 139.69, "v0.3.9"},
}

// TestStatusPreview serves the status page of a made-up but plausible
// deployment for screenshots (deploy/screenshot/screenshot.sh), without
// etcd and independent of how glbd wires the page: the dev configuration,
// three probers refreshing their reports every 2 s, a region down, an
// endpoint down, a drained region, an unchecked one and rejected keys.
// GLB_STATUS_PREVIEW is the HTTP address; GLB_STATUS_PREVIEW_DNS, if set,
// serves DNS too so that queries fill the answer chart. It runs for 60 s.
func TestStatusPreview(t *testing.T) {
	addr := os.Getenv("GLB_STATUS_PREVIEW")
	if addr == "" {
		t.Skip("set GLB_STATUS_PREVIEW=host:port to serve a preview of the status page")
	}
	db, err := geo.Open(statusTestDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := prometheus.NewRegistry()
	h := server.NewHandler(server.Options{Geo: db, Metrics: server.NewMetrics(reg)})
	mux := http.NewServeMux()
	page := Routes(mux, h, Options{Instance: "preview", Version: "preview"})

	started := time.Now()
	b, rev := statusBuilder(t, previewConfig())
	refresh := func() {
		now := time.Now()
		for k, v := range previewReports(now, started) {
			rev++
			b.Put(schema.DefaultPrefix+k, []byte(v), rev)
		}
		st, _ := b.State(rev)
		h.Apply(st)
	}
	refresh()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(t.Context(), previewFor)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return page.Run(ctx) })
	g.Go(func() error { return h.Run(ctx) })
	if dnsAddr := os.Getenv("GLB_STATUS_PREVIEW_DNS"); dnsAddr != "" {
		g.Go(func() error { return transport.NewServer(dnsAddr, h, slog.New(slog.DiscardHandler)).Run(ctx) })
	}
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		return srv.Close()
	})
	g.Go(func() error {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				refresh()
			}
		}
	})
	t.Logf("status page preview on http://%s/ for %s", ln.Addr(), previewFor)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// previewConfig is the configuration the preview adds to the dev seed.
func previewConfig() map[string]string {
	kvs := map[string]string{
		"regions/ap-southeast/weight":         "0",     // drained
		"regions/us-east/weight":              "heavy", // rejected; 100 stays in force
		"regions/eu-central/weight":           "<b>50</b>",
		"zones/gslb.example.test/names/shop":  `{"regions": ["eu-west", "us-centrall"]}`,
		"zones/gslb.example.test/names/login": `{"regions": ["eu-central", "eu-west", "us-east"], "ttl": 60}`,
	}
	for _, p := range previewProbers {
		info, _ := json.Marshal(schema.ProberInfo{Lat: p.lat, Lon: p.lon, Version: p.version, Started: time.Now().Add(-3 * time.Hour)})
		kvs["probers/"+p.id] = string(info)
	}
	return kvs
}

// previewReports are every prober's reports on every endpoint at now: RTT
// from the distance, us-west refusing connections, one eu-west address
// answering 503, and no reports at all on sa-east.
func previewReports(now, started time.Time) map[string]string {
	out := map[string]string{}
	regions := map[string]struct {
		lat, lon float64
		addrs    []string
	}{
		"us-east":      {39.04, -77.49, []string{"192.0.2.10", "192.0.2.11", "2001:db8:1::10", "2001:db8:1::11"}},
		"us-west":      {45.52, -122.68, []string{"192.0.2.20", "2001:db8:2::20"}},
		"eu-west":      {51.51, -0.13, []string{"198.51.100.10", "198.51.100.11", "2001:db8:3::10"}},
		"eu-central":   {50.11, 8.68, []string{"198.51.100.20", "2001:db8:4::20"}},
		"ap-northeast": {35.68, 139.69, []string{"203.0.113.10", "2001:db8:5::10"}},
		"ap-southeast": {1.29, 103.85, []string{"203.0.113.20", "2001:db8:6::20"}},
	}
	for id, r := range regions {
		for _, a := range r.addrs {
			for i, p := range previewProbers {
				rep := schema.HealthReport{Up: true, Time: now.Add(-time.Duration(i*700) * time.Millisecond)}
				km := geo.Distance(p.lat, p.lon, r.lat, r.lon)
				rep.RTT = schema.Duration(time.Duration((0.4 + km/90) * float64(time.Millisecond)))
				switch {
				case id == "us-west":
					rep.Up, rep.RTT, rep.Error = false, 0, "dial tcp "+net.JoinHostPort(a, "443")+": connect: connection refused"
				case a == "198.51.100.11" && p.id != "nrt-1":
					rep.Up, rep.Error = false, "HTTP 503 Service Unavailable"
				case id == "ap-northeast" && p.id == "fra-1" && now.Sub(started) > 20*time.Second:
					// The Frankfurt prober stops reporting on Tokyo: its
					// last report ages while the others stay fresh.
					continue
				}
				b, _ := json.Marshal(rep)
				out["health/"+id+"/"+a+"/"+p.id] = string(b)
			}
		}
	}
	return out
}
