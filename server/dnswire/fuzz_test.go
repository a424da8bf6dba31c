package dnswire

import (
	"flag"
	"net/netip"
	"testing"

	"github.com/glb-dns/glb/internal/fuzzcorpus"
)

// updateCorpus rewrites the seed corpus under testdata/fuzz from the
// entries below: go test -run TestFuzzCorpus -update-corpus ./server/dnswire
var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz from the corpus entries in code")

// TestFuzzCorpus keeps testdata/fuzz/FuzzParseECS what the code here makes.
func TestFuzzCorpus(t *testing.T) {
	var options []fuzzcorpus.Entry
	for _, e := range []struct {
		name string
		opt  []byte // the ECS option's data: family, source, scope, address
	}{
		{"ipv4-24", []byte{0, 1, 24, 0, 81, 2, 69}},
		{"ipv6-48", []byte{0, 2, 48, 0, 0x2a, 0x02, 0xcf, 0x40, 0, 0}},
		{"ipv4-0-no-address", []byte{0, 1, 0, 0}},
		{"family-0-prefix-0", []byte{0, 0, 0, 0}},
		{"family-3", []byte{0, 3, 24, 0, 1, 2, 3}},
		{"family-0-prefix-24", []byte{0, 0, 24, 0, 1, 2, 3}},
		{"ipv4-prefix-33", []byte{0, 1, 33, 0, 1, 2, 3, 4, 5}},
		{"ipv6-prefix-129", append([]byte{0, 2, 129, 0}, make([]byte, 17)...)},
		{"ipv4-extra-address-octet", []byte{0, 1, 24, 0, 81, 2, 69, 0}},
		{"ipv4-bits-beyond-prefix", []byte{0, 1, 23, 0, 81, 2, 69}},
		{"ipv4-bits-beyond-prefix-last-octet", []byte{0, 1, 20, 0, 81, 2, 69}},
		{"ipv4-address-octet-missing", []byte{0, 1, 24, 0, 81, 2}},
		{"scope-nonzero-in-query", []byte{0, 1, 24, 8, 81, 2, 69}},
		{"shorter-than-header", []byte{0, 1, 24}},
		{"empty", nil},
	} {
		options = append(options, fuzzcorpus.Entry{Name: e.name, Args: []any{e.opt}})
	}
	fuzzcorpus.Sync(t, "testdata/fuzz/FuzzParseECS", options, *updateCorpus)
}

// FuzzParseECS checks the strict ECS option parser of both answer paths
// (seeds in testdata/fuzz): it never panics, and what it accepts has no
// bits beyond the source prefix and exactly the octets the prefix needs.
func FuzzParseECS(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ParseECS(b)
		if err != nil {
			return
		}
		if cs.Addr.IsValid() && netip.PrefixFrom(cs.Addr, int(cs.Source)).Masked().Addr() != cs.Addr {
			t.Fatalf("accepted %x with bits beyond /%d", b, cs.Source)
		}
		if len(b)-4 != (int(cs.Source)+7)/8 {
			t.Fatalf("accepted %x: %d address octets for /%d", b, len(b)-4, cs.Source)
		}
	})
}
