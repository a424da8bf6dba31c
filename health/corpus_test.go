package health

import (
	"flag"
	"strings"
	"testing"

	"github.com/glb-dns/glb/internal/fuzzcorpus"
)

// updateCorpus rewrites testdata/fuzz/FuzzParseResponse from the entries
// below: go test -run TestFuzzCorpus ./health -args -update-corpus
var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz from the corpus entries in code")

// TestFuzzCorpus keeps testdata/fuzz/FuzzParseResponse what the code here
// makes: odd statuses, bodies and expectations a health check can meet.
func TestFuzzCorpus(t *testing.T) {
	cases := []struct {
		name           string
		status         int
		body           string
		expect, substr string
	}{
		{"ok-default-range", 200, "ok", "", ""},
		{"ok-body-matches", 200, "status: ok", "200", "ok"},
		{"body-missing-text", 200, "degraded", "200", "ok"},
		{"status-503", 503, "", "200-399", ""},
		{"status-0", 0, "", "", ""},
		{"status-negative", -1, "", "", ""},
		{"status-huge", 1 << 40, "", "", ""},
		{"range-reversed", 301, "moved", "399-200", ""},
		{"range-open-end", 200, "", "200-", ""},
		{"range-dash-only", 200, "", "-", ""},
		{"range-words", 200, "", "ok", ""},
		{"range-list", 200, "", "200,204", ""},
		{"range-overflow", 200, "", "99999999999999999999", ""},
		{"range-spaces", 200, "", " 200 - 299 ", ""},
		{"range-negative", 200, "", "-5--1", ""},
		{"body-not-utf8", 200, "\xff\xfe\x00ok", "", "ok"},
		{"body-nul-substr", 200, "a\x00b", "", "\x00"},
		{"body-text-beyond-limit", 200, strings.Repeat("x", MaxBodyBytes) + "ok", "", "ok"},
	}
	var entries []fuzzcorpus.Entry
	for _, c := range cases {
		entries = append(entries, fuzzcorpus.Entry{Name: c.name, Args: []any{c.status, []byte(c.body), c.expect, c.substr}})
	}
	fuzzcorpus.Sync(t, "testdata/fuzz/FuzzParseResponse", entries, *updateCorpus)
}
