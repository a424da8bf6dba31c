package server

import (
	"encoding/hex"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/limit"
)

// The pipeline's side of DNS cookies (limit/cookie.go makes and checks
// them): reading a query's COOKIE option and adding ours to a reply.

// readCookie reads the COOKIE option b of q's query into q.cookie and
// counts it; ok is false for a malformed one (FORMERR).
func (h *Handler) readCookie(q *query, b []byte) (ok bool) {
	if !limit.CookieOK(len(b)) {
		h.metrics.limits.CountCookie(limit.CookieMalformed)
		return false
	}
	q.cookie = h.cookies.Read(b, q.remote, limit.UnixSeconds(h.now()))
	switch {
	case q.cookie.Valid:
		h.metrics.limits.CountCookie(limit.CookieValid)
	case len(b) == limit.ClientCookieLen:
		h.metrics.limits.CountCookie(limit.CookieClientOnly)
	default:
		h.metrics.limits.CountCookie(limit.CookieInvalid)
	}
	return true
}

// readCookieOpt reads the COOKIE option of a query parsed by the DNS
// library; ok is false when it is malformed or repeated (FORMERR).
func (h *Handler) readCookieOpt(q *query, opt *dns.OPT) (ok bool) {
	var found *dns.EDNS0_COOKIE
	for _, o := range opt.Option {
		if c, isCookie := o.(*dns.EDNS0_COOKIE); isCookie {
			if found != nil {
				h.metrics.limits.CountCookie(limit.CookieMalformed)
				return false
			}
			found = c
		}
	}
	if found == nil {
		return true
	}
	b, err := hex.DecodeString(found.Cookie)
	if err != nil {
		h.metrics.limits.CountCookie(limit.CookieMalformed)
		return false
	}
	return h.readCookie(q, b)
}

// replyCookie adds our COOKIE option to the reply to a query that had one:
// the client's cookie and a fresh server cookie (RFC 7873 section 5.2).
func (h *Handler) replyCookie(q *query) {
	if !q.cookie.Present || q.m == nil {
		return
	}
	if o := q.m.IsEdns0(); o != nil {
		c := h.cookies.Append(nil, &q.cookie.Client, q.remote, q.cookie.Now)
		o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(c)})
	}
}
