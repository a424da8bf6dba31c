package limit

import (
	"fmt"
	"testing"
)

// TestSipHash24 checks the reference vectors of the SipHash paper
// (appendix A; key 00..0f, message 00..len-1), which cover an empty
// message, a partial last block, exactly one block and many blocks.
func TestSipHash24(t *testing.T) {
	var k [16]byte
	for i := range k {
		k[i] = byte(i)
	}
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, tc := range []struct {
		n    int
		want uint64
	}{
		{0, 0x726fdb47dd0e0e31},
		{1, 0x74f839c593dc67fd},
		{15, 0xa129ca6149be45e5},
		{63, 0x958a324ceb064572},
	} {
		t.Run(fmt.Sprint(tc.n, " bytes"), func(t *testing.T) {
			if got := sipHash24(&k, msg[:tc.n]); got != tc.want {
				t.Errorf("sipHash24 = %016x, want %016x", got, tc.want)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { sipHash24(&k, msg) }); n != 0 {
		t.Errorf("sipHash24 allocates %v times", n)
	}
}
