package statuspage

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStatusNameSchedule: a name's drain schedule shows on the page under
// the name, and in /status.json with where it stands.
func TestStatusNameSchedule(t *testing.T) {
	f := newStatusFixture(t, nil)
	edits := statusEdits(statusT0)
	edits["zones/gslb.example.test/names/www/schedules/eu-west"] = fmt.Sprintf(`{"steps": [50, 0], "every": "5m", "start": %q, "before": 100}`,
		statusT0.Format(time.RFC3339))
	f.h.Apply(statusState(t, edits))
	if _, page := f.get(t, "/"); !strings.Contains(page, `<div class="note">eu-west: drain schedule: step 1/2 (weight 50), next at`) {
		t.Errorf("page lacks the name's schedule")
	}
	_, body := f.get(t, "/status.json")
	var doc statusDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, z := range doc.Status.Zones {
		for _, n := range z.Names {
			if n.Label == "www" {
				sc := n.Schedules["eu-west"]
				found = sc != nil && sc.Step == 1 && sc.Active
			}
		}
	}
	if !found {
		t.Errorf("www's schedule missing from /status.json: %s", body)
	}
}
