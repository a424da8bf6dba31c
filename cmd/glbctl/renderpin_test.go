package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/glb-dns/glb/server/explain"
)

// TestRenderExplainPin: the explanation says when a pin decided, and how
// it matched the client.
func TestRenderExplainPin(t *testing.T) {
	for _, tc := range []struct {
		name string
		pin  *explain.Pin
		want string // "" : no pinned line
	}{
		{"unpinned", nil, ""},
		{"by CIDR", &explain.Pin{Key: "corp/office", Regions: []string{"eu-west"}, Nets: []string{"81.2.69.128/25"}, By: "cidr"},
			"pinned: corp/office to eu-west, by CIDR (81.2.69.128/25); GeoIP skipped"},
		{"by ASN", &explain.Pin{Key: "corp/isp", Regions: []string{"eu-central", "eu-west"}, ASNs: []string{"AS64500"}, By: "asn",
			ASN: &explain.ASN{Number: "AS64500", Org: "Example ISP", Network: "81.2.68.0/23"}},
			`pinned: corp/isp to eu-central, eu-west, by ASN AS64500 "Example ISP" (ASN database network 81.2.68.0/23); GeoIP skipped`},
	} {
		var b bytes.Buffer
		renderExplain(&b, &explain.Explanation{Name: "p.gslb.example.test.", Pin: tc.pin})
		line := ""
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(l, "pinned:") {
				line = l
			}
		}
		if line != tc.want {
			t.Errorf("%s: pinned line %q, want %q", tc.name, line, tc.want)
		}
	}
}

// TestRenderExplainPinnedLocation: for a pinned client the GeoIP location
// is shown as not used, the regions outside the pin as such (not as
// fenced out), and the rule as the pin's; an unpinned client reads as before.
func TestRenderExplainPinnedLocation(t *testing.T) {
	pin := &explain.Pin{Key: "corp/office", Regions: []string{"us-east"}, Nets: []string{"81.2.69.0/24"}, By: "cidr"}
	for _, tc := range []struct {
		name     string
		pin      *explain.Pin
		want     []string
		unwanted []string
	}{
		{"pinned", pin, []string{"client location (not used: pinned): GB EU at 51.50,-0.09", "not in the pin", "rule: geo within pin corp/office; chosen: us-east"},
			[]string{"fenced out", "\nclient location:"}},
		{"unpinned", nil, []string{"\nclient location: GB EU at 51.50,-0.09", "fenced out", "rule: geo; chosen: us-east"},
			[]string{"not used", "not in the pin", "within pin"}},
	} {
		var b bytes.Buffer
		renderExplain(&b, &explain.Explanation{Name: "p.gslb.example.test.", Pin: tc.pin, Rule: "geo", Chosen: "us-east",
			Location: explain.Location{Found: true, Country: "GB", Continent: "EU", Lat: 51.5, Lon: -0.09},
			Regions:  []explain.Region{{ID: "us-east", Weight: 100, InTier: true}, {ID: "eu-west", Weight: 100, FencedOut: true}}})
		out := b.String()
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
		for _, w := range tc.unwanted {
			if strings.Contains(out, w) {
				t.Errorf("%s: output has %q:\n%s", tc.name, w, out)
			}
		}
	}
}

// TestSimulatePinsNotCounted: a simulation over the GeoIP networks of a
// name with pins says, in the table, that pins were not counted.
func TestSimulatePinsNotCounted(t *testing.T) {
	for _, notCounted := range []bool{true, false} {
		var b strings.Builder
		renderSimulate(&b, &explain.Simulation{Name: "intranet.gslb.example.test.", Type: "A", Basis: "geoip networks",
			Clients: 10, Now: map[string]float64{"eu-west": 1}, PinsNotCounted: notCounted}, "")
		if got := strings.Contains(b.String(), "pins: NOT counted"); got != notCounted {
			t.Errorf("pins_not_counted %v: output\n%s", notCounted, b.String())
		}
	}
}
