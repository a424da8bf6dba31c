package plan

import (
	"math"
	"strconv"

	"github.com/glb-dns/glb/store/schema"
)

// tier is a name's tier tolerance in the form rank wants: the slack as a
// fraction of the best score, and the floors in km (geo) and ms
// (latency). nearest keeps the tier to the single best region.
type tier struct {
	nearest       bool
	slack, km, ms float64
	pct           float64 // slack in percent, as configured, for TierText
}

// defaultTier is today's fixed tier: 10 % or 100 km (1.5 ms).
var defaultTier = tier{slack: TierSlack, km: TierMinKm, ms: TierMinMs, pct: TierSlack * 100}

// tierOf compiles a name's tier field (nil: the default).
func tierOf(t *schema.Tier) tier {
	switch {
	case t == nil:
		return defaultTier
	case t.Nearest:
		return tier{nearest: true}
	}
	return tier{slack: t.Pct / 100, km: t.Km, ms: t.Ms, pct: t.Pct}
}

// hash feeds the tier into a name's configuration key: names alike but
// for their tier plan differently.
func (t tier) hash(w *hashWriter) {
	w.flag(t.nearest)
	w.num(math.Float64bits(t.slack))
	w.num(math.Float64bits(t.km))
	w.num(math.Float64bits(t.ms))
}

// TierText describes the tier for explain: "nearest", or "10% or 100 km"
// (geo) / "10% or 1.5 ms" (latency).
func (g *Name) TierText() string {
	if g.tier.nearest {
		return schema.TierNearest
	}
	if g.Policy == schema.PolicyLatency {
		return formatTier(g.tier.pct, g.tier.ms, "ms")
	}
	return formatTier(g.tier.pct, g.tier.km, "km")
}

func formatTier(pct, floor float64, unit string) string {
	return strconv.FormatFloat(pct, 'f', -1, 64) + "% or " + strconv.FormatFloat(floor, 'f', -1, 64) + " " + unit
}
