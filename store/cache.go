package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrCacheCorrupt is returned (wrapped) by Cache.Load for a file that exists
// but cannot be used: not JSON, another format, another prefix, bad keys.
var ErrCacheCorrupt = errors.New("store: cache file is corrupt")

// cacheFormat names the file layout. A file with another format is
// ignored, so a future layout never gets half-read by an old glbd.
const cacheFormat = "glb-config-cache/1"

// Cache is a local file holding the last good configuration: the raw etcd
// values of the configuration keys in force, at one revision. A Watcher
// given a Cache (SetCache) saves it whenever the configuration changes, and
// serves from it when etcd cannot be listed at start-up, so an instance
// restarted during an etcd outage still answers. Probers' keys and health
// reports are not kept: they are live data, stale within seconds, and
// without them every region counts as up.
//
// The file is JSON, written atomically (temporary file, fsync, rename,
// fsync of the directory), so it is either the old version or the new one,
// never a mix.
type Cache struct {
	path string
}

// NewCache returns a Cache in the file at path.
func NewCache(path string) *Cache { return &Cache{path: path} }

// Path returns the cache file's path.
func (c *Cache) Path() string { return c.path }

// CachedConfig is what a cache file holds.
type CachedConfig struct {
	Prefix         string      // the etcd prefix the keys are under
	Revision       int64       // etcd revision of the state saved
	ConfigRevision int64       // revision of that state's last configuration change
	Saved          time.Time   // when it was written
	Keys           []CachedKey // sorted by key
}

// CachedKey is one configuration key with the value in force.
type CachedKey struct {
	Key         string
	Value       []byte
	ModRevision int64
}

// cacheJSON is the file layout. Values are JSON strings, readable with jq;
// a value that is not UTF-8 (which no valid glb value is, but etcd allows)
// goes in value_base64 so that it round-trips exactly.
type cacheJSON struct {
	Format         string         `json:"format"`
	Prefix         string         `json:"prefix"`
	Revision       int64          `json:"revision"`
	ConfigRevision int64          `json:"config_revision"`
	Saved          time.Time      `json:"saved"`
	Keys           []cacheKeyJSON `json:"keys"`
}

type cacheKeyJSON struct {
	Key         string  `json:"key"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 []byte  `json:"value_base64,omitempty"`
	ModRevision int64   `json:"mod_revision"`
}

// Save writes cfg to the file, replacing it atomically: a crash at any
// point leaves either the previous file or the new one, and no temporary
// file once Save has returned.
func (c *Cache) Save(cfg *CachedConfig) (err error) {
	doc := cacheJSON{Format: cacheFormat, Prefix: cfg.Prefix, Revision: cfg.Revision, ConfigRevision: cfg.ConfigRevision,
		Saved: cfg.Saved.UTC(), Keys: make([]cacheKeyJSON, 0, len(cfg.Keys))}
	for _, k := range cfg.Keys {
		kj := cacheKeyJSON{Key: k.Key, ModRevision: k.ModRevision}
		if utf8.Valid(k.Value) {
			s := string(k.Value)
			kj.Value = &s
		} else {
			kj.ValueBase64 = k.Value
		}
		doc.Keys = append(doc.Keys, kj)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cache %q: %w", c.path, err)
	}
	return writeFileAtomic(c.path, append(data, '\n'), 0o600)
}

// Load reads the file. A missing file gives an error satisfying
// errors.Is(err, fs.ErrNotExist); an unusable one, ErrCacheCorrupt.
func (c *Cache) Load() (*CachedConfig, error) {
	data, err := os.ReadFile(c.path)
	if err != nil {
		return nil, fmt.Errorf("read cache %q: %w", c.path, err)
	}
	cfg, err := decodeCache(data)
	if err != nil {
		return nil, fmt.Errorf("read cache %q: %w: %w", c.path, ErrCacheCorrupt, err)
	}
	return cfg, nil
}

// decodeCache parses and checks a cache file. The values themselves are
// checked later, by the same schema.Builder that checks etcd's.
func decodeCache(data []byte) (*CachedConfig, error) {
	var doc cacheJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON document")
	}
	if doc.Format != cacheFormat {
		return nil, fmt.Errorf("format %q, want %q", doc.Format, cacheFormat)
	}
	if !strings.HasPrefix(doc.Prefix, "/") || !strings.HasSuffix(doc.Prefix, "/") {
		return nil, fmt.Errorf("prefix %q must start and end with '/'", doc.Prefix)
	}
	if doc.Revision <= 0 {
		return nil, fmt.Errorf("revision %d is not positive", doc.Revision)
	}
	cfg := &CachedConfig{Prefix: doc.Prefix, Revision: doc.Revision, ConfigRevision: doc.ConfigRevision, Saved: doc.Saved}
	seen := map[string]bool{}
	for i, k := range doc.Keys {
		switch {
		case !strings.HasPrefix(k.Key, doc.Prefix):
			return nil, fmt.Errorf("keys[%d] %q is not under the prefix %q", i, k.Key, doc.Prefix)
		case seen[k.Key]:
			return nil, fmt.Errorf("keys[%d] %q appears twice", i, k.Key)
		case (k.Value == nil) == (k.ValueBase64 == nil):
			return nil, fmt.Errorf("keys[%d] %q: want exactly one of value and value_base64", i, k.Key)
		case k.ModRevision <= 0 || k.ModRevision > doc.Revision:
			return nil, fmt.Errorf("keys[%d] %q: mod_revision %d is not in 1..%d", i, k.Key, k.ModRevision, doc.Revision)
		}
		seen[k.Key] = true
		v := k.ValueBase64
		if k.Value != nil {
			v = []byte(*k.Value)
		}
		cfg.Keys = append(cfg.Keys, CachedKey{Key: k.Key, Value: v, ModRevision: k.ModRevision})
	}
	slices.SortFunc(cfg.Keys, func(a, b CachedKey) int { return strings.Compare(a.Key, b.Key) })
	return cfg, nil
}

// writeFileAtomic replaces path with data: write a temporary file in the
// same directory, fsync it, rename it over path, fsync the directory so the
// rename itself survives a power cut. The temporary file is removed on any
// error.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write cache %q: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write cache %q: %w", path, err)
	}
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write cache %q: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write cache %q: fsync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write cache %q: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write cache %q: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write cache %q: open directory: %w", path, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("write cache %q: fsync directory: %w", path, err)
	}
	return nil
}

// CheckWritable reports whether the cache file can be written, by creating
// and removing a temporary file beside it, so that glbd can refuse (or
// warn about) a cache it will never manage to save, at start-up rather
// than at the first configuration change.
func (c *Cache) CheckWritable() error {
	tmp, err := os.CreateTemp(filepath.Dir(c.path), "."+filepath.Base(c.path)+".probe-*")
	if err != nil {
		return fmt.Errorf("cache %q: %w", c.path, err)
	}
	name := tmp.Name()
	_ = tmp.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("cache %q: %w", c.path, err)
	}
	return nil
}
