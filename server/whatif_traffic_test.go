package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glb-dns/glb/server/explain"
)

// getJSON GETs path from srv into v and returns the status.
func getJSON(t *testing.T, srv *httptest.Server, path string, v any) int {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: decode: %v", path, err)
	}
	return resp.StatusCode
}

// TestWhatIfTrafficHTTP: /explain and /simulate try admin states, pins
// and network locations without writing anything: the answer follows the
// hypothesis, the explanation says which pin or admin state decided, and
// the server's own answer is unchanged afterwards. Bad hypotheses are
// refused with the reason.
func TestWhatIfTrafficHTTP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	writeASNFile(t, path, asnRows)
	h, _ := asnHandler(t, path)
	srv := httptest.NewServer(h.ExplainHTTP())
	defer srv.Close()
	sim := httptest.NewServer(h.SimulateHTTP())
	defer sim.Close()
	const london = "81.2.70.160" // AS64501: pinned by nothing
	explainOf := func(t *testing.T, name, client string, whatIf url.Values) explain.Explanation {
		t.Helper()
		q := url.Values{"name": {name}, "client": {client}, "ecs": {"32"}}
		for k, v := range whatIf {
			q[k] = v
		}
		var ex explain.Explanation
		if code := getJSON(t, srv, "/explain?"+q.Encode(), &ex); code != 200 {
			t.Fatalf("%v: status %d", whatIf, code)
		}
		return ex
	}
	regionAdmin := func(ex explain.Explanation, id string) string {
		for _, r := range ex.Regions {
			if r.ID == id {
				return r.Admin
			}
		}
		return "?"
	}
	for _, tc := range []struct {
		name   string
		qname  string
		client string
		whatIf url.Values
		check  func(t *testing.T, ex explain.Explanation)
	}{
		{"admin down moves London off eu-west", "www", london, url.Values{"admin": {"eu-west:down"}},
			func(t *testing.T, ex explain.Explanation) {
				if ex.Chosen == "eu-west" || ex.Chosen == "" || regionAdmin(ex, "eu-west") != "down" {
					t.Errorf("chosen %q, eu-west admin %q", ex.Chosen, regionAdmin(ex, "eu-west"))
				}
			}},
		{"admin down of one endpoint leaves the other", "www", london, url.Values{"admin": {"eu-west/198.51.100.10:down"}},
			func(t *testing.T, ex explain.Explanation) {
				if ex.Chosen != "eu-west" || len(ex.Answer) != 1 || !strings.Contains(ex.Answer[0], "198.51.100.11") {
					t.Errorf("chosen %q, answer %v; want eu-west's other address alone", ex.Chosen, ex.Answer)
				}
			}},
		{"admin up with an expiry, then none", "www", london, url.Values{"admin": {"eu-west:down", "eu-west:none", "us-east:up until 2099-01-01T00:00:00Z"}},
			func(t *testing.T, ex explain.Explanation) {
				if ex.Chosen != "eu-west" || regionAdmin(ex, "us-east") != "up" || regionAdmin(ex, "eu-west") != "" {
					t.Errorf("chosen %q, admins us-east %q eu-west %q", ex.Chosen, regionAdmin(ex, "us-east"), regionAdmin(ex, "eu-west"))
				}
			}},
		{"a new location and pin", "q", london, url.Values{"nets": {"lab/desk:81.2.70.0/24"}, "pin": {"lab/desk:us-east"}},
			func(t *testing.T, ex explain.Explanation) {
				if p := ex.Pin; p == nil || p.Key != "lab/desk" || p.By != "cidr" || ex.Chosen != "us-east" || ex.Scope != 24 {
					t.Errorf("pin %+v chosen %q scope %d", ex.Pin, ex.Chosen, ex.Scope)
				}
			}},
		{"an ASN added to a location pins by ASN", "p", london, url.Values{"nets": {"corp/isp:AS64500,AS64501"}},
			func(t *testing.T, ex explain.Explanation) {
				if p := ex.Pin; p == nil || p.Key != "corp/isp" || p.By != "asn" || p.ASN == nil || p.ASN.Number != "AS64501" || ex.Chosen != "eu-central" {
					t.Errorf("pin %+v chosen %q", ex.Pin, ex.Chosen)
				}
			}},
		{"a pin dropped: GeoIP again", "p", "81.2.68.5", url.Values{"pin": {"corp/isp:none"}},
			func(t *testing.T, ex explain.Explanation) {
				if ex.Pin != nil || ex.Chosen != explainOf(t, "q", "81.2.68.5", nil).Chosen {
					t.Errorf("pin %+v chosen %q", ex.Pin, ex.Chosen)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := explainOf(t, tc.qname, tc.client, tc.whatIf)
			tc.check(t, ex)
			if ex.WhatIf == nil || ex.WhatIf.String() == "" {
				t.Errorf("what_if not echoed: %+v", ex.WhatIf)
			}
		})
	}
	// Nothing was written: the server answers as before.
	if ex := explainOf(t, "www", london, nil); ex.Chosen != "eu-west" || regionAdmin(ex, "eu-west") != "" {
		t.Errorf("after the what-ifs: chosen %q, eu-west admin %q", ex.Chosen, regionAdmin(ex, "eu-west"))
	}
	if ex := explainOf(t, "p", "81.2.68.5", nil); ex.Pin == nil || ex.Pin.Key != "corp/isp" {
		t.Errorf("after the what-ifs: pin %+v", ex.Pin)
	}

	t.Run("simulate a sample", func(t *testing.T) {
		q := url.Values{"name": {"q"}, "nets": {"lab/desk:81.2.0.0/16"}, "pin": {"lab/desk:us-east"}}
		resp, err := http.Post(sim.URL+"/simulate?"+q.Encode(), "text/plain", strings.NewReader("81.2.69.1\n81.2.70.1\n91.198.174.1\n"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s explain.Simulation
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != 200 || !s.WhatIfApplied {
			t.Fatalf("status %d, %v, %+v", resp.StatusCode, err, s)
		}
		// Two of the three clients are in the pinned /16.
		if s.Now["us-east"] != 0 || s.WhatIf["us-east"] < 0.66 || s.WhatIf["eu-west"] != 0 {
			t.Errorf("pinning 81.2.0.0/16 to us-east: now %v, what if %v", s.Now, s.WhatIf)
		}
	})

	// Over the GeoIP database's networks a pin cannot match a location:
	// the document says so whenever the name has pins, now or by what-if,
	// and never for a posted sample, where pins count.
	for _, tc := range []struct {
		name, query, body string
		want              bool
	}{
		{"p has pins", "name=p", "", true},
		{"q has none", "name=q", "", false},
		{"q with a pin by what-if", "name=q&nets=lab/desk:81.2.70.0/24&pin=lab/desk:us-east", "", true},
		{"p dropping its pins by what-if: now still pinned", "name=p&pin=corp/isp:none&pin=corp/office:none", "", true},
		{"p over a sample", "name=p", "81.2.69.1\n", false},
	} {
		t.Run("pins not counted: "+tc.name, func(t *testing.T) {
			var s explain.Simulation
			if tc.body == "" {
				if code := getJSON(t, sim, "/simulate?"+tc.query, &s); code != 200 {
					t.Fatalf("status %d", code)
				}
			} else {
				resp, err := http.Post(sim.URL+"/simulate?"+tc.query, "text/plain", strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != 200 {
					t.Fatalf("status %d, %v", resp.StatusCode, err)
				}
			}
			if s.PinsNotCounted != tc.want {
				t.Errorf("pins_not_counted %v, want %v (basis %q)", s.PinsNotCounted, tc.want, s.Basis)
			}
		})
	}

	for _, bad := range []struct {
		query string
		code  int
		want  string
	}{
		{"admin=mars:down", 422, `region "mars" does not exist`},
		{"admin=eu-west:sideways", 400, "want <region>[/<endpoint>]"},
		{"admin=eu-west/192.0.2.99:down", 422, "is not one of region"},
		{"pin=nope/x:us-east", 422, `network collection "nope" does not exist`},
		{"pin=corp/isp:ap-northeast", 422, "not one of the name's regions"},
		{"pin=corp:us-east", 400, "want <collection>/<location>"},
		{"nets=corp/isp:81.2.69.1/24", 422, "host bits"},
		{"nets=corp/isp:as1", 422, "is not an AS number"},
	} {
		var body map[string]string
		code := getJSON(t, srv, "/explain?name=p&client=81.2.68.5&"+bad.query, &body)
		if code != bad.code || !strings.Contains(body["error"], bad.want) {
			t.Errorf("%s: status %d %q, want %d naming %q", bad.query, code, body["error"], bad.code, bad.want)
		}
	}
}
