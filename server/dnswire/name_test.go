package dnswire

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestCheckName: what CheckName finds in names as a query carries them,
// and what AppendLower and AppendPresentation make of the ones it takes.
func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		wire []byte
		want NameCase
		pres string // AppendPresentation(AppendLower(wire)), when not odd
	}{
		{pack(t, "www.gslb.example.test."), NameLower, "www.gslb.example.test."},
		{pack(t, "a-b_c.0.test."), NameLower, "a-b_c.0.test."},
		{pack(t, "WwW.GSLB.example.test."), NameUpper, "www.gslb.example.test."},
		{pack(t, "Z."), NameUpper, "z."},
		{pack(t, `w\.ww.test.`), NameOdd, ""},
		{pack(t, `sp\032ce.test.`), NameOdd, ""},
		{pack(t, `caf\195\169.test.`), NameOdd, ""},
		{pack(t, `UP\000.test.`), NameOdd, ""}, // odd wins over upper
		{pack(t, `*.test.`), NameOdd, ""},
		{[]byte{0}, NameLower, ""}, // the root
		{nil, NameOdd, ""},
		{[]byte{3, 'w', 'w'}, NameOdd, ""},                     // label cut short
		{[]byte{3, 'w', 'w', 'w'}, NameOdd, ""},                // no root label
		{[]byte{1, 'a', 0, 0}, NameOdd, ""},                    // bytes after the root label
		{[]byte{0xc0, 12}, NameOdd, ""},                        // a compression pointer
		{append([]byte{64}, make([]byte, 65)...), NameOdd, ""}, // label over 63
	} {
		if got := CheckName(tc.wire); got != tc.want {
			t.Errorf("CheckName(%q) = %d, want %d", tc.wire, got, tc.want)
			continue
		}
		if tc.want == NameOdd {
			continue
		}
		lower := AppendLower(nil, tc.wire)
		if CheckName(lower) != NameLower || len(lower) != len(tc.wire) {
			t.Errorf("AppendLower(%q) = %q, not the same name in lower case", tc.wire, lower)
		}
		if got := string(AppendPresentation(nil, lower)); got != tc.pres {
			t.Errorf("AppendPresentation(%q) = %q, want %q", lower, got, tc.pres)
		}
	}
}

// TestNameAgainstLibrary: for random names of plain and odd bytes,
// CheckName is odd exactly when the DNS library's presentation form has
// an escape or a byte other than letters, digits, '-', '_' and '.', and
// otherwise AppendPresentation is that form lower-cased.
func TestNameAgainstLibrary(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := "abcXYZ09-_.*\\ \x00\xe9"
	for range 5000 {
		var wire []byte
		for range 1 + r.IntN(4) {
			l := 1 + r.IntN(6)
			wire = append(wire, byte(l))
			for range l {
				wire = append(wire, alphabet[r.IntN(len(alphabet))])
			}
		}
		wire = append(wire, 0)
		name, _, err := dns.UnpackDomainName(wire, 0)
		if err != nil {
			t.Fatalf("unpack %q: %v", wire, err)
		}
		plain := strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
		got := CheckName(wire)
		if (got == NameOdd) == plain {
			t.Fatalf("CheckName(%q) = %d; library's form %q", wire, got, name)
		}
		if got != NameOdd {
			if pres := string(AppendPresentation(nil, AppendLower(nil, wire))); pres != strings.ToLower(name) {
				t.Fatalf("AppendPresentation(%q) = %q, want %q", wire, pres, strings.ToLower(name))
			}
		}
	}
}

func pack(t *testing.T, name string) []byte {
	t.Helper()
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("pack %q: %v", name, err)
	}
	return buf[:n]
}
