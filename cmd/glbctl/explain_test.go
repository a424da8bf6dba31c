package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// cannedExplain is an /explain answer in the shape glbd documents.
const cannedExplain = `{"name":"www.gslb.example.test.","zone":"gslb.example.test","type":"A","client":"81.2.69.160","ecs_source":24,
 "location":{"found":true,"country":"GB","continent":"EU","subdivision":"ENG","lat":51.5,"lon":-0.09,"network":"81.2.69.0/24"},
 "policy":"geo","fence":{"rule":"","allowed":["us-east","eu-west"]},
 "regions":[
  {"id":"eu-west","weight":100,"up":true,"checked":false,"fenced_out":false,"has_family":true,"distance_km":3.1,"rtt_ms":null,"score":3.1,"in_tier":true,
   "endpoints":[{"endpoint":"198.51.100.10","up":true,"up_votes":0,"votes":0,"reports":{"p1":{"up":true,"rtt":"1ms","age_seconds":2.5}}}]},
  {"id":"us-east","weight":0,"up":false,"checked":true,"fenced_out":false,"has_family":true,"distance_km":5905.4,"rtt_ms":81.25,"score":5905.4,"in_tier":false,
   "endpoints":[{"endpoint":"192.0.2.10","up":false,"up_votes":0,"votes":1,"reports":{}},{"endpoint":"192.0.2.11","up":false,"up_votes":0,"votes":1,"reports":{}}]},
  {"id":"sa-east","weight":100,"up":true,"checked":true,"fenced_out":true,"has_family":false,"distance_km":null,"rtt_ms":null,"score":null,"in_tier":false,"endpoints":[]}],
 "tier":["eu-west"],"rule":"geo","chosen":"eu-west","rcode":"NOERROR",
 "answer":["www.gslb.example.test. 30 IN A 198.51.100.10"],"ttl":30,"scope":24,"dnssec":{"signed":true,"key_tag":36103,"algorithm":13},
 "what_if":{"down":["us-east"],"up":[],"weight":{"us-east":0}}}`

const cannedSimulate = `{"name":"www.gslb.example.test.","type":"A","basis":"geoip networks","clients":1234,
 "now":{"eu-west":0.31,"us-east":0.5,"ap-northeast":0.19},
 "what_if":{"eu-west":0.0,"us-east":0.62,"ap-northeast":0.2,"":0.18},"what_if_applied":true}`

// fakeGlbd serves canned answers and records the requests it got.
type fakeGlbd struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (f *fakeGlbd) start(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	record := func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.reqs = append(f.reqs, r)
		f.body = append(f.body, string(b))
	}
	mux.HandleFunc("GET /explain", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		if r.URL.Query().Get("name") == "nope.example." {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"name \"nope.example.\" is not in any zone"}`)
			return
		}
		io.WriteString(w, cannedExplain)
	})
	mux.HandleFunc("/simulate", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		io.WriteString(w, cannedSimulate)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func (f *fakeGlbd) last() (*http.Request, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1], f.body[len(f.body)-1]
}

// squeeze collapses the runs of spaces tabwriter pads columns with.
func squeeze(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

func TestExplain(t *testing.T) {
	var f fakeGlbd
	base := f.start(t)
	r := ctl(t, nil, "explain", "www.gslb.example.test", "81.2.69.160", "--glbd", strings.TrimPrefix(base, "http://"),
		"--down", "us-east", "--weight", "us-east:0", "--type", "a", "--up", "eu-west,ap-northeast")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	req, _ := f.last()
	want := url.Values{"name": {"www.gslb.example.test"}, "client": {"81.2.69.160"}, "type": {"A"},
		"down": {"us-east"}, "up": {"eu-west", "ap-northeast"}, "weight": {"us-east:0"}}
	if got := req.URL.Query(); got.Encode() != want.Encode() {
		t.Errorf("query %s, want %s", got.Encode(), want.Encode())
	}
	wantOut := `www.gslb.example.test. A for client 81.2.69.160 (ECS source /24), zone gslb.example.test
client location: GB EU ENG at 51.50,-0.09 (GeoIP network 81.2.69.0/24)
policy: geo; geofence: none
what if: down us-east; weight us-east:0

REGION WEIGHT HEALTH ENDPOINTS UP DISTANCE RTT SCORE NOTES
eu-west 100 up (no data) 1/1 3 km - 3.1 CHOSEN, in tier
us-east 0 DOWN 0/2 5905 km 81.2 ms 5905.4 drained
sa-east 100 up 0/0 - - - fenced out, no A address

tier: eu-west
rule: geo; chosen: eu-west
answer: NOERROR, TTL 30, ECS scope /24
www.gslb.example.test. 30 IN A 198.51.100.10
dnssec: DO answers signed by key 36103 (algorithm 13)
`
	if got := squeeze(r.stdout); got != wantOut {
		t.Errorf("output:\n%s\nwant:\n%s", got, wantOut)
	}
}

func TestExplainEndpoints(t *testing.T) {
	var f fakeGlbd
	base := f.start(t)
	r := ctl(t, nil, "explain", "www.gslb.example.test", "81.2.69.160", "--glbd", base, "--endpoints")
	want := "REGION ENDPOINT VERDICT PROBER REPORT RTT AGE\n" +
		"eu-west 198.51.100.10 up (no data) p1 up 1ms 2.5s\n" +
		"us-east 192.0.2.10 DOWN 0/1 - - - -\n" +
		"us-east 192.0.2.11 DOWN 0/1 - - - -\n"
	if r.code != 0 || !strings.Contains(squeeze(r.stdout), want) {
		t.Errorf("exit %d, output:\n%s\nwant it to contain:\n%s", r.code, squeeze(r.stdout), want)
	}
}

func TestExplainErrors(t *testing.T) {
	var f fakeGlbd
	base := f.start(t)
	r := ctl(t, nil, "explain", "nope.example.", "192.0.2.1", "--glbd", base)
	if r.code != 1 || r.stderr != "glbctl explain: glbd: name \"nope.example.\" is not in any zone\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	// A glbd without /explain (older, or not glbd at all).
	old := httptest.NewServer(http.NotFoundHandler())
	defer old.Close()
	r = ctl(t, nil, "explain", "www", "192.0.2.1", "--glbd", old.URL)
	if r.code != 1 || !strings.Contains(r.stderr, "404 Not Found: is it a glbd that serves /explain?") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	// A glbd that is not there: one line naming the address.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	r = ctl(t, nil, "explain", "www", "192.0.2.1", "--glbd", srv.URL)
	if r.code != 1 || !strings.Contains(r.stderr, "ask glbd at "+srv.URL+" (see --glbd)") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestSimulate(t *testing.T) {
	var f fakeGlbd
	base := f.start(t)
	wantOut := `www.gslb.example.test. A: 1234 clients (geoip networks)
what if: down eu-west

REGION NOW WHAT IF CHANGE
us-east 50.0% 62.0% +12.0
eu-west 31.0% 0.0% -31.0
ap-northeast 19.0% 20.0% +1.0
(no answer) 0.0% 18.0% +18.0
`
	t.Run("glbd's clients", func(t *testing.T) {
		r := ctl(t, nil, "simulate", "www.gslb.example.test", "--down", "eu-west", "--glbd", base)
		if r.code != 0 || squeeze(r.stdout) != wantOut {
			t.Errorf("exit %d, stderr %s, output:\n%s\nwant:\n%s", r.code, r.stderr, squeeze(r.stdout), wantOut)
		}
		req, _ := f.last()
		if req.Method != http.MethodGet || req.URL.RawQuery != "down=eu-west&name=www.gslb.example.test&type=A" {
			t.Errorf("request %s %s", req.Method, req.URL)
		}
	})
	t.Run("clients from a file", func(t *testing.T) {
		file := writeFile(t, "clients.txt", "# resolvers\n81.2.69.160\n\n2001:db8::1  # v6\n")
		r := ctl(t, nil, "simulate", "www.gslb.example.test", "--clients", file, "--down", "eu-west", "--glbd", base)
		if r.code != 0 || squeeze(r.stdout) != wantOut {
			t.Errorf("exit %d, stderr %s, output:\n%s", r.code, r.stderr, r.stdout)
		}
		req, body := f.last()
		if req.Method != http.MethodPost || body != "81.2.69.160\n2001:db8::1\n" {
			t.Errorf("request %s with body %q", req.Method, body)
		}
	})
	t.Run("a bad client address", func(t *testing.T) {
		file := writeFile(t, "clients.txt", "81.2.69.160\n81.2.69.999\n")
		r := ctl(t, nil, "simulate", "www", "--clients", file, "--glbd", base)
		if r.code != 2 || !strings.Contains(r.stderr, `clients.txt:2: "81.2.69.999" is not an IP address`) {
			t.Errorf("exit %d, stderr %s", r.code, r.stderr)
		}
	})
}

// TestExplainLoadFlag: --load becomes load=region:utilization; a bad one
// is a usage error before any request.
func TestExplainLoadFlag(t *testing.T) {
	var f fakeGlbd
	base := f.start(t)
	r := ctl(t, nil, "explain", "www.gslb.example.test", "81.2.69.160", "--glbd", strings.TrimPrefix(base, "http://"),
		"--load", "eu-west=0.9", "--load", "us-east:0.5")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	req, _ := f.last()
	if got := req.URL.Query()["load"]; !slices.Equal(got, []string{"eu-west:0.9", "us-east:0.5"}) {
		t.Errorf("load parameters %q", got)
	}
	for _, bad := range []string{"eu-west", "eu-west=lots", "eu-west=11", "EU=0.5"} {
		if r := ctl(t, nil, "explain", "www", "81.2.69.160", "--glbd", strings.TrimPrefix(base, "http://"), "--load", bad); r.code == 0 {
			t.Errorf("--load %q accepted", bad)
		}
	}
}
