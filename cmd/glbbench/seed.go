package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
	"github.com/glb-dns/glb/store/schema/yamlconf"
)

// benchRegion is a region of the generated seed: a city, spread over the globe.
type benchRegion struct {
	id                 string
	lat, lon           float64
	country, continent string
}

// benchRegions are the seed's regions, at most this many.
var benchRegions = []benchRegion{
	{"us-east", 39.04, -77.49, "US", "NA"},        // Ashburn
	{"us-west", 45.52, -122.68, "US", "NA"},       // Portland
	{"us-central", 32.78, -96.80, "US", "NA"},     // Dallas
	{"ca-central", 45.50, -73.57, "CA", "NA"},     // Montreal
	{"mx-central", 19.43, -99.13, "MX", "NA"},     // Mexico City
	{"sa-east", -23.55, -46.63, "BR", "SA"},       // Sao Paulo
	{"sa-west", -33.45, -70.67, "CL", "SA"},       // Santiago
	{"eu-west", 51.51, -0.13, "GB", "EU"},         // London
	{"eu-central", 50.11, 8.68, "DE", "EU"},       // Frankfurt
	{"eu-north", 59.33, 18.07, "SE", "EU"},        // Stockholm
	{"eu-south", 45.46, 9.19, "IT", "EU"},         // Milan
	{"me-central", 25.20, 55.27, "AE", "AS"},      // Dubai
	{"af-south", -26.20, 28.05, "ZA", "AF"},       // Johannesburg
	{"ap-south", 19.08, 72.88, "IN", "AS"},        // Mumbai
	{"ap-southeast", 1.29, 103.85, "SG", "AS"},    // Singapore
	{"ap-east", 22.32, 114.17, "HK", "AS"},        // Hong Kong
	{"ap-northeast", 35.68, 139.69, "JP", "AS"},   // Tokyo
	{"ap-northeast-2", 37.57, 126.98, "KR", "AS"}, // Seoul
	{"au-east", -33.87, 151.21, "AU", "OC"},       // Sydney
	{"nz-north", -36.85, 174.76, "NZ", "OC"},      // Auckland
}

// seedSpec says what genseed writes.
type seedSpec struct {
	zone    string
	names   int
	regions int
	policy  string
	answers int
	ttl     int
}

// buildSeed returns the seed's keys (relative to the prefix) and values: one
// zone, spec.regions regions with 2 IPv4 and 1 IPv6 address each (IPv4 from
// the benchmarking range 198.18.0.0/15, IPv6 from 2001:db8::/32), and
// spec.names names n00000... that each list every region. Every key and
// value is checked with the schema glbd uses.
func buildSeed(spec seedSpec) (map[string]string, error) {
	if spec.regions < 1 || spec.regions > len(benchRegions) {
		return nil, fmt.Errorf("regions: %d is outside 1..%d", spec.regions, len(benchRegions))
	}
	if spec.names < 0 || spec.names > 1000000 {
		return nil, fmt.Errorf("names: %d is outside 0..1000000", spec.names)
	}
	kvs := map[string]string{}
	put := func(k string, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		kvs[k] = string(raw)
		return nil
	}
	zone := map[string]any{
		"ns":  []map[string]any{{"name": "ns1." + spec.zone, "addrs": []string{"192.0.2.53"}}},
		"ttl": spec.ttl,
	}
	if err := put("zones/"+spec.zone, zone); err != nil {
		return nil, err
	}
	ids := make([]string, spec.regions)
	for i, r := range benchRegions[:spec.regions] {
		ids[i] = r.id
		doc := map[string]any{
			"lat": r.lat, "lon": r.lon, "country": r.country, "continent": r.continent,
			"addrs": []string{
				fmt.Sprintf("198.18.%d.1", i), fmt.Sprintf("198.18.%d.2", i),
				fmt.Sprintf("2001:db8:100:%x::1", i),
			},
		}
		if err := put("regions/"+r.id, doc); err != nil {
			return nil, err
		}
		kvs["regions/"+r.id+"/weight"] = "100"
	}
	name := map[string]any{"regions": ids, "policy": spec.policy, "ttl": spec.ttl, "answers": spec.answers}
	raw, err := json.Marshal(name)
	if err != nil {
		return nil, err
	}
	for i := range spec.names {
		kvs[fmt.Sprintf("zones/%s/names/%s", spec.zone, nameLabel(i))] = string(raw)
	}
	for _, k := range slices.Sorted(maps.Keys(kvs)) {
		pk, err := schema.ParseKey("", k)
		if err != nil {
			return nil, fmt.Errorf("generated key %q: %w", k, err)
		}
		if _, err := schema.Decode(pk, []byte(kvs[k])); err != nil {
			return nil, fmt.Errorf("generated value of %q: %w", k, err)
		}
	}
	return kvs, nil
}

// nameLabel is the label of the i-th generated name.
func nameLabel(i int) string { return fmt.Sprintf("n%05d", i) }

// writeSeed writes kvs (keys relative to the prefix) as a configuration
// file in glbctl's layout (as testdata/dev/config.json), which glbctl
// apply, glbd -dev-seed and load read.
func writeSeed(path string, kvs map[string]string) error {
	out, skipped, err := yamlconf.Export("", kvs)
	if err != nil {
		return err
	}
	if len(skipped) > 0 {
		return fmt.Errorf("generated key %s has no place in the file: %s", skipped[0].Key, skipped[0].Reason)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func genseed(args []string) error {
	fs := flag.NewFlagSet("genseed", flag.ContinueOnError)
	var spec seedSpec
	fs.StringVar(&spec.zone, "zone", "gslb.example.test", "zone")
	fs.IntVar(&spec.names, "names", 10000, "GSLB names n00000, n00001, ... each listing every region")
	fs.IntVar(&spec.regions, "regions", 20, fmt.Sprintf("regions (1..%d), spread over the globe", len(benchRegions)))
	fs.StringVar(&spec.policy, "policy", "geo", "policy of every name")
	fs.IntVar(&spec.answers, "answers", 2, "addresses per answer")
	fs.IntVar(&spec.ttl, "ttl", 30, "TTL of the zone and the names")
	out := fs.String("out", "", "seed file to write (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	kvs, err := buildSeed(spec)
	if err != nil {
		return err
	}
	// Read it back the way glbd and load do, so a file we write is one they take.
	if err := writeSeed(*out, kvs); err != nil {
		return err
	}
	back, err := store.LoadSeedFile(*out)
	if err != nil {
		return err
	}
	if !maps.Equal(back, kvs) {
		return fmt.Errorf("%s does not read back as written", *out)
	}
	fmt.Printf("wrote %s: %d keys (%d names x %d regions, zone %s, policy %s)\n",
		*out, len(kvs), spec.names, spec.regions, spec.zone, spec.policy)
	return nil
}

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	endpoints := fs.String("etcd", "http://127.0.0.1:2379", "etcd endpoints, comma-separated")
	prefix := fs.String("prefix", schema.DefaultPrefix, "etcd key prefix")
	seedFile := fs.String("seed", "", "seed file (required)")
	conc := fs.Int("concurrency", 32, "puts in flight")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seedFile == "" {
		return errors.New("-seed is required")
	}
	if *conc < 1 || *conc > 1024 {
		return fmt.Errorf("-concurrency %d is outside 1..1024", *conc)
	}
	kvs, err := store.LoadSeedFile(*seedFile)
	if err != nil {
		return err
	}
	c, err := store.NewClient(store.Config{Endpoints: strings.Split(*endpoints, ",")}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	// Zones and regions first, then the rest, so that a glbd watching
	// meanwhile sees few names without their regions.
	keys := slices.Sorted(maps.Keys(kvs))
	slices.SortStableFunc(keys, func(a, b string) int {
		return boolInt(strings.Contains(a, "/names/")) - boolInt(strings.Contains(b, "/names/"))
	})
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, *conc)
	for w := range *conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) || ctx.Err() != nil {
					return
				}
				if _, err := c.Put(ctx, *prefix+keys[i], kvs[keys[i]]); err != nil {
					errs[w] = fmt.Errorf("put %s: %w", *prefix+keys[i], err)
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Printf("put %d keys under %s in %.2f s (%.0f puts/s, %d in flight)\n",
		len(keys), *prefix, took.Seconds(), float64(len(keys))/took.Seconds(), *conc)
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
