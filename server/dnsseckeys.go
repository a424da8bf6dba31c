package server

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/glb-dns/glb/internal/lifecycle"
	"github.com/glb-dns/glb/server/dnssec"
	"github.com/glb-dns/glb/server/plan"
)

// ZoneKeys is one zone's DNSSEC keys as etcd holds them (the store's
// KeysWatcher reads them): Name is the etcd key of the key set, for
// errors; Public its JSON, nil when absent; Private the private key texts
// by tag. They are secret: never log them.
type ZoneKeys struct {
	Name     string
	Public   []byte
	Revision int64
	Private  map[uint16]string
}

// dnssecState is the Handler's DNSSEC state, guarded by Handler.mu except
// for unsigned, which /readyz reads.
type dnssecState struct {
	seen     map[string]*ZoneKeys // the last keys received, by zone (fully qualified)
	signing  *plan.Signing        // in force; shared by the snapshots built since
	unsigned atomic.Pointer[[]string]
	listed   bool                              // keys were received once: before that, no zone is said to lack them
	cacheCfg dnssec.SignerConfig               // tests inject the clock
	retired  map[sigCacheKey]dnssec.CacheStats // counts of caches replaced by key changes (dnsseccachemetrics.go)
}

// dnssecMetrics are the DNSSEC metrics.
type dnssecMetrics struct {
	keyErrors *prometheus.CounterVec
	unsigned  *prometheus.GaugeVec
	servfail  *prometheus.CounterVec
	refreshed prometheus.Counter
	caches    *sigCacheCollector
}

func newDNSSECMetrics(f promauto.Factory, reg prometheus.Registerer) *dnssecMetrics {
	return &dnssecMetrics{
		caches: newSigCacheCollector(reg),
		keyErrors: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "dnssec", Name: "key_errors_total",
			Help: "DNSSEC key sets or private keys refused (corrupt, missing, not matching); the keys in force stay.",
		}, []string{"zone"}),
		unsigned: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "glb", Subsystem: "dnssec", Name: "zone_without_keys",
			Help: "1 for a zone whose document says dnssec but which has no usable keys: its DO queries get SERVFAIL.",
		}, []string{"zone"}),
		servfail: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "dnssec", Name: "unsigned_servfail_total",
			Help: "DO queries answered SERVFAIL because their signed zone has no usable keys.",
		}, []string{"zone"}),
		refreshed: f.NewCounter(prometheus.CounterOpts{
			Namespace: "glb", Subsystem: "dnssec", Name: "signatures_refreshed_total",
			Help: "Cached signatures signed again before they expire, off the query path.",
		}),
	}
}

// denialCacheSize bounds the cache of compact denials of missing names.
const denialCacheSize = 10_000

// ApplyKeys makes zones' keys those in force: each zone whose keys
// changed gets a new signer and fresh caches. A key set or private key
// that does not decode or match is refused (logged at ERROR with its etcd
// key and reason, counted in glb_dnssec_key_errors_total) and the zone
// keeps the keys in force; keys deleted from etcd also leave those in
// force, since an instance that stopped signing would answer bogus.
func (h *Handler) ApplyKeys(zones map[string]*ZoneKeys) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.metrics.dnssec.caches.from.Store(h)
	d := &h.dnssec
	var cur map[string]*plan.ZoneSigning
	if d.signing != nil {
		cur = d.signing.Zones
	}
	next := maps.Clone(cur)
	if next == nil {
		next = map[string]*plan.ZoneSigning{}
	}
	changed := false
	for _, name := range slices.Sorted(maps.Keys(zones)) {
		zk := zones[name]
		origin := dns.Fqdn(strings.ToLower(name))
		if old := d.seen[origin]; old != nil && old.Revision == zk.Revision && maps.Equal(old.Private, zk.Private) {
			continue
		}
		if zk.Public == nil {
			continue // private keys without a key set: nothing to sign with
		}
		zs, err := h.zoneSigning(origin, zk)
		if err != nil {
			h.log.Error("dnssec keys refused; the keys in force stay", "zone", origin, "key", zk.Name, "err", err)
			h.metrics.dnssec.keyErrors.WithLabelValues(strings.TrimSuffix(origin, ".")).Inc()
			continue
		}
		if old := next[origin]; old != nil {
			h.retireCaches(origin, old.Answers, old.Denials)
		}
		next[origin], changed = zs, true
		h.log.Info("dnssec keys in force", "zone", origin, "revision", zk.Revision, "data_key_tag", dataKeyTag(zs.Signer),
			"algorithm", zs.Signer.Keys().Algorithm)
	}
	for origin := range d.seen {
		if _, ok := zones[strings.TrimSuffix(origin, ".")]; !ok && next[origin] != nil {
			h.log.Error("dnssec keys deleted from etcd; the keys in force stay until restart", "zone", origin)
		}
	}
	d.seen = map[string]*ZoneKeys{}
	for name, zk := range zones {
		d.seen[dns.Fqdn(strings.ToLower(name))] = zk
	}
	if changed {
		d.signing = &plan.Signing{Zones: next}
	}
	first := !d.listed
	d.listed = true
	if h.state != nil && changed {
		h.rebuild()
	} else if s := h.snap.Load(); s != nil && first {
		h.checkSigning(s)
	}
}

// zoneSigning builds a zone's signer and caches.
func (h *Handler) zoneSigning(origin string, zk *ZoneKeys) (*plan.ZoneSigning, error) {
	ks, err := dnssec.DecodeKeySet(zk.Name, zk.Public)
	if err != nil {
		return nil, err
	}
	if ks.Zone != origin {
		return nil, fmt.Errorf("%w: %s: the key set is of zone %s", dnssec.ErrKey, zk.Name, ks.Zone)
	}
	cfg := h.dnssec.cacheCfg
	if cfg.Now == nil {
		cfg.Now = h.now
	}
	s, err := dnssec.NewSigner(ks, zk.Private, cfg)
	if err != nil {
		return nil, err
	}
	return &plan.ZoneSigning{Signer: s, Answers: dnssec.NewCache(s, 0), Denials: dnssec.NewCache(s, denialCacheSize)}, nil
}

// dataKeyTag returns the tag of the key that signs the zone's data.
func dataKeyTag(s *dnssec.Signer) uint16 {
	for _, k := range s.Keys().Keys {
		if k.State == dnssec.StateActive && k.Role != dnssec.RoleKSK {
			return k.Tag
		}
	}
	return 0
}

// checkSigning notes the zones that say dnssec but have no usable keys:
// an ERROR line when one becomes so, the gauge, and UnsignedZones for
// /readyz. h.mu is held.
func (h *Handler) checkSigning(snap *plan.Snapshot) {
	if !h.dnssec.listed {
		return // the keys' first list is on its way: DO queries get SERVFAIL meanwhile
	}
	var was []string
	if p := h.dnssec.unsigned.Load(); p != nil {
		was = *p
	}
	var now []string
	for origin, z := range snap.Config.Zones {
		if !z.Signed {
			continue
		}
		label := strings.TrimSuffix(origin, ".")
		if snap.DNSSEC.For(z) == nil {
			now = append(now, label)
			if !slices.Contains(was, label) {
				h.log.Error("zone says dnssec but has no usable keys: its DO queries get SERVFAIL until keys are made (glbctl dnssec keygen)",
					"zone", label)
			}
			h.metrics.dnssec.unsigned.WithLabelValues(label).Set(1)
		} else {
			h.metrics.dnssec.unsigned.WithLabelValues(label).Set(0)
		}
	}
	sort.Strings(now)
	h.dnssec.unsigned.Store(&now)
}

// UnsignedZones returns the zones whose document says dnssec but which
// have no usable keys, for /readyz.
func (h *Handler) UnsignedZones() []string {
	if p := h.dnssec.unsigned.Load(); p != nil {
		return *p
	}
	return nil
}

// SignatureRefresh is how often cached signatures are checked for
// expiry; far shorter than the margin a signature is refreshed at (days).
const SignatureRefresh = time.Hour

// refreshSignatures signs again the cached signatures near expiry, off
// the query path, so that queries never sign in steady state.
func (h *Handler) refreshSignatures() {
	snap := h.snap.Load()
	if snap == nil || snap.DNSSEC == nil {
		return
	}
	n := 0
	for _, zs := range snap.DNSSEC.Zones {
		n += zs.Answers.Refresh() + zs.Denials.Refresh()
	}
	h.metrics.dnssec.refreshed.Add(float64(n))
}

// runSignatureRefresh calls refreshSignatures every SignatureRefresh
// until ctx is done.
func (h *Handler) runSignatureRefresh(ctx context.Context) {
	lifecycle.Every(ctx, SignatureRefresh, h.refreshSignatures)
}
