package server

import (
	"maps"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/server/dnssec"
)

// The signature caches' hit rate. A hit and a miss are counted by the
// cache itself (per shard, beside the lock a lookup takes anyway), never
// in a metric on the query path; the counters are read when Prometheus
// scrapes. A key change gives a zone new caches, so the counts of the
// caches it retires are kept and added, and the totals never go back.

// sigCacheCollector exports glb_dnssec_signature_cache_{hits,misses}_total
// by zone and cache ("answers": each answer's RRset, "denials": compact
// denials of missing names).
type sigCacheCollector struct {
	from   atomic.Pointer[Handler] // set by the first ApplyKeys; nil: no signing yet
	hits   *prometheus.Desc
	misses *prometheus.Desc
}

func newSigCacheCollector(reg prometheus.Registerer) *sigCacheCollector {
	c := &sigCacheCollector{
		hits: prometheus.NewDesc("glb_dnssec_signature_cache_hits_total",
			"DO answers whose signature came from the cache, by zone and cache (answers, denials).", []string{"zone", "cache"}, nil),
		misses: prometheus.NewDesc("glb_dnssec_signature_cache_misses_total",
			"DO answers that signed on the query path (first answer of an RRset since the keys came, or a denial of a new missing name), by zone and cache.",
			[]string{"zone", "cache"}, nil),
	}
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *sigCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hits
	ch <- c.misses
}

// Collect implements prometheus.Collector.
func (c *sigCacheCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.from.Load()
	if h == nil {
		return
	}
	for k, st := range h.signatureCacheStats() {
		ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(st.Hits), k.zone, k.cache)
		ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(st.Misses), k.zone, k.cache)
	}
}

// sigCacheKey names one signature cache in the metrics.
type sigCacheKey struct{ zone, cache string }

// signatureCacheStats returns the hits and misses of every zone's caches:
// those in force plus those retired by key changes.
func (h *Handler) signatureCacheStats() map[sigCacheKey]dnssec.CacheStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := maps.Clone(h.dnssec.retired)
	if out == nil {
		out = map[sigCacheKey]dnssec.CacheStats{}
	}
	if s := h.dnssec.signing; s != nil {
		for origin, zs := range s.Zones {
			addCacheStats(out, origin, zs.Answers, zs.Denials)
		}
	}
	return out
}

// retireCaches keeps the counts of a zone's caches that a key change
// replaces. h.mu is held.
func (h *Handler) retireCaches(origin string, answers, denials *dnssec.Cache) {
	if h.dnssec.retired == nil {
		h.dnssec.retired = map[sigCacheKey]dnssec.CacheStats{}
	}
	addCacheStats(h.dnssec.retired, origin, answers, denials)
}

func addCacheStats(into map[sigCacheKey]dnssec.CacheStats, origin string, answers, denials *dnssec.Cache) {
	zone := strings.TrimSuffix(origin, ".")
	for name, c := range map[string]*dnssec.Cache{"answers": answers, "denials": denials} {
		k := sigCacheKey{zone, name}
		st, sum := c.Stats(), into[k]
		sum.Hits += st.Hits
		sum.Misses += st.Misses
		into[k] = sum
	}
}
