package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
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
// write is store.Seed bound to the etcd client, which only store may name;
// stored reads the configuration in etcd. seed returns the stand-in
// backends of the configuration's loopback checks: started before the seed
// is written, so that a port taken by another dev instance is replaced by a
// free one and the seed names it; when not seeding, on the addresses the
// stored configuration names.
func (a *app) seed(ctx context.Context, write func(context.Context, string, map[string]string) (bool, error),
	stored func(context.Context) (*schema.State, error)) (*devBackends, error) {
	kvs, err := store.LoadSeedFile(a.cfg.DevSeed)
	if err != nil {
		return nil, fmt.Errorf("dev seed (run from the repository root, or set -dev-seed): %w", err)
	}
	b, err := startDevBackends(loopbackChecks(seedRegions(kvs)), true, a.log)
	if err != nil {
		return nil, err
	}
	if kvs, err = withConnects(kvs, b); err == nil {
		var wrote bool
		if wrote, err = write(ctx, a.cfg.Prefix, kvs); err == nil && wrote {
			a.log.Info("seeded example configuration", "file", a.cfg.DevSeed, "keys", len(kvs), "prefix", a.cfg.Prefix)
			return b, nil
		}
	}
	_ = b.Close()
	if err != nil {
		return nil, fmt.Errorf("seed dev configuration: %w", err)
	}
	a.log.Info("prefix already holds a configuration; not seeding", "prefix", a.cfg.Prefix)
	st, err := stored(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the dev configuration: %w", err)
	}
	regions := map[string]*schema.Region{}
	for id, r := range st.Regions {
		regions[id] = r.Region
	}
	return startDevBackends(loopbackChecks(regions), false, a.log)
}

// seedRegions decodes the seed's region documents; the seed was validated
// when loaded, and anything else is no region of a backend.
func seedRegions(kvs map[string]string) map[string]*schema.Region {
	out := map[string]*schema.Region{}
	for key, v := range kvs {
		k, err := schema.ParseKey("", key)
		if err != nil || k.Kind != schema.KindRegion {
			continue
		}
		if r, err := schema.Decode(k, []byte(v)); err == nil {
			out[k.Region] = r.(*schema.Region)
		}
	}
	return out
}

// loopbackChecks returns the regions whose check connects to a loopback
// address, with that address: those are the ones dev mode stands in for.
func loopbackChecks(regions map[string]*schema.Region) map[string]string {
	addrs := map[string]string{}
	for id, r := range regions {
		if r == nil || r.Check == nil {
			continue
		}
		if host, _, err := net.SplitHostPort(r.Check.Connect); err == nil {
			if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
				addrs[id] = r.Check.Connect
			}
		}
	}
	return addrs
}

// withConnects returns the seed with each moved backend's address as its
// region's check "connect"; the other values stay as written.
func withConnects(kvs map[string]string, b *devBackends) (map[string]string, error) {
	out := maps.Clone(kvs)
	for region, r := range seedRegions(kvs) {
		addr := b.Addr(region)
		if addr == "" || r.Check == nil || r.Check.Connect == addr {
			continue
		}
		key := "regions/" + region
		var doc map[string]any
		if err := json.Unmarshal([]byte(kvs[key]), &doc); err != nil {
			return nil, fmt.Errorf("region %s: %w", region, err)
		}
		check, ok := doc["check"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("region %s: check is not an object", region)
		}
		check["connect"] = addr
		v, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", region, err)
		}
		out[key] = string(v)
	}
	return out, nil
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

// startDev starts the prober that checks the dev backends b.
func (a *app) startDev(b *devBackends, pub *store.Publisher, reg prometheus.Registerer) *devParts {
	a.closers = append(a.closers, b.Close)
	p := health.NewProber(health.ProberConfig{
		ID: devProberID, Checker: health.NewChecker(health.CheckerConfig{}), Publisher: pub,
		Logger: a.log, Metrics: health.NewMetrics(reg),
	})
	return &devParts{prober: p, pub: pub, backends: b}
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

{{- with .EUWest}}

  curl -X POST {{.}}/fail                  # eu-west's backend fails: London moves within ~3 s
  curl -X POST {{.}}/recover               # and comes back
{{- end}}
{{- if .Backends}}

Stand-in backends (the regions' health checks connect to them):
{{- range .Backends}}
  {{printf "%-13s" .Region}} http://{{.Addr}}/
{{- end}}
{{- end}}
`))

func (a *app) printDevHelp() {
	addr := a.dnsAddr()
	host, port, _ := strings.Cut(addr, ":")
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		host, port = strings.Trim(addr[:i], "[]"), addr[i+1:]
	}
	type backend struct{ Region, Addr string }
	var backends []backend
	for _, r := range a.dev.backends.Regions() {
		backends = append(backends, backend{r, a.dev.backends.Addr(r)})
	}
	_ = devHelp.Execute(a.stdout, map[string]any{
		"DNS": addr, "HTTP": a.httpLn.Addr().String(), "Etcd": a.cfg.DevEtcd, "Dir": a.cfg.DevDataDir,
		"Host": host, "Port": port, "Prefix": a.cfg.Prefix, "EUWest": a.dev.backends.Addr("eu-west"), "Backends": backends,
	})
	a.printAnchors(host, port)
}
