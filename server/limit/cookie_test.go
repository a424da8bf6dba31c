package limit

import (
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustSecret(t testing.TB, s string) CookieSecret {
	t.Helper()
	c, err := ParseCookieSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServerCookieRFC9018 checks the worked examples of RFC 9018 appendix
// A: the server cookie made for each reply, byte for byte, and the check of
// the cookie each query brings, including the secret rollover of A.4.
func TestServerCookieRFC9018(t *testing.T) {
	const (
		secretA  = "e5e973e5a6b2a43f48e7dc849e37bfcf"
		a4Old    = "dd3bdf9344b678b185a6f5cb60fca715"
		a4New    = "445536bcd2513298075a5d379663c962"
		a4Client = "2001:db8:220:1:59de:d0f4:8769:82b8"
	)
	for _, tc := range []struct {
		name    string
		current string
		accept  string // also accepted, "" for none
		ip      string
		query   string // the COOKIE option of the query
		now     uint32
		valid   bool   // the query's server cookie is accepted at now
		reply   string // the COOKIE option of the reply
	}{
		{name: "A.1 learning a new server cookie", current: secretA, ip: "198.51.100.100",
			query: "2464c4abcf10c957", now: 1559731985,
			reply: "2464c4abcf10c957010000005cf79f111f8130c3eee29480"},
		{name: "A.2 the same client 40 minutes later", current: secretA, ip: "198.51.100.100",
			query: "2464c4abcf10c957010000005cf79f111f8130c3eee29480", now: 1559734385, valid: true,
			reply: "2464c4abcf10c957010000005cf7a871d4a564a1442aca77"},
		{name: "A.3 another client, reserved bytes set, within the hour", current: secretA, ip: "203.0.113.203",
			query: "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", now: 1559727985 + 3600, valid: true},
		{name: "A.3 the same cookie 1h52m later is out of date", current: secretA, ip: "203.0.113.203",
			query: "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", now: 1559734700,
			reply: "fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e"},
		{name: "A.4 IPv6 client, cookie of the old secret while rolling over", current: a4New, accept: a4Old, ip: a4Client,
			query: "22681ab97d52c298010000005cf7c57926556bd0934c72f8", now: 1559741961, valid: true,
			reply: "22681ab97d52c298010000005cf7c609a6bb79d16625507a"},
		{name: "A.4 old secret no longer accepted", current: a4New, ip: a4Client,
			query: "22681ab97d52c298010000005cf7c57926556bd0934c72f8", now: 1559741961,
			reply: "22681ab97d52c298010000005cf7c609a6bb79d16625507a"},
		{name: "A.2 cookie from another address is not ours", current: secretA, ip: "198.51.100.101",
			query: "2464c4abcf10c957010000005cf79f111f8130c3eee29480", now: 1559734385},
		{name: "A.2 cookie five minutes and a second ahead", current: secretA, ip: "198.51.100.100",
			query: "2464c4abcf10c957010000005cf79f111f8130c3eee29480", now: 1559731985 - 301},
		{name: "A.2 cookie five minutes ahead", current: secretA, ip: "198.51.100.100",
			query: "2464c4abcf10c957010000005cf79f111f8130c3eee29480", now: 1559731985 - 300, valid: true},
		{name: "A.2 cookie an hour and a second old", current: secretA, ip: "198.51.100.100",
			query: "2464c4abcf10c957010000005cf79f111f8130c3eee29480", now: 1559731985 + 3601},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := CookieSecrets{Current: mustSecret(t, tc.current)}
			if tc.accept != "" {
				c.Accept = []CookieSecret{mustSecret(t, tc.accept)}
			}
			ip := netip.MustParseAddr(tc.ip)
			ck := c.Read(mustHex(t, tc.query), ip, tc.now)
			if ck.Valid != tc.valid {
				t.Errorf("valid = %v, want %v", ck.Valid, tc.valid)
			}
			if tc.reply == "" {
				return
			}
			if got := hex.EncodeToString(c.Append(nil, &ck.Client, ip, tc.now)); got != tc.reply {
				t.Errorf("reply cookie %s, want %s", got, tc.reply)
			}
		})
	}
}

func TestCookieOK(t *testing.T) {
	for n, want := range map[int]bool{0: false, 7: false, 8: true, 9: false, 15: false, 16: true, 24: true, 40: true, 41: false} {
		if got := CookieOK(n); got != want {
			t.Errorf("CookieOK(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestReadCookieSecrets(t *testing.T) {
	const s1, s2 = "e5e973e5a6b2a43f48e7dc849e37bfcf", "445536bcd2513298075a5d379663c962"
	for _, tc := range []struct {
		name, text string
		nAccept    int
		err        string // substring; "" for success
	}{
		{name: "one secret", text: s1 + "\n"},
		{name: "no newline, upper case", text: strings.ToUpper(s1)},
		{name: "rollover", text: "# current\n" + s1 + "\n\n" + s2 + "\n", nAccept: 1},
		{name: "short", text: s1[:30], err: "line 1: want 32 hex digits"},
		{name: "not hex", text: strings.Repeat("z", 32), err: "want 32 hex digits"},
		{name: "empty", text: "\n# nothing\n", err: "no secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := ReadCookieSecrets(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Current != mustSecret(t, s1) || len(c.Accept) != tc.nAccept {
				t.Errorf("got current %x and %d accepted", c.Current, len(c.Accept))
			}
		})
	}
	if _, err := ReadCookieSecrets(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file was read")
	}
}
