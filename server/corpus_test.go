package server

import (
	"flag"
	"testing"

	"github.com/glb-dns/glb/internal/fuzzcorpus"
)

// updateCorpus rewrites the seed corpora under testdata/fuzz from the
// entries below: go test -run TestFuzzCorpus -update-corpus ./server
var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz from the corpus entries in code")

// TestFuzzCorpus keeps testdata/fuzz/FuzzAnswerPacket (every malformed
// packet of malformedCases) what the code here makes.
func TestFuzzCorpus(t *testing.T) {
	var packets []fuzzcorpus.Entry
	for _, c := range malformedCases() {
		packets = append(packets, fuzzcorpus.Entry{Name: c.name, Args: []any{c.packet}})
	}
	fuzzcorpus.Sync(t, "testdata/fuzz/FuzzAnswerPacket", packets, *updateCorpus)
}
