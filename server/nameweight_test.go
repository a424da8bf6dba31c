package server

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/explain"
)

// TestNameWeight: a per-name weight changes that name's answers only, over
// UDP and TCP through a real listener; explain says where the weight came
// from, and the name_weight what-if gives what the key would.
func TestNameWeight(t *testing.T) {
	const london = "81.2.69.0/24"
	doc := map[string]any{"regions": []string{"eu-west", "eu-central", "us-east"}}
	weighted := map[string]any{"regions": []string{"eu-west", "us-east"}, "policy": "weighted"}
	base := map[string]any{"zones/gslb.example.test/names/p": doc, "zones/gslb.example.test/names/q": doc,
		"zones/gslb.example.test/names/w": weighted, "zones/gslb.example.test/names/v": weighted}
	cases := []struct {
		name  string
		edits map[string]any
		want  map[string]string // name -> sorted addresses
	}{
		{name: "no name weights", edits: base,
			want: map[string]string{"p": "198.51.100.10,198.51.100.11", "q": "198.51.100.10,198.51.100.11",
				"w": "198.51.100.10,198.51.100.11", "v": "198.51.100.10,198.51.100.11"}},
		{name: "0 drains the region for p only", edits: merge(base, map[string]any{"zones/gslb.example.test/names/p/weights/eu-west": "0"}),
			want: map[string]string{"p": "198.51.100.20", "q": "198.51.100.10,198.51.100.11"}},
		{name: "the name's weight wins over the region's drain", edits: merge(base, map[string]any{
			"regions/eu-west/weight": "0", "zones/gslb.example.test/names/q/weights/eu-west": "100"}),
			want: map[string]string{"p": "198.51.100.20", "q": "198.51.100.10,198.51.100.11"}},
		{name: "weighted: the split moves for w only", edits: merge(base, map[string]any{"zones/gslb.example.test/names/w/weights/eu-west": "0"}),
			want: map[string]string{"w": "192.0.2.10,192.0.2.11", "v": "198.51.100.10,198.51.100.11"}},
		{name: "a refused name weight changes nothing", edits: merge(base, map[string]any{"zones/gslb.example.test/names/p/weights/eu-west": "-3"}),
			want: map[string]string{"p": "198.51.100.10,198.51.100.11", "q": "198.51.100.10,198.51.100.11"}},
		{name: "a weight for a region the name does not list is refused", edits: merge(base, map[string]any{"zones/gslb.example.test/names/p/weights/ap-northeast": "0"}),
			want: map[string]string{"p": "198.51.100.10,198.51.100.11"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestHandler(t, tc.edits)
			addr := startServer(t, h)
			for label, want := range tc.want {
				for _, network := range []string{"udp", "tcp"} {
					m := exchange(t, network, addr, mkQuery(label+"."+testZone, dns.TypeA, london))
					if got := answerAddrs(m); got != want {
						t.Errorf("%s over %s: answer %q, want %q", label, network, got, want)
					}
				}
			}
		})
	}
}

// TestNameWeightExplain: explain marks a name's own weight, and the
// name_weight what-if acts on the asked name as the key would.
func TestNameWeightExplain(t *testing.T) {
	doc := map[string]any{"regions": []string{"eu-west", "eu-central"}}
	h, _ := newTestHandler(t, map[string]any{"zones/gslb.example.test/names/p": doc, "zones/gslb.example.test/names/q": doc,
		"zones/gslb.example.test/names/p/weights/eu-west": "0"})
	london := mustAddr("81.2.69.160")
	cases := []struct {
		name, label string
		whatIf      explain.WhatIf
		chosen      string
		nameWeight  bool // eu-west's weight is marked as the name's
		weight      int  // eu-west's weight
	}{
		{name: "p has its own weight", label: "p", chosen: "eu-central", nameWeight: true, weight: 0},
		{name: "q has the region's", label: "q", chosen: "eu-west", weight: 100},
		{name: "what if q had p's", label: "q", whatIf: explain.WhatIf{NameWeights: map[string]int{"eu-west": 0}},
			chosen: "eu-central", nameWeight: true, weight: 0},
		{name: "what if p had none but 100", label: "p", whatIf: explain.WhatIf{NameWeights: map[string]int{"eu-west": 100}},
			chosen: "eu-west", nameWeight: true, weight: 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := h.Explain(ExplainRequest{Name: tc.label, Client: london, ECSSource: -1, WhatIf: tc.whatIf})
			if err != nil {
				t.Fatal(err)
			}
			if ex.Chosen != tc.chosen {
				t.Errorf("chosen %q, want %q", ex.Chosen, tc.chosen)
			}
			if r := ex.Regions[0]; r.ID != "eu-west" || r.NameWeight != tc.nameWeight || r.Weight != tc.weight {
				t.Errorf("eu-west: %+v, want name weight %v, weight %d", r, tc.nameWeight, tc.weight)
			}
		})
	}
	if _, err := h.Explain(ExplainRequest{Name: "q", Client: london, WhatIf: explain.WhatIf{NameWeights: map[string]int{"ap-northeast": 0}}}); err == nil {
		t.Error("a what-if weight for a region the name does not list was accepted")
	}
	// The server's own answers did not move.
	if ex, _ := h.Explain(ExplainRequest{Name: "q", Client: london, ECSSource: -1}); ex.Chosen != "eu-west" {
		t.Errorf("after the what-ifs q gets %q, want eu-west", ex.Chosen)
	}
}
