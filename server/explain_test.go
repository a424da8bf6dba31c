package server

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/explain"
)

// TestExplainEqualsAnswer asks Explain and the DNS path the same thing for
// hundreds of random clients on several policies: region, addresses, scope
// and TTL must match.
func TestExplainEqualsAnswer(t *testing.T) {
	scenarios := map[string]map[string]any{
		"geo":                    nil,
		"fenced":                 name(map[string]any{"regions": []string{"us-east", "us-west", "eu-west", "eu-central"}, "geofence": euFence}),
		"failover, eu-west down": merge(euWestDown, name(map[string]any{"regions": []string{"eu-west", "us-east"}, "policy": "failover", "ttl_degraded": 7})),
		"weighted spread":        name(map[string]any{"regions": []string{"eu-central", "us-west"}, "policy": "weighted", "answers": 3, "spread": true}),
	}
	r := rand.New(rand.NewPCG(7, 8))
	for scenario, edits := range scenarios {
		t.Run(scenario, func(t *testing.T) {
			h, _ := healthHandler(t, edits)
			label := "www."
			if edits != nil && edits["zones/gslb.example.test/names/p"] != nil {
				label = "p."
			}
			for range 300 {
				a := randomAddr(r)
				qtype, bits := dns.TypeA, 24
				if a.Is6() {
					qtype, bits = dns.TypeAAAA, 56
				}
				m := ask(t, h, "127.0.0.1", mkQuery(label+testZone, qtype, netip.PrefixFrom(a, bits).Masked().String()))
				ex, err := h.Explain(ExplainRequest{Name: label + testZone, Client: a, Qtype: qtype, ECSSource: -1})
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, rr := range m.Answer {
					want = append(want, strings.ReplaceAll(rr.String(), "\t", " "))
				}
				if !slices.Equal(ex.Answer, want) && (len(ex.Answer) > 0 || len(want) > 0) {
					t.Fatalf("client %s: explain answers %q, DNS %q", a, ex.Answer, want)
				}
				if ex.Scope != replyScope(m) || ex.Rcode != dns.RcodeToString[m.Rcode] {
					t.Fatalf("client %s: explain scope %d rcode %s, DNS %d %s", a, ex.Scope, ex.Rcode, replyScope(m), dns.RcodeToString[m.Rcode])
				}
				if len(m.Answer) > 0 && (ex.TTL != m.Answer[0].Header().Ttl || ex.Chosen == "" || !slices.Contains(ex.Tier, ex.Chosen)) {
					t.Fatalf("client %s: explain TTL %d chosen %q tier %v, DNS TTL %d", a, ex.TTL, ex.Chosen, ex.Tier, m.Answer[0].Header().Ttl)
				}
			}
		})
	}
}

// TestWhatIfEqualsReality compares explain with down= against a handler
// where the region really is down.
func TestWhatIfEqualsReality(t *testing.T) {
	h, _ := healthHandler(t, nil)
	real, _ := healthHandler(t, euWestDown)
	r := rand.New(rand.NewPCG(9, 10))
	for range 200 {
		a := randomAddr(r)
		qtype := dns.TypeA
		if a.Is6() {
			qtype = dns.TypeAAAA
		}
		hypo, err := h.Explain(ExplainRequest{Name: "www", Client: a, Qtype: qtype, ECSSource: -1, WhatIf: explain.WhatIf{Down: []string{"eu-west"}}})
		if err != nil {
			t.Fatal(err)
		}
		truth, err := real.Explain(ExplainRequest{Name: "www", Client: a, Qtype: qtype, ECSSource: -1})
		if err != nil {
			t.Fatal(err)
		}
		if hypo.Chosen != truth.Chosen || !slices.Equal(hypo.Answer, truth.Answer) || hypo.Scope != truth.Scope {
			t.Fatalf("client %s: what-if %s %q /%d, reality %s %q /%d", a, hypo.Chosen, hypo.Answer, hypo.Scope, truth.Chosen, truth.Answer, truth.Scope)
		}
	}
	// The what-if changed nothing real.
	if ex, _ := h.Explain(ExplainRequest{Name: "www", Client: netip.MustParseAddr("81.2.69.160"), ECSSource: -1}); ex.Chosen != "eu-west" {
		t.Errorf("after the what-if, London gets %q, want eu-west still", ex.Chosen)
	}
}

// TestSimulate checks shares sum to 1 and move when a region is taken down.
func TestSimulate(t *testing.T) {
	h, _ := healthHandler(t, nil)
	sim, err := h.Simulate(SimulateRequest{Name: "www", WhatIf: explain.WhatIf{Down: []string{"eu-west"}, Weights: map[string]int{"us-west": 0}}})
	if err != nil {
		t.Fatal(err)
	}
	for which, shares := range map[string]map[string]float64{"now": sim.Now, "what_if": sim.WhatIf} {
		sum := 0.0
		for _, v := range shares {
			sum += v
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("%s shares sum to %v: %v", which, sum, shares)
		}
	}
	if sim.Now["eu-west"] == 0 || sim.WhatIf["eu-west"] != 0 || sim.WhatIf["us-west"] != 0 {
		t.Errorf("eu-west now %v what-if %v; us-west what-if %v", sim.Now["eu-west"], sim.WhatIf["eu-west"], sim.WhatIf["us-west"])
	}
	if sim.WhatIf["eu-central"] <= sim.Now["eu-central"] {
		t.Errorf("eu-central should take eu-west's clients: now %v what-if %v", sim.Now["eu-central"], sim.WhatIf["eu-central"])
	}
	// A sample of clients instead of the database.
	sample, err := h.Simulate(SimulateRequest{Name: "www", Clients: []netip.Addr{netip.MustParseAddr("81.2.69.1"), netip.MustParseAddr("91.198.174.1")}})
	if err != nil || sample.Clients != 2 || sample.Now["eu-west"] != 0.5 || sample.Now["eu-central"] != 0.5 {
		t.Errorf("sample: %+v %v", sample, err)
	}
}

// TestExplainHTTP checks the endpoint's JSON and its refusal of bad input.
func TestExplainHTTP(t *testing.T) {
	h, _ := healthHandler(t, nil)
	srv := httptest.NewServer(h.ExplainHTTP())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/explain?name=www.gslb.example.test&client=81.2.69.160&type=A&weight=eu-west:0")
	if err != nil {
		t.Fatal(err)
	}
	var ex explain.Explanation
	if err := json.NewDecoder(resp.Body).Decode(&ex); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, decode %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if ex.Chosen != "eu-central" || ex.Location.Country != "GB" || ex.Location.Network != "81.2.69.0/24" || len(ex.Regions) != 7 || ex.WhatIf == nil {
		t.Errorf("explanation: %+v", ex)
	}
	for _, bad := range []string{"client=nope&name=www", "client=81.2.69.1&name=www&type=MX", "client=81.2.69.1&name=www&weight=eu-west",
		"client=81.2.69.1&name=www.example.org.", "client=81.2.69.1&name=www&down=mars"} {
		resp, err := http.Get(srv.URL + "/explain?" + bad)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode < 400 || body["error"] == "" {
			t.Errorf("%s: status %d body %v, want an error", bad, resp.StatusCode, body)
		}
	}
}
