package main

import (
	"context"
	"fmt"
	"strings"
	"text/template"

	"github.com/glb-dns/glb/store"
)

// seed writes the example configuration into an empty prefix. A prefix that
// already holds keys is left alone, so edits survive a restart with
// -dev-data-dir.
// write is store.Seed bound to the etcd client, which only store may name.
func (a *app) seed(ctx context.Context, write func(context.Context, string, map[string]string) (bool, error)) error {
	kvs, err := store.LoadSeedFile(a.cfg.DevSeed)
	if err != nil {
		return fmt.Errorf("dev seed (run from the repository root, or set -dev-seed): %w", err)
	}
	wrote, err := write(ctx, a.cfg.Prefix, kvs)
	if err != nil {
		return fmt.Errorf("seed dev configuration: %w", err)
	}
	if wrote {
		a.log.Info("seeded example configuration", "file", a.cfg.DevSeed, "keys", len(kvs), "prefix", a.cfg.Prefix)
	} else {
		a.log.Info("prefix already holds a configuration; not seeding", "prefix", a.cfg.Prefix)
	}
	return nil
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
