package dnssec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestKeyMaterialErrors feeds missing, corrupt and mismatched key
// material: each gives an error wrapping ErrKey that names the key, and
// none panics.
func TestKeyMaterialErrors(t *testing.T) {
	c := newClock()
	for _, alg := range []uint8{AlgECDSAP256, AlgEd25519} {
		ks, priv := zoneKeys(t, alg, false, c.t)
		tag := ks.Keys[0].Tag
		good := priv[tag]
		other, err := GenerateKey(zone, alg, RoleCSK, DefaultDNSKEYTTL)
		must(t, err)
		lines := strings.Split(good, "\n")
		tests := []struct {
			name, private, want string
		}{
			{"missing", "", "private key missing"},
			{"garbage", "this is not a key", "private key corrupt"},
			{"truncated", strings.Join(lines[:2], "\n"), "private key corrupt"},
			{"short key bytes", strings.Replace(good, "PrivateKey: ", "PrivateKey: AAAA", 1)[:len(good)/2+20], "private key"},
			{"bad base64", strings.Replace(good, "PrivateKey: ", "PrivateKey: !!", 1), "private key corrupt"},
			{"stray line", good + "\nPrivateKey:AAAAAAAAAAAAsecretish garbage\n", "private key"},
			{"another key's", other.PrivateText(), "does not belong to DNSKEY"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := NewSigner(ks, map[uint16]string{tag: tc.private}, cfgAt(c))
				if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), zone) {
					t.Errorf("err %v; want ErrKey saying %q and naming %s", err, tc.want, zone)
				}
				// The error goes to logs: no part of the key's text.
				for _, f := range strings.Fields(tc.private) {
					if len(f) >= 8 && strings.Contains(err.Error(), f) {
						t.Errorf("err %v quotes the private key text %q", err, f)
					}
				}
			})
		}
	}
}

// TestDecodeKeySetErrors checks that a key set document that is not
// whole and consistent is refused with the document named.
func TestDecodeKeySetErrors(t *testing.T) {
	c := newClock()
	ks, _ := zoneKeys(t, AlgECDSAP256, true, c.t)
	b, err := ks.Encode()
	must(t, err)
	good := string(b)
	zsk := ks.Keys[1]
	tests := []struct{ name, doc, want string }{
		{"not JSON", "{", "unexpected EOF"},
		{"unknown field", strings.Replace(good, `"zone"`, `"zoen": 1, "zone"`, 1), "unknown field"},
		{"bad algorithm", strings.Replace(good, `"algorithm": 13`, `"algorithm": 8`, 1), "algorithm 8"},
		{"tag not the record's", strings.Replace(good, fmt.Sprintf(`"tag": %d`, zsk.Tag), fmt.Sprintf(`"tag": %d`, zsk.Tag^1), 1), "the record's tag is"},
		{"bad record", strings.Replace(good, `DNSKEY\t256`, `DNSKEY\tx256`, 1), "dnskey"},
		{"unknown state", strings.Replace(good, `"state": "active"`, `"state": "dormant"`, 1), "state \"dormant\""},
		{"no active zsk", strings.Replace(good, `"role": "zsk",
      "state": "active"`, `"role": "zsk",
      "state": "published"`, 1), "0 active keys sign the zone's data"},
		{"role and flags", strings.Replace(good, `"role": "zsk"`, `"role": "ksk"`, 1), "flags 256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.doc == good {
				t.Fatal("test case changed nothing")
			}
			_, err := DecodeKeySet("/glb-keys/public/gslb.example.com", []byte(tc.doc))
			if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/glb-keys/public/gslb.example.com") {
				t.Errorf("err %v; want ErrKey saying %q", err, tc.want)
			}
		})
	}
}
