package schema

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// DefaultRecordTTL is the TTL of static records that do not set one.
const DefaultRecordTTL = 300

// MaxRecordValues caps the values of one record set.
const MaxRecordValues = 64

// Record is the document at <prefix>zones/<zone>/records/<label>/<TYPE>: one
// static record set. Each value is the record's data in zone-file form, e.g.
// "192.0.2.1" for A, "10 mx1.example.net." for MX, "v=spf1 -all" for TXT
// (one character-string per value; long ones are split at 255 bytes).
type Record struct {
	TTL    uint32   `json:"ttl,omitempty"` // default 300
	Values []string `json:"values"`
}

// recordTypes maps each supported type to the check of one value.
var recordTypes = map[string]func(string) error{
	"A":     checkA,
	"AAAA":  checkAAAA,
	"CNAME": checkTarget,
	"PTR":   checkTarget,
	"MX":    checkMX,
	"SRV":   checkSRV,
	"TXT":   checkTXT,
	"CAA":   checkCAA,
}

func supportedTypes() string {
	var t []string
	for k := range recordTypes {
		t = append(t, k)
	}
	slices.Sort(t)
	return strings.Join(t, ", ")
}

// Validate checks the record set for the given upper-case type.
func (r *Record) Validate(rrtype string) error {
	check, ok := recordTypes[rrtype]
	if !ok {
		return fmt.Errorf("record type %q is not supported (want one of %s)", rrtype, supportedTypes())
	}
	var errs []error
	switch {
	case len(r.Values) == 0:
		errs = append(errs, errors.New("values is empty"))
	case len(r.Values) > MaxRecordValues:
		errs = append(errs, fmt.Errorf("%d values is more than %d", len(r.Values), MaxRecordValues))
	case rrtype == "CNAME" && len(r.Values) != 1:
		errs = append(errs, errors.New("a CNAME has exactly one value"))
	}
	if r.TTL > MaxTTL {
		errs = append(errs, fmt.Errorf("ttl %d is above %d", r.TTL, MaxTTL))
	}
	seen := map[string]bool{}
	for i, v := range r.Values {
		if err := check(v); err != nil {
			errs = append(errs, fmt.Errorf("values[%d]: %w", i, err))
		}
		if seen[v] {
			errs = append(errs, fmt.Errorf("values[%d]: %q is listed twice", i, v))
		}
		seen[v] = true
	}
	return errors.Join(errs...)
}

func checkA(v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not an IPv4 address", v)
	}
	return nil
}

func checkAAAA(v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
		return fmt.Errorf("%q is not an IPv6 address", v)
	}
	return nil
}

// checkTarget accepts a host name; targets are always absolute, so the
// trailing dot is optional.
func checkTarget(v string) error {
	if err := CheckDomain(v); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	return nil
}

func checkUint16(what, s string) error {
	if _, err := strconv.ParseUint(s, 10, 16); err != nil {
		return fmt.Errorf("%s %q is not a number in 0..65535", what, s)
	}
	return nil
}

func checkMX(v string) error {
	f := strings.Fields(v)
	if len(f) != 2 {
		return fmt.Errorf("%q: want \"<preference> <host>\"", v)
	}
	return errors.Join(checkUint16("preference", f[0]), checkTarget(f[1]))
}

func checkSRV(v string) error {
	f := strings.Fields(v)
	if len(f) != 4 {
		return fmt.Errorf("%q: want \"<priority> <weight> <port> <target>\"", v)
	}
	return errors.Join(checkUint16("priority", f[0]), checkUint16("weight", f[1]),
		checkUint16("port", f[2]), checkTarget(f[3]))
}

func checkTXT(v string) error {
	if len(v) > 4000 {
		return fmt.Errorf("TXT value of %d bytes is longer than 4000", len(v))
	}
	return nil
}

// ParseCAA splits a CAA value "<flags> <tag> <value>" (RFC 8659); the value
// may be quoted. The server builds the record from these parts directly, so
// a ';' in the value is data, not a zone-file comment.
func ParseCAA(v string) (flags uint8, tag, value string, err error) {
	f := strings.SplitN(v, " ", 3)
	if len(f) != 3 {
		return 0, "", "", fmt.Errorf("%q: want \"<flags> <tag> <value>\"", v)
	}
	n, err := strconv.ParseUint(f[0], 10, 8)
	if err != nil {
		return 0, "", "", fmt.Errorf("CAA flags %q is not a number in 0..255", f[0])
	}
	tag = f[1]
	if tag == "" || len(tag) > 15 {
		return 0, "", "", fmt.Errorf("CAA tag %q must be 1 to 15 characters", tag)
	}
	for _, c := range []byte(tag) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return 0, "", "", fmt.Errorf("CAA tag %q must be lower-case letters and digits", tag)
		}
	}
	value = strings.TrimSpace(f[2])
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	if value == "" || strings.ContainsAny(value, `"\`) {
		return 0, "", "", fmt.Errorf("CAA value %q must be non-empty, without quotes or backslashes", f[2])
	}
	return uint8(n), tag, value, nil
}

func checkCAA(v string) error {
	_, _, _, err := ParseCAA(v)
	return err
}
