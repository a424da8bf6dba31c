package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Seed writes kvs under prefix if, and only if, nothing exists under the
// prefix yet, and reports whether it wrote. Keys are relative to the prefix
// ("regions/eu-west"). All keys go in one transaction, so a seed is either
// wholly there or not at all, and two instances seeding at once cannot
// interleave; an operator's own configuration is never overwritten. etcd
// limits a transaction to 128 operations by default (--max-txn-ops).
func Seed(ctx context.Context, c *clientv3.Client, prefix string, kvs map[string]string) (bool, error) {
	if len(kvs) == 0 {
		return false, nil
	}
	ops := make([]clientv3.Op, 0, len(kvs))
	for _, k := range slices.Sorted(maps.Keys(kvs)) {
		if k == "" || strings.HasPrefix(k, "/") {
			return false, fmt.Errorf("seed %q: key %q must be relative to the prefix", prefix, k)
		}
		ops = append(ops, clientv3.OpPut(prefix+k, kvs[k]))
	}
	// A range compare holds when every key in the range satisfies it, and
	// is checked against a zero key when the range is empty: so this is
	// "no key under the prefix exists".
	empty := clientv3.Compare(clientv3.CreateRevision(prefix), "=", 0).WithPrefix()
	resp, err := c.Txn(ctx).If(empty).Then(ops...).Commit()
	if err != nil {
		return false, fmt.Errorf("seed %q: %w", prefix, err)
	}
	return resp.Succeeded, nil
}

// LoadSeedFile reads a seed: a JSON object whose keys are etcd keys relative
// to the prefix. A string value is stored as the string itself, so weights
// read naturally ("100"); any other value is stored as its compact JSON
// encoding, so documents can be written as JSON rather than quoted JSON.
func LoadSeedFile(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load seed file: %w", err)
	}
	kvs, err := parseSeed(raw)
	if err != nil {
		return nil, fmt.Errorf("load seed file %q: %w", path, err)
	}
	return kvs, nil
}

// parseSeed decodes the object token by token rather than into a map, so
// that a key given twice is an error instead of the last one silently
// winning.
func parseSeed(raw []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	t, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if t != json.Delim('{') {
		return nil, errors.New("want a JSON object of key: value pairs")
	}
	kvs := map[string]string{}
	for dec.More() {
		t, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("bad JSON: %w", err)
		}
		key := t.(string) // an object key is always a string
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("key %q: bad JSON: %w", key, err)
		}
		if _, dup := kvs[key]; dup {
			return nil, fmt.Errorf("key %q is given twice", key)
		}
		switch {
		case bytes.Equal(v, []byte("null")):
			return nil, fmt.Errorf("key %q: null is not a value", key)
		case v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("key %q: %w", key, err)
			}
			kvs[key] = s
		default:
			var b bytes.Buffer
			if err := json.Compact(&b, v); err != nil {
				return nil, fmt.Errorf("key %q: %w", key, err)
			}
			kvs[key] = b.String()
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("bad JSON: trailing data after the object")
	}
	return kvs, nil
}
