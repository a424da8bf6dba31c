package statuspage

import (
	"strings"
	"testing"
)

// TestStatusLoad: the page and /status.json show a region's load against
// its watermarks and the share it sheds.
func TestStatusLoad(t *testing.T) {
	f := newStatusFixture(t, nil)
	f.h.Apply(statusState(t, map[string]string{"regions/eu-west/load": "0.875"}))
	_, body := f.get(t, "/")
	for _, w := range []string{"load 0.88 of 0.80–0.95, shedding 50 %", "load unknown of 0.80–0.95"} {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	_, doc := f.get(t, "/status.json")
	if !strings.Contains(strings.Join(strings.Fields(doc), ""), `"load":0.875,"shed":{"low":0.8,"high":0.95,"share":0.5}`) {
		t.Errorf("status.json lacks eu-west's load and shed: %.2000s", doc)
	}
}
