package statuspage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/server"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// Own copies of the fixture paths, so that these tests do not depend on
// constants other files' tests may rename.
const (
	statusTestDB   = "../../testdata/geoip/glb-test-city.mmdb"
	statusTestSeed = "../../testdata/dev/config.json"
	statusZone     = "gslb.example.test"
)

var statusT0 = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

// statusClock is a settable clock shared by the handler and the page.
type statusClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *statusClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *statusClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// statusState builds a State from the dev seed with edits on top, as the
// store's watcher would from etcd: the seed first, then the edits at later
// revisions, so an invalid edit of a seeded key keeps the seed's value in
// force.
func statusState(t testing.TB, edits map[string]string) *schema.State {
	t.Helper()
	b, rev := statusBuilder(t, edits)
	st, _ := b.State(rev)
	return st
}

func statusBuilder(t testing.TB, edits map[string]string) (*schema.Builder, int64) {
	t.Helper()
	seed, err := store.LoadSeedFile(statusTestSeed)
	if err != nil {
		t.Fatal(err)
	}
	b := schema.NewBuilder(schema.DefaultPrefix)
	rev := int64(1)
	for _, kvs := range []map[string]string{seed, edits} {
		for _, k := range slices.Sorted(maps.Keys(kvs)) {
			rev++
			b.Put(schema.DefaultPrefix+k, []byte(kvs[k]), rev)
		}
		b.State(rev)
	}
	return b, rev
}

// statusFixture is a handler on the test GeoIP database with the status
// page routed on a mux, all on one fake clock.
type statusFixture struct {
	h     *server.Handler
	reg   *prometheus.Registry
	page  *Page
	mux   *http.ServeMux
	clock *statusClock
}

func newStatusFixture(t testing.TB, now func() time.Time) *statusFixture {
	t.Helper()
	db, err := geo.Open(statusTestDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &statusFixture{reg: prometheus.NewRegistry(), mux: http.NewServeMux(), clock: &statusClock{t: statusT0}}
	if now == nil {
		now = f.clock.Now
	}
	f.h = server.NewHandler(server.Options{Geo: db, Metrics: server.NewMetrics(f.reg), Now: now, Rand: func(int) int { return 0 }})
	f.page = Routes(f.mux, f.h, Options{Instance: "glbd-test", Version: "v9.9.9-test", Now: now})
	return f
}

func (f *statusFixture) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// statusDNSWriter is a dns.ResponseWriter that drops the reply: the tests
// only need the answer counters the handler increments.
type statusDNSWriter struct{ remote net.Addr }

func (w statusDNSWriter) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}
func (w statusDNSWriter) RemoteAddr() net.Addr        { return w.remote }
func (w statusDNSWriter) WriteMsg(*dns.Msg) error     { return nil }
func (w statusDNSWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w statusDNSWriter) Close() error                { return nil }
func (w statusDNSWriter) TsigStatus() error           { return nil }
func (w statusDNSWriter) TsigTimersOnly(bool)         {}
func (w statusDNSWriter) Hijack()                     {}

// query asks for www from client n times.
func (f *statusFixture) query(client string, n int) {
	w := statusDNSWriter{remote: &net.UDPAddr{IP: net.ParseIP(client), Port: 40000}}
	for range n {
		m := new(dns.Msg)
		m.SetQuestion("www."+statusZone+".", dns.TypeA)
		f.h.ServeDNS(w, m)
	}
}

// statusLongError is a failure reason longer than a table cell.
const statusLongError = "GET /healthz on 198.51.100.11:8080: dial tcp 198.51.100.11:8080: connect: connection timed out after 500ms"

// statusEdits adds two probers, reports (one failing, with markup in its
// error), a drained region and a weight whose value is markup.
func statusEdits(now time.Time) map[string]string {
	report := func(up bool, errText string) string {
		b, _ := json.Marshal(schema.HealthReport{Up: up, RTT: schema.Duration(3 * time.Millisecond), Time: now.Add(-4 * time.Second), Error: errText})
		return string(b)
	}
	return map[string]string{
		"probers/fra":                             `{"lat": 50.11, "lon": 8.68, "version": "v1.2.3"}`,
		"probers/iad":                             `{"lat": 39.04, "lon": -77.49}`,
		"health/eu-west/198.51.100.10/fra":        report(true, ""),
		"health/eu-west/198.51.100.11/fra":        report(false, `dial: <b>refused</b>`),
		"health/eu-west/198.51.100.11/iad":        report(false, statusLongError),
		"regions/sa-east/weight":                  "0",
		"regions/us-west/weight":                  `<script>alert(1)</script>`,
		"zones/" + statusZone + "/names/<x>":      `{"regions": ["eu-west"]}`,
		"zones/" + statusZone + "/names/intranet": `{"regions": ["eu-west"], "policy": "weighted"}`,
	}
}

// TestStatusPage checks the HTML page: content, escaping of etcd data, no
// external references, and a CSP that lets its own inline assets run.
func TestStatusPage(t *testing.T) {
	f := newStatusFixture(t, nil)
	st := statusState(t, statusEdits(statusT0))
	f.h.Apply(st)
	if len(st.Rejected) == 0 {
		t.Fatal("fixture: no rejected keys")
	}

	res, body := f.get(t, "/")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	want := []string{statusZone, "<svg", "www." + statusZone, "api." + statusZone, "v1.2.3"}
	for id := range st.Regions {
		want = append(want, id)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}

	// The header names the instance and version and counts the rejected
	// keys, linking to their list.
	header := body[strings.Index(body, "<header>"):strings.Index(body, "</header>")]
	for _, w := range []string{"instance <b>glbd-test</b>", "version <b>v9.9.9-test</b>",
		fmt.Sprintf(`<a href="#rejected">rejected keys</a> <b class="t-down">%d</b>`, len(st.Rejected))} {
		if !strings.Contains(header, w) {
			t.Errorf("header lacks %q:\n%s", w, header)
		}
	}
	if !strings.Contains(body, `id="rejected"`) {
		t.Error("no #rejected section for the header's link")
	}
	// A failure reason is shown whole, however long.
	if !strings.Contains(body, `<div class="err">`+statusLongError+`</div>`) {
		t.Errorf("page lacks the whole reason %q", statusLongError)
	}

	// Values from etcd reach the page only escaped.
	for _, w := range []string{`weight &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;`, `dial: &lt;b&gt;refused&lt;/b&gt;`} {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks escaped %q", w)
		}
	}
	for _, bad := range []string{"<script>alert", "<b>refused"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}

	// Air-gapped: no URL but an XML namespace name.
	for _, loc := range regexp.MustCompile(`(?i)https?://`).FindAllStringIndex(body, -1) {
		if !regexp.MustCompile(`xmlns(:\w+)?="$`).MatchString(body[:loc[0]]) {
			t.Errorf("external reference: %q", body[max(0, loc[0]-40):min(len(body), loc[1]+40)])
		}
	}

	// The CSP pins the inline style and script by hash: a template change
	// that altered either without the other would blank or freeze the page.
	csp := res.Header.Get("Content-Security-Policy")
	for _, el := range []string{"style", "script"} {
		m := regexp.MustCompile(`(?s)<` + el + `>(.*?)</` + el + `>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no inline <%s>", el)
		}
		if h := statusCSPHash(m[1]); !strings.Contains(csp, el+"-src '"+h+"'") {
			t.Errorf("CSP %q does not allow the page's <%s> (%s)", csp, el, h)
		}
	}
}

// TestStatusJSON checks /status.json: the server's status and the series.
func TestStatusJSON(t *testing.T) {
	f := newStatusFixture(t, nil)
	f.h.Apply(statusState(t, statusEdits(statusT0)))
	f.page.sample()
	f.query("81.2.69.1", 3)   // London: eu-west
	f.query("67.43.156.1", 1) // Ashburn: us-east
	f.clock.Add(answerSampleInterval)
	f.page.sample()

	res, body := f.get(t, "/status.json")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /status.json: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var doc statusDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Instance != "glbd-test" || doc.Version != "v9.9.9-test" || doc.Status.RejectedKeys != len(doc.Status.Rejected) {
		t.Errorf("instance %q, version %q, rejected_keys %d of %d", doc.Instance, doc.Version, doc.Status.RejectedKeys, len(doc.Status.Rejected))
	}
	// Every key at every depth is snake_case, like /readyz and /explain
	// (report maps are keyed by prober id, answer maps by region id).
	var raw any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range jsonKeys(raw, "") {
		if !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(k) {
			t.Errorf("key %q is not snake_case", k)
		}
	}
	var ids []string
	for _, r := range doc.Status.Regions {
		ids = append(ids, r.ID)
	}
	wantIDs := []string{"ap-northeast", "ap-southeast", "eu-central", "eu-west", "sa-east", "us-east", "us-west"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("regions %v, want %v", ids, wantIDs)
	}
	if len(doc.Status.Zones) != 1 || doc.Status.Zones[0].Name != statusZone || len(doc.Status.Rejected) == 0 {
		t.Errorf("zones %+v, rejected %+v", doc.Status.Zones, doc.Status.Rejected)
	}
	a := doc.Answers
	if len(a.Buckets) != 1 || !slices.Equal(a.Regions, []string{"eu-west", "us-east"}) ||
		!maps.Equal(a.Buckets[0].Answers, map[string]int64{"eu-west": 3, "us-east": 1}) ||
		!a.Buckets[0].Start.Equal(statusT0) || a.IntervalSeconds != 10 {
		t.Errorf("answers %+v", a)
	}

	// The page draws the same bucket.
	if _, page := f.get(t, "/"); !strings.Contains(page, ": 4 answers") {
		t.Errorf("page has no answer bar")
	}
}

// TestStatusBeforeSnapshot: before the first snapshot both routes answer,
// and say so, instead of failing.
func TestStatusBeforeSnapshot(t *testing.T) {
	f := newStatusFixture(t, nil)
	res, body := f.get(t, "/")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "no configuration snapshot") {
		t.Errorf("GET /: %d, snapshot notice missing", res.StatusCode)
	}
	res, body = f.get(t, "/status.json")
	var doc statusDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil || res.StatusCode != http.StatusOK || doc.Status != nil {
		t.Errorf("GET /status.json: %d %v, status %+v", res.StatusCode, err, doc.Status)
	}
	if res, _ := f.get(t, "/nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope: %d, want 404 (the page is only at /)", res.StatusCode)
	}
}

// TestStatusRingBounded drives Run with an injected ticker for 40 minutes
// of samples: the ring never holds more than the 15-minute window. Run runs
// in a synctest bubble only so that synctest.Wait can tell when it has
// finished a sample; time itself comes from the fake clock.
func TestStatusRingBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newStatusFixture(t, nil)
		f.h.Apply(statusState(t, nil))
		ticks := make(chan time.Time)
		var interval time.Duration
		f.page.ticker = func(d time.Duration) (<-chan time.Time, func()) {
			interval = d
			return ticks, func() {}
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- f.page.Run(ctx) }()
		const total = 240
		for i := range total {
			synctest.Wait() // the previous sample is done
			f.query("81.2.69.1", i%3)
			f.clock.Add(answerSampleInterval)
			ticks <- f.clock.Now()
			synctest.Wait()
			if n := len(f.page.ring.buckets); n > answerRingSize {
				t.Fatalf("tick %d: %d buckets, want at most %d", i, n, answerRingSize)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if interval != 10*time.Second {
			t.Errorf("ticker interval %s, want 10s", interval)
		}

		now := f.clock.Now()
		buckets, _ := f.page.snapshot(now)
		if len(buckets) != 90 || buckets[0].Start.Before(now.Add(-15*time.Minute)) || !buckets[len(buckets)-1].End.Equal(now) {
			t.Fatalf("%d buckets, want 90 covering the last 15 min to %s", len(buckets), now)
		}
		// Every answer of the last 90 ticks is in the ring, none older.
		var got, want int64
		for _, b := range buckets {
			got += b.total()
		}
		for i := total - 90; i < total; i++ {
			want += int64(i % 3)
		}
		if got != want {
			t.Errorf("%d answers in the ring, want %d", got, want)
		}
		// A page drawn later, with no samples since, shows nothing stale.
		if b, _ := f.page.snapshot(now.Add(16 * time.Minute)); len(b) != 0 {
			t.Errorf("%d buckets 16 min after the last sample, want 0", len(b))
		}
	})
}

// TestAnswerRing covers the delta arithmetic: baseline, new series, counter
// reset, a lost sample and a clock stepping back.
func TestAnswerRing(t *testing.T) {
	eu, us := "eu-west", "us-east"
	at := func(s int) time.Time { return statusT0.Add(time.Duration(s) * time.Second) }
	var r answerRing
	steps := []struct {
		name   string
		at     int
		counts map[string]uint64 // nil: the sample failed
		want   map[string]int64  // the newest bucket; nil: no new bucket
		from   int               // its start
	}{
		{"baseline", 0, map[string]uint64{eu: 5}, nil, 0},
		{"delta", 10, map[string]uint64{eu: 8}, map[string]int64{"eu-west": 3}, 0},
		{"new series counts from zero", 20, map[string]uint64{eu: 8, us: 2}, map[string]int64{"us-east": 2}, 10},
		{"lost sample", 30, nil, nil, 0},
		{"next bucket spans the gap", 40, map[string]uint64{eu: 10, us: 2}, map[string]int64{"eu-west": 2}, 20},
		{"reset", 50, map[string]uint64{eu: 1, us: 2}, map[string]int64{"eu-west": 1}, 40},
		{"clock stepped back: new baseline", 45, map[string]uint64{eu: 4, us: 2}, nil, 0},
		{"after the step", 55, map[string]uint64{eu: 6, us: 2}, map[string]int64{"eu-west": 2}, 45},
	}
	for _, s := range steps {
		n := len(r.buckets)
		if s.counts == nil {
			r.fail(at(s.at), fmt.Errorf("gather: boom"))
			if r.err == "" {
				t.Errorf("%s: error not kept", s.name)
			}
		} else {
			r.add(at(s.at), s.counts)
		}
		switch {
		case s.want == nil && len(r.buckets) != n:
			t.Errorf("%s: a bucket was added: %+v", s.name, r.buckets[len(r.buckets)-1])
		case s.want != nil && len(r.buckets) != n+1:
			t.Errorf("%s: no bucket added", s.name)
		case s.want != nil:
			b := r.buckets[len(r.buckets)-1]
			if !maps.Equal(b.Answers, s.want) || !b.Start.Equal(at(s.from)) || !b.End.Equal(at(s.at)) {
				t.Errorf("%s: bucket %+v, want %v from %ds to %ds", s.name, b, s.want, s.from, s.at)
			}
		}
	}
	if r.err != "" {
		t.Errorf("error %q not cleared by a good sample", r.err)
	}
}

// TestAnswerChart checks the chart's arithmetic: the time axis follows the
// samples there are, bars stack to 100 %, and the legend ranks regions.
func TestAnswerChart(t *testing.T) {
	now := statusT0.Add(time.Hour)
	bucket := func(ago time.Duration, answers map[string]int64) answerBucket {
		return answerBucket{Start: now.Add(-ago - answerSampleInterval), End: now.Add(-ago), Answers: answers}
	}
	colors := map[string]string{"eu-west": "#111", "us-east": "#222"}
	cases := []struct {
		name    string
		buckets []answerBucket
		span    string
		bars    int
		legend  string // region minute window count, by rank
	}{
		{name: "no samples", span: "15 min"},
		{name: "one bucket: the shortest axis", buckets: []answerBucket{bucket(0, map[string]int64{"eu-west": 3, "us-east": 1})},
			span: "2 min", bars: 1, legend: "eu-west 75% 75% 3; us-east 25% 25% 1"},
		{name: "old answers count for the window, not the minute", buckets: []answerBucket{
			bucket(10*time.Minute, map[string]int64{"us-east": 8}),
			bucket(5*time.Minute, map[string]int64{}),
			bucket(0, map[string]int64{"eu-west": 2}),
		}, span: "11 min", bars: 2, legend: "us-east 0% 80% 8; eu-west 100% 20% 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := buildAnswerChart(tc.buckets, colors, now)
			var legend []string
			for _, r := range c.Legend {
				legend = append(legend, fmt.Sprintf("%s %s %s %d", r.Region, r.Minute, r.Window, r.Count))
			}
			if c.Span != tc.span || len(c.Bars) != tc.bars || strings.Join(legend, "; ") != tc.legend {
				t.Errorf("span %q, %d bars, legend %q; want %q, %d, %q", c.Span, len(c.Bars), strings.Join(legend, "; "), tc.span, tc.bars, tc.legend)
			}
			for _, b := range c.Bars {
				var h float64
				for _, s := range b.Segs {
					h += s.H
				}
				if math.Abs(h-chartShareH) > 0.2 || b.X < c.X0 || b.X+b.W > c.X1 {
					t.Errorf("bar %+v: height %.1f of %.0f, x outside %.0f..%.0f", b, h, chartShareH, c.X0, c.X1)
				}
			}
		})
	}
}

// jsonKeys returns the object keys of a decoded JSON document, except the
// keys of maps keyed by data (reports by prober, answers by region).
func jsonKeys(v any, parent string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		data := parent == "reports" || parent == "answers" && v["buckets"] == nil
		for k, c := range v {
			if !data {
				out = append(out, k)
			}
			out = append(out, jsonKeys(c, k)...)
		}
	case []any:
		for _, c := range v {
			out = append(out, jsonKeys(c, parent)...)
		}
	}
	return out
}

// TestStatusSchedule: a region's drain schedule shows on the page, in the
// region's note, and in /status.json with where it stands.
func TestStatusSchedule(t *testing.T) {
	f := newStatusFixture(t, nil)
	edits := statusEdits(statusT0)
	edits["regions/eu-west/schedule"] = fmt.Sprintf(`{"steps": [50, 0], "every": "5m", "start": %q, "before": 100}`,
		statusT0.Format(time.RFC3339))
	f.h.Apply(statusState(t, edits))
	if _, page := f.get(t, "/"); !strings.Contains(page, "weight 50, drain schedule: step 1/2 (weight 50), next at") {
		t.Errorf("page lacks the schedule")
	}
	_, body := f.get(t, "/status.json")
	var doc statusDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Status.Regions {
		if r.ID == "eu-west" && (r.Schedule == nil || r.Schedule.Step != 1 || !r.Schedule.Active || r.Weight != 50) {
			t.Errorf("eu-west in /status.json: weight %d, schedule %+v", r.Weight, r.Schedule)
		}
	}
}
