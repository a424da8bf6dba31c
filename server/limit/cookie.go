package server

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018): a
// client that has shown it receives our replies at its address is no
// spoofer, so RRL lets it through. Every instance given the same secret
// makes and accepts the same cookies, so anycast or several NS records
// behind one name work.

// CookieSecret is the 16-byte SipHash key server cookies are made with.
type CookieSecret [16]byte

// CookieSecrets are the secrets of a server: Current makes new cookies and
// is accepted; Accept are also accepted, for the rollover of RFC 9018
// section 5 (give every instance the new secret as accepted first, then
// make it current, then after an hour drop the old one).
type CookieSecrets struct {
	Current CookieSecret
	Accept  []CookieSecret
}

// RandomCookieSecrets returns a secret for one process: its cookies are
// accepted only by itself.
func RandomCookieSecrets() CookieSecrets {
	var c CookieSecrets
	_, _ = rand.Read(c.Current[:]) // crypto/rand.Read never fails (Go 1.24)
	return c
}

// errBadCookieSecret marks a secret that is not 32 hex digits.
var errBadCookieSecret = errors.New("want 32 hex digits (16 bytes)")

// ParseCookieSecret reads a secret written as 32 hex digits.
func ParseCookieSecret(s string) (CookieSecret, error) {
	var c CookieSecret
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(c) {
		return c, errBadCookieSecret
	}
	copy(c[:], b)
	return c, nil
}

// ReadCookieSecrets reads a secret file: the current secret on the first
// line, and optionally more lines of secrets also accepted. Blank lines and
// lines starting with '#' are skipped.
func ReadCookieSecrets(path string) (CookieSecrets, error) {
	var c CookieSecrets
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read cookie secret file: %w", err)
	}
	n := 0
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := ParseCookieSecret(line)
		if err != nil {
			return c, fmt.Errorf("cookie secret file %s line %d: %w", path, i+1, err)
		}
		if n == 0 {
			c.Current = s
		} else {
			c.Accept = append(c.Accept, s)
		}
		n++
	}
	if n == 0 {
		return c, fmt.Errorf("cookie secret file %s: no secret in it: %w", path, errBadCookieSecret)
	}
	return c, nil
}

// Cookie sizes (RFC 7873 section 4): an 8-byte client cookie, optionally
// followed by a server cookie of 8 to 32 bytes; ours (RFC 9018) are 16.
const (
	clientCookieLen = 8
	serverCookieLen = 16
	minCookieLen    = clientCookieLen + 8
	maxCookieLen    = clientCookieLen + 32
)

// Server cookie lifetime, as RFC 9018 section 4.3 recommends: accepted for
// an hour after it was made and up to five minutes ahead of our clock (for
// instances whose clocks differ a little).
const (
	cookieMaxAge  = uint32(time.Hour / time.Second)
	cookieMaxSkew = uint32(5 * time.Minute / time.Second)
)

// cookie is the COOKIE option of a query.
type cookie struct {
	present bool
	valid   bool   // it carries a server cookie of ours, in date
	now     uint32 // unix time it was read at: the reply's cookie is stamped with it
	client  [clientCookieLen]byte
}

// cookieOK reports whether an option of n bytes is a well-formed COOKIE
// (RFC 7873 section 5.2.2: anything else is answered FORMERR).
func cookieOK(n int) bool {
	return n == clientCookieLen || (n >= minCookieLen && n <= maxCookieLen)
}

// readCookie reads a well-formed COOKIE option b and checks its server
// cookie against the secrets, for a query from remote at unix time now.
func (c *CookieSecrets) readCookie(b []byte, remote netip.Addr, now uint32) cookie {
	ck := cookie{present: true, now: now}
	copy(ck.client[:], b)
	ck.valid = c.validServer(b, remote, now)
	return ck
}

// validServer reports whether the option b holds a server cookie made by one
// of our secrets for this client cookie and address, still in date.
func (c *CookieSecrets) validServer(b []byte, remote netip.Addr, now uint32) bool {
	if len(b) != clientCookieLen+serverCookieLen {
		return false
	}
	s := b[clientCookieLen:]
	if s[0] != 1 { // version 1 is the only one defined
		return false
	}
	ts := binary.BigEndian.Uint32(s[4:])
	// Serial number arithmetic (RFC 1982), as the timestamp wraps in 2106.
	if age := now - ts; age > cookieMaxAge && ts-now > cookieMaxSkew {
		return false
	}
	var want [8]byte
	for i := -1; i < len(c.Accept); i++ {
		k := &c.Current
		if i >= 0 {
			k = &c.Accept[i]
		}
		// The hash covers the version and reserved bytes as received.
		binary.LittleEndian.PutUint64(want[:], cookieHash(k, b[:clientCookieLen], s[:8], remote))
		if bytes.Equal(want[:], s[8:]) {
			return true
		}
	}
	return false
}

// cookieHash is SipHash-2-4 over client cookie | version | reserved |
// timestamp | client address (4 bytes for IPv4, 16 for IPv6), RFC 9018
// section 4.4.
func cookieHash(k *CookieSecret, client, head []byte, remote netip.Addr) uint64 {
	var buf [clientCookieLen + 8 + 16]byte
	n := copy(buf[:], client)
	n += copy(buf[n:], head)
	if remote.Is4() {
		a := remote.As4()
		n += copy(buf[n:], a[:])
	} else {
		a := remote.As16()
		n += copy(buf[n:], a[:])
	}
	return sipHash24((*[16]byte)(k), buf[:n])
}

// appendCookie appends the reply's COOKIE option data: the client's cookie
// and a fresh server cookie made at unix time now for remote.
func (c *CookieSecrets) appendCookie(dst []byte, client *[clientCookieLen]byte, remote netip.Addr, now uint32) []byte {
	var head [8]byte
	head[0] = 1 // version; reserved bytes zero
	binary.BigEndian.PutUint32(head[4:], now)
	dst = append(dst, client[:]...)
	dst = append(dst, head[:]...)
	return binary.LittleEndian.AppendUint64(dst, cookieHash(&c.Current, client[:], head[:], remote))
}

// unixSeconds is the cookie timestamp for t.
func unixSeconds(t time.Time) uint32 { return uint32(t.Unix()) }

// readCookie reads the COOKIE option b of q's query into q.cookie and
// counts it; ok is false for a malformed one (FORMERR).
func (h *Handler) readCookie(q *query, b []byte) (ok bool) {
	if !cookieOK(len(b)) {
		h.metrics.limits.cookies[cookieMalformed].Inc()
		return false
	}
	q.cookie = h.cookies.readCookie(b, q.remote, unixSeconds(h.now()))
	switch {
	case q.cookie.valid:
		h.metrics.limits.cookies[cookieValid].Inc()
	case len(b) == clientCookieLen:
		h.metrics.limits.cookies[cookieClientOnly].Inc()
	default:
		h.metrics.limits.cookies[cookieInvalid].Inc()
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
				h.metrics.limits.cookies[cookieMalformed].Inc()
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
		h.metrics.limits.cookies[cookieMalformed].Inc()
		return false
	}
	return h.readCookie(q, b)
}

// replyCookie adds our COOKIE option to the reply to a query that had one:
// the client's cookie and a fresh server cookie (RFC 7873 section 5.2).
func (h *Handler) replyCookie(q *query) {
	if !q.cookie.present || q.m == nil {
		return
	}
	if o := q.m.IsEdns0(); o != nil {
		c := h.cookies.appendCookie(nil, &q.cookie.client, q.remote, q.cookie.now)
		o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(c)})
	}
}
