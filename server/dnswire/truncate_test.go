package dnswire

import (
	"bytes"
	"testing"

	"github.com/miekg/dns"
)

// TestCopyQuestion: the key is the name folded to lower case, its root
// label and the type's two bytes as they are; types whose bytes read as
// letters of different case stay apart.
func TestCopyQuestion(t *testing.T) {
	reply := func(name string, qtype uint16) []byte {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.Response = true
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	key := func(b []byte) []byte {
		dst := make([]byte, 300)
		return dst[:CopyQuestion(dst, b)]
	}
	for _, tc := range []struct {
		a, b string
		at   uint16
		bt   uint16
		same bool
	}{
		{"www.Example.TEST.", "www.example.test.", dns.TypeA, dns.TypeA, true},
		{"www.example.test.", "www.example.test.", dns.TypeHTTPS, 97, false}, // 0x0041 'A' against 0x0061 'a'
		{"www.example.test.", "www.example.test.", 0x4141, 0x6161, false},
		{"www.example.test.", "www.example.test.", dns.TypeA, dns.TypeAAAA, false},
		{"a.example.test.", "b.example.test.", dns.TypeA, dns.TypeA, false},
	} {
		ka, kb := key(reply(tc.a, tc.at)), key(reply(tc.b, tc.bt))
		if got := bytes.Equal(ka, kb); got != tc.same {
			t.Errorf("%s/%d and %s/%d: same key %v, want %v (%q, %q)", tc.a, tc.at, tc.b, tc.bt, got, tc.same, ka, kb)
		}
	}
	// The key holds the name's wire form in lower case, then the type.
	want := append(pack(t, "www.example.test."), 0, byte(dns.TypeHTTPS))
	if got := key(reply("WWW.example.TEST.", dns.TypeHTTPS)); !bytes.Equal(got, want) {
		t.Errorf("key %q, want %q", got, want)
	}
}
