package dnswire

import (
	"errors"
	"net/netip"
	"testing"
)

// TestParseECS: the one ECS parser of both answer paths accepts exactly
// the options RFC 7871 section 6 allows and rejects the rest with
// ErrBadECS.
func TestParseECS(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  []byte
		want string // the accepted network, "" for family 0 / source 0; "error" when rejected
	}{
		{"ipv4 /24", []byte{0, 1, 24, 0, 81, 2, 69}, "81.2.69.0/24"},
		{"ipv4 /20", []byte{0, 1, 20, 0, 81, 2, 64}, "81.2.64.0/20"},
		{"ipv6 /48", []byte{0, 2, 48, 0, 0x2a, 0x02, 0xcf, 0x40, 0, 0}, "2a02:cf40::/48"},
		{"ipv4 /0 no address", []byte{0, 1, 0, 0}, ""},
		{"family 0 /0 (dig)", []byte{0, 0, 0, 0}, ""},
		{"scope ignored in a query", []byte{0, 1, 24, 8, 81, 2, 69}, "81.2.69.0/24"},
		{"ipv4 /24 with 4 octets", []byte{0, 1, 24, 0, 81, 2, 69, 0}, "error"},
		{"ipv4 /24 with 2 octets", []byte{0, 1, 24, 0, 81, 2}, "error"},
		{"ipv4 /0 with an octet", []byte{0, 1, 0, 0, 0}, "error"},
		{"ipv6 /48 with 7 octets", []byte{0, 2, 48, 0, 0x2a, 0x02, 0xcf, 0x40, 0, 0, 0}, "error"},
		{"ipv6 /48 with 5 octets", []byte{0, 2, 48, 0, 0x2a, 0x02, 0xcf, 0x40, 0}, "error"},
		{"bits beyond the prefix", []byte{0, 1, 20, 0, 81, 2, 69}, "error"},
		{"family 3", []byte{0, 3, 24, 0, 1, 2, 3}, "error"},
		{"family 0 with a prefix", []byte{0, 0, 24, 0, 1, 2, 3}, "error"},
		{"ipv4 /33", []byte{0, 1, 33, 0, 1, 2, 3, 4, 5}, "error"},
		{"shorter than its header", []byte{0, 1, 24}, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := ParseECS(tc.opt)
			got := "error"
			switch {
			case err != nil && !errors.Is(err, ErrBadECS):
				t.Fatalf("error %v, want ErrBadECS", err)
			case err == nil && !cs.Present:
				t.Fatal("accepted but not present")
			case err == nil:
				got = ""
				if p := cs.Prefix(); p.IsValid() {
					got = p.String()
				}
			}
			if got != tc.want {
				t.Errorf("ParseECS(% x) = %q, want %q", tc.opt, got, tc.want)
			}
			if err == nil && cs.Addr.IsValid() && cs.Prefix() != netip.MustParsePrefix(tc.want) {
				t.Errorf("prefix %v", cs.Prefix())
			}
		})
	}
}
