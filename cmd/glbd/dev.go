package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/store/schema"

	"github.com/glb-dns/glb/store"
)

// seed writes the example configuration, a file in glbctl's layout (YAML or
// JSON), into an empty prefix, checked and written by the code glbctl
// validate and apply run (store.LoadSeedFile, store.Seed: one
// transaction). A prefix that already holds keys is left alone, so edits
// survive a restart with -dev-data-dir.
// write is store.Seed bound to the etcd client, which only store may name.
// It returns the seed, from which dev mode learns which backends to start.
func (a *app) seed(ctx context.Context, write func(context.Context, string, map[string]string) (bool, error)) (map[string]string, error) {
	kvs, err := store.LoadSeedFile(a.cfg.DevSeed)
	if err != nil {
		return nil, fmt.Errorf("dev seed (run from the repository root, or set -dev-seed): %w", err)
	}
	wrote, err := write(ctx, a.cfg.Prefix, kvs)
	if err != nil {
		return nil, fmt.Errorf("seed dev configuration: %w", err)
	}
	if wrote {
		a.log.Info("seeded example configuration", "file", a.cfg.DevSeed, "keys", len(kvs), "prefix", a.cfg.Prefix)
	} else {
		a.log.Info("prefix already holds a configuration; not seeding", "prefix", a.cfg.Prefix)
	}
	return kvs, nil
}

// devProberID is the id of dev mode's in-process prober.
const devProberID = "dev"

// devParts are what dev mode runs besides glbd itself: a prober and the
// loopback backends its checks reach.
type devParts struct {
	prober   *health.Prober
	pub      *store.Publisher
	backends *devBackends
}

func (a *app) devProberInfo() schema.ProberInfo {
	lat, lon, _ := parseLatLon(a.cfg.DevProber)
	return schema.ProberInfo{Lat: lat, Lon: lon, Version: "dev", Started: time.Now().UTC().Truncate(time.Second)}
}

// startDev starts a loopback backend for every seeded region whose check
// connects to a loopback address, and the prober that checks them.
func (a *app) startDev(kvs map[string]string, pub *store.Publisher, reg prometheus.Registerer) (*devParts, error) {
	addrs := map[string]string{}
	for key, v := range kvs {
		k, err := schema.ParseKey("", key)
		if err != nil || k.Kind != schema.KindRegion {
			continue
		}
		r, err := schema.Decode(k, []byte(v))
		if err != nil || r.(*schema.Region).Check == nil {
			continue
		}
		c := r.(*schema.Region).Check
		if host, _, err := net.SplitHostPort(c.Connect); err == nil {
			if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
				addrs[k.Region] = c.Connect
			}
		}
	}
	b, err := startDevBackends(addrs, a.log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, b.Close)
	p := health.NewProber(health.ProberConfig{
		ID: devProberID, Checker: health.NewChecker(health.CheckerConfig{}), Publisher: pub,
		Logger: a.log, Metrics: health.NewMetrics(reg),
	})
	return &devParts{prober: p, pub: pub, backends: b}, nil
}

// parseLatLon parses "lat,lon" in degrees.
func parseLatLon(s string) (lat, lon float64, err error) {
	a, b, ok := strings.Cut(s, ",")
	if ok {
		lat, err = strconv.ParseFloat(strings.TrimSpace(a), 64)
		if err == nil {
			lon, err = strconv.ParseFloat(strings.TrimSpace(b), 64)
		}
	}
	if !ok || err != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return 0, 0, fmt.Errorf("location %q: want \"lat,lon\" in degrees", s)
	}
	return lat, lon, nil
}

var devHelp = template.Must(template.New("dev").Parse(`
glbd is running in dev mode.
  DNS   {{.DNS}} (udp and tcp)     zone gslb.example.test
  HTTP  http://{{.HTTP}}/metrics
  etcd  {{.Etcd}} (embedded{{if .Dir}}, data in {{.Dir}}{{else}}, data discarded at exit{{end}})

Try:
  dig @{{.Host}} -p {{.Port}} www.gslb.example.test +subnet=81.2.69.0/24      # London    -> eu-west   198.51.100.10/.11
  dig @{{.Host}} -p {{.Port}} www.gslb.example.test +subnet=91.198.174.0/24   # Frankfurt -> eu-central 198.51.100.20
  dig @{{.Host}} -p {{.Port}} www.gslb.example.test +subnet=216.160.83.0/24   # Milton WA -> us-west   192.0.2.20
  dig @{{.Host}} -p {{.Port}} www.gslb.example.test +subnet=175.16.199.0/24   # Changchun -> ap-northeast 203.0.113.10
  dig @{{.Host}} -p {{.Port}} www.gslb.example.test AAAA +subnet=2001:218::/32 # Tokyo     -> ap-northeast 2001:db8:5::10

  export ETCDCTL_ENDPOINTS={{.Etcd}}
  etcdctl put {{.Prefix}}regions/eu-west/weight 0      # drain eu-west: London moves to eu-central
  etcdctl put {{.Prefix}}regions/eu-west/weight 100    # and back
  etcdctl get --prefix {{.Prefix}} --keys-only
  etcdctl get --prefix {{.Prefix}}health/            # the dev prober's verdicts

  curl -X POST 127.0.0.1:18003/fail                  # eu-west's backend fails: London moves within ~3 s
  curl -X POST 127.0.0.1:18003/recover               # and comes back
`))

func (a *app) printDevHelp() {
	addr := a.dnsAddr()
	host, port, _ := strings.Cut(addr, ":")
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		host, port = strings.Trim(addr[:i], "[]"), addr[i+1:]
	}
	_ = devHelp.Execute(a.stdout, map[string]string{
		"DNS": addr, "HTTP": a.httpLn.Addr().String(), "Etcd": a.cfg.DevEtcd, "Dir": a.cfg.DevDataDir,
		"Host": host, "Port": port, "Prefix": a.cfg.Prefix,
	})
}
