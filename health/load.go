package health

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glb-dns/glb/store/schema"
)

// ReadLoad reads an endpoint's load from a health response as src says:
// a header's value, a top-level JSON number (or numeric string) of the
// body, or the value of an unlabelled (or first) sample of a gauge in a
// Prometheus text body. It is pure, for tests and fuzzing.
func ReadLoad(src *schema.LoadSource, hdr http.Header, body []byte) (float64, error) {
	var v float64
	var err error
	switch {
	case src.Header != "":
		s := hdr.Get(src.Header)
		if s == "" {
			return 0, fmt.Errorf("header %s is missing", src.Header)
		}
		v, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 0, fmt.Errorf("header %s: %q is not a number", src.Header, s)
		}
	case src.JSON != "":
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil {
			return 0, fmt.Errorf("body is not a JSON object: %w", err)
		}
		raw, ok := doc[src.JSON]
		if !ok {
			return 0, fmt.Errorf("JSON field %q is missing", src.JSON)
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			raw = []byte(s)
		}
		v, err = strconv.ParseFloat(strings.TrimSpace(string(raw)), 64)
		if err != nil {
			return 0, fmt.Errorf("JSON field %q: %s is not a number", src.JSON, raw)
		}
	case src.Metric != "":
		v, err = metricValue(body, src.Metric)
		if err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("load spec names no source")
	}
	return v, schema.CheckLoad(v)
}

// metricValue finds the first sample of name in Prometheus text format.
func metricValue(body []byte, name string) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{' && rest[0] != '\t') {
			continue // another metric whose name starts with name
		}
		if rest[0] == '{' {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return 0, fmt.Errorf("metric %s: unterminated labels", name)
			}
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, fmt.Errorf("metric %s has no value", name)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %q is not a number", name, f[0])
		}
		return v, nil
	}
	return 0, fmt.Errorf("metric %s is missing", name)
}

// loadChanged says whether a load differs enough from the one published
// to publish again before the refresh: a hundredth of capacity, so a
// jittery figure does not write to etcd at every check.
func loadChanged(a, b *float64) bool {
	if (a == nil) != (b == nil) {
		return true
	}
	return a != nil && math.Abs(*a-*b) >= 0.01
}

// LoadFresh is how old a prober-reported load may be before it no longer
// counts: a load is a live figure, so it goes stale long before a health
// verdict does. Probers publish a changed load at once and refresh it with
// the verdict.
const LoadFresh = 30 * time.Second

// RegionLoad is a region's load and where it came from.
type RegionLoad struct {
	Load   float64
	Source string // "key" (the etcd load key) or "probers" (median of fresh reports)
}

// Loads returns the load of each region of st that has one: the load key
// when set, else the median over the probers' fresh reports on the
// region's endpoints (each prober's figure counts once per endpoint).
func Loads(st *schema.State, now time.Time, maxAge time.Duration) map[string]RegionLoad {
	out, _ := LoadsAndStale(st, now, maxAge)
	return out
}

// LoadsAndStale is Loads, and the regions (sorted) whose probers report
// loads that are all stale: ignored, which the caller says once.
func LoadsAndStale(st *schema.State, now time.Time, maxAge time.Duration) (map[string]RegionLoad, []string) {
	if maxAge <= 0 || maxAge > LoadFresh {
		maxAge = LoadFresh
	}
	out := map[string]RegionLoad{}
	var stale []string
	for id, r := range st.Regions {
		if v, ok := st.Loads[id]; ok {
			out[id] = RegionLoad{Load: v, Source: "key"}
			continue
		}
		var vals []float64
		old := false
		for _, a := range r.Region.Addrs {
			for prober, rep := range st.Health[id][schema.EndpointKey(a)] {
				if rep.Load == nil || st.Probers[prober] == nil {
					continue
				}
				if now.Sub(rep.Time) > maxAge {
					old = true
					continue
				}
				vals = append(vals, *rep.Load)
			}
		}
		if len(vals) == 0 {
			if old {
				stale = append(stale, id)
			}
			continue
		}
		slices.Sort(vals)
		m := vals[len(vals)/2]
		if len(vals)%2 == 0 {
			m = (vals[len(vals)/2-1] + m) / 2
		}
		out[id] = RegionLoad{Load: m, Source: "probers"}
	}
	slices.Sort(stale)
	return out, stale
}

// noteLoadErr logs a load the check could not read once per distinct
// reason, and counts every such check: the report then carries no load,
// which glbd ignores rather than guesses at.
func (p *Prober) noteLoadErr(l *loop, s *loopState, res Result) {
	if res.LoadErr == nil {
		if res.OK {
			s.loadErr = ""
		}
		return
	}
	p.m.loadErrors.WithLabelValues(l.t.Region).Inc()
	if msg := res.LoadErr.Error(); msg != s.loadErr {
		s.loadErr = msg
		p.log.Warn("load not read from health response", "region", l.t.Region,
			"endpoint", schema.EndpointKey(l.t.Endpoint), "err", msg)
	}
}
