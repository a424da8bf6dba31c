package limit

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
	ClientCookieLen = 8  // the client cookie
	ServerCookieLen = 16 // our server cookies (RFC 9018)
	minCookieLen    = ClientCookieLen + 8
	maxCookieLen    = ClientCookieLen + 32
)

// Server cookie lifetime, as RFC 9018 section 4.3 recommends: accepted for
// an hour after it was made and up to five minutes ahead of our clock (for
// instances whose clocks differ a little).
const (
	cookieMaxAge  = uint32(time.Hour / time.Second)
	cookieMaxSkew = uint32(5 * time.Minute / time.Second)
)

// Cookie is the COOKIE option of a query.
type Cookie struct {
	Present bool
	Valid   bool   // it carries a server cookie of ours, in date
	Now     uint32 // unix time it was read at: the reply's cookie is stamped with it
	Client  [ClientCookieLen]byte
}

// CookieOK reports whether an option of n bytes is a well-formed COOKIE
// (RFC 7873 section 5.2.2: anything else is answered FORMERR).
func CookieOK(n int) bool {
	return n == ClientCookieLen || (n >= minCookieLen && n <= maxCookieLen)
}

// Read reads a well-formed COOKIE option b and checks its server cookie
// against the secrets, for a query from remote at unix time now.
func (c *CookieSecrets) Read(b []byte, remote netip.Addr, now uint32) Cookie {
	ck := Cookie{Present: true, Now: now}
	copy(ck.Client[:], b)
	ck.Valid = c.validServer(b, remote, now)
	return ck
}

// validServer reports whether the option b holds a server cookie made by one
// of our secrets for this client cookie and address, still in date.
func (c *CookieSecrets) validServer(b []byte, remote netip.Addr, now uint32) bool {
	if len(b) != ClientCookieLen+ServerCookieLen {
		return false
	}
	s := b[ClientCookieLen:]
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
		binary.LittleEndian.PutUint64(want[:], cookieHash(k, b[:ClientCookieLen], s[:8], remote))
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
	var buf [ClientCookieLen + 8 + 16]byte
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

// Append appends the reply's COOKIE option data: the client's cookie
// and a fresh server cookie made at unix time now for remote.
func (c *CookieSecrets) Append(dst []byte, client *[ClientCookieLen]byte, remote netip.Addr, now uint32) []byte {
	var head [8]byte
	head[0] = 1 // version; reserved bytes zero
	binary.BigEndian.PutUint32(head[4:], now)
	dst = append(dst, client[:]...)
	dst = append(dst, head[:]...)
	return binary.LittleEndian.AppendUint64(dst, cookieHash(&c.Current, client[:], head[:], remote))
}

// UnixSeconds is the cookie timestamp for t.
func UnixSeconds(t time.Time) uint32 { return uint32(t.Unix()) }
