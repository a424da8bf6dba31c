package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strings"

	"github.com/glb-dns/glb/server/limit"
)

// limitFlags are the flags of response rate limiting and DNS cookies. RRL
// is off by default: a rate that suits one deployment drops real answers in
// another, so the operator turns it on knowing their traffic (README.md
// gives the recommended values).
type limitFlags struct {
	rate, slip, v4, v6 int
	whitelist          string
	secretFile         string

	// Filled by resolve.
	RRL     limit.RRLConfig
	Cookies *limit.CookieSecrets // nil: a random secret per process
	err     error                // what validate reports
}

// Defaults, documented in -h and README.md.
const (
	defaultRRLSlip = 2 // as Knot and NSD: half the limited replies go out truncated
	defaultRRLV4   = 24
	defaultRRLV6   = 56
)

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&l.rate, "rrl-rate", 0, "response rate limiting: UDP responses per second per client network and response class (0: off; 20 to 50 is typical)")
	fs.IntVar(&l.slip, "rrl-slip", defaultRRLSlip, "with -rrl-rate: every Nth limited response is sent truncated (TC) so real clients retry over TCP; 0 drops all, 1 truncates all")
	fs.IntVar(&l.v4, "rrl-ipv4-prefix", defaultRRLV4, "with -rrl-rate: IPv4 clients in one network of this length share a limit")
	fs.IntVar(&l.v6, "rrl-ipv6-prefix", defaultRRLV6, "with -rrl-rate: IPv6 clients in one network of this length share a limit")
	fs.StringVar(&l.whitelist, "rrl-whitelist", "", "with -rrl-rate: comma-separated networks (or addresses) never limited")
	fs.StringVar(&l.secretFile, "cookie-secret-file", "", "file holding the DNS cookie secret as 32 hex digits, the same on every instance (optional further lines: secrets still accepted, for rollover); default: a random secret per process")
}

// resolve checks the flags and reads the cookie secret file, for validate
// to report; each error names its flag.
func (l *limitFlags) resolve() {
	var errs []error
	l.RRL = limit.RRLConfig{Rate: l.rate, Slip: l.slip, IPv4Prefix: l.v4, IPv6Prefix: l.v6}
	if l.rate < 0 || l.rate > limit.MaxRRLRate {
		errs = append(errs, fmt.Errorf("-rrl-rate %d: want 0 (off) to %d responses per second", l.rate, limit.MaxRRLRate))
	}
	if l.slip < 0 || l.slip > limit.MaxRRLSlip {
		errs = append(errs, fmt.Errorf("-rrl-slip %d: want 0 to %d", l.slip, limit.MaxRRLSlip))
	}
	if l.v4 < 1 || l.v4 > 32 {
		errs = append(errs, fmt.Errorf("-rrl-ipv4-prefix %d: want 1 to 32", l.v4))
	}
	if l.v6 < 1 || l.v6 > 128 {
		errs = append(errs, fmt.Errorf("-rrl-ipv6-prefix %d: want 1 to 128", l.v6))
	}
	for _, s := range strings.Split(l.whitelist, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("-rrl-whitelist %q: want networks like 192.0.2.0/24 or addresses", s))
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		l.RRL.Whitelist = append(l.RRL.Whitelist, p.Masked())
	}
	if l.secretFile != "" {
		c, err := limit.ReadCookieSecrets(l.secretFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("-cookie-secret-file: %w", err))
		} else {
			l.Cookies = &c
		}
	}
	l.err = errors.Join(errs...)
}
