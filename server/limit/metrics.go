package limit

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics count what RRL and cookies do.
type Metrics struct {
	dropped, slipped          prometheus.Counter
	exemptCookie, exemptWhite prometheus.Counter
	cookies                   [cookieKinds]prometheus.Counter
}

// CookieKind is what a query's COOKIE option held, for
// glb_dns_cookie_queries_total.
type CookieKind int

// The kinds of COOKIE options.
const (
	CookieClientOnly CookieKind = iota // only a client cookie
	CookieValid                        // a server cookie of ours, in date
	CookieInvalid                      // a server cookie not ours, or out of date
	CookieMalformed                    // a length RFC 7873 forbids, or repeated: FORMERR
	cookieKinds
)

// CountCookie counts a query's COOKIE option of kind k.
func (m *Metrics) CountCookie(k CookieKind) { m.cookies[k].Inc() }

// NewMetrics registers the RRL and cookie metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	limited := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glb", Subsystem: "dns", Name: "rrl_limited_total",
		Help: "UDP responses held back by response rate limiting: dropped, or slipped (sent truncated so the client retries over TCP).",
	}, []string{"action"})
	exempt := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glb", Subsystem: "dns", Name: "rrl_exempt_total",
		Help: "UDP responses not rate limited because the client showed a valid server cookie or is in the whitelist.",
	}, []string{"reason"})
	cookies := f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glb", Subsystem: "dns", Name: "cookie_queries_total",
		Help: "Queries with a DNS COOKIE option, by what it held: client_only, valid (a server cookie of ours, in date), invalid, malformed (answered FORMERR).",
	}, []string{"cookie"})
	m := &Metrics{dropped: limited.WithLabelValues("dropped"), slipped: limited.WithLabelValues("slipped"),
		exemptCookie: exempt.WithLabelValues("cookie"), exemptWhite: exempt.WithLabelValues("whitelist")}
	for i, l := range []string{"client_only", "valid", "invalid", "malformed"} {
		m.cookies[i] = cookies.WithLabelValues(l)
	}
	return m
}
