package store

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/schema/yamlconf"
)

// Seed writes kvs under prefix if, and only if, nothing exists under the
// prefix yet, and reports whether it wrote. Keys are relative to the prefix
// ("regions/eu-west"). It is Admin.Apply with IfEmpty, the code glbctl
// apply runs: all keys go in one transaction, so a seed is either wholly
// there or not at all, and two instances seeding at once cannot
// interleave; an operator's own configuration is never overwritten. A
// transaction holds at most MaxTxnOps keys.
func Seed(ctx context.Context, c *clientv3.Client, prefix string, kvs map[string]string) (bool, error) {
	if len(kvs) == 0 {
		return false, nil
	}
	want := make(map[string]string, len(kvs))
	for _, k := range slices.Sorted(maps.Keys(kvs)) {
		if k == "" || strings.HasPrefix(k, "/") {
			return false, fmt.Errorf("seed %q: key %q must be relative to the prefix", prefix, k)
		}
		want[prefix+k] = kvs[k]
	}
	res, err := NewAdmin(c, prefix).Apply(ctx, want, ApplyOptions{IfEmpty: true})
	if err != nil {
		return false, fmt.Errorf("seed %q: %w", prefix, err)
	}
	return res.Written, nil
}

// LoadSeedFile reads a configuration file in glbctl's layout (YAML, or the
// same structure as JSON; see package yamlconf) and checks it as glbctl
// validate does. It returns the keys relative to the prefix
// ("regions/eu-west") and their values; a file with any problem is an
// error that lists them with their lines.
func LoadSeedFile(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load seed file: %w", err)
	}
	conf, err := yamlconf.Load(path, raw, "")
	if err != nil {
		return nil, fmt.Errorf("load seed file: %w", err)
	}
	return conf.KVs(), nil
}
