package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/geo/geotest"
)

const testCSV = "../../testdata/geoip/networks.csv"

// Answers for London's ECS before and after the test database moves
// 81.2.69.0/24 to Sydney.
const (
	londonEU  = "198.51.100.10,198.51.100.11" // eu-west
	londonOC  = "203.0.113.20"                // ap-southeast
	londonECS = "81.2.69.0/24"
)

// querier is a client that keeps querying glbd over UDP, one query at a
// time, until it is stopped, has sent max queries or has run for limit.
// Every query must be answered NOERROR; it records what the answers were.
type querier struct {
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	sent    int
	failed  []string       // what went wrong, one entry per failed query
	answers map[string]int // answer -> count
	last    string
}

func startQuerier(t *testing.T, addr string, max int, limit time.Duration) *querier {
	p := &querier{stop: make(chan struct{}), done: make(chan struct{}), answers: map[string]int{}}
	go func() {
		defer close(p.done)
		c := &dns.Client{Net: "udp", Timeout: time.Second}
		q := new(dns.Msg)
		q.SetQuestion("www."+zone, dns.TypeA)
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, ecsOpt(londonECS))
		deadline := time.Now().Add(limit)
		for i := 0; i < max && time.Now().Before(deadline); i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			q.Id = dns.Id()
			m, _, err := c.Exchange(q, addr)
			p.mu.Lock()
			p.sent++
			switch {
			case err != nil:
				p.failed = append(p.failed, err.Error())
			case m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0:
				p.failed = append(p.failed, "rcode "+dns.RcodeToString[m.Rcode])
			default:
				p.last = addrs(m)
				p.answers[p.last]++
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.halt)
	return p
}

func (p *querier) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *querier) lastAnswer() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *querier) count(answer string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answers[answer]
}

// TestGeoIPHotReload runs glbd on a copy of the test database and keeps a
// client querying it while the file is replaced: first by a valid database
// in which the client's network has moved from London to Sydney (answers
// follow), then by a truncated file (rejected and counted; answers stay).
// Not one query may fail throughout.
func TestGeoIPHotReload(t *testing.T) {
	rows, err := geotest.ReadCSVFile(testCSV)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := (geotest.Options{}).WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	srv := seededEtcd(t)
	a := startApp(t, Config{Etcd: srv.Endpoints(), GeoIP: path, GeoIPPoll: 20 * time.Millisecond})
	p := startQuerier(t, a.dnsAddr(), 500000, 15*time.Second)
	waitFor(t, 5*time.Second, "London answered from eu-west", func() bool { return p.count(londonEU) >= 100 })

	// (a) A valid database in which London has moved to Oceania.
	moved := geotest.Move(rows, netip.MustParsePrefix("81.2.69.0/24"), netip.MustParsePrefix("1.128.0.0/16"))
	epoch := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if err := (geotest.Options{BuildEpoch: epoch.Unix()}).WriteFile(path, moved); err != nil {
		t.Fatal(err)
	}
	after := londonOC
	if took, ok := poll(2*time.Second, func() bool { return p.lastAnswer() == londonOC }); ok {
		t.Logf("new database in force %s after the rename", took)
	} else {
		// Checked to the end all the same: no query may fail, and the
		// rejected file must change nothing.
		after = londonEU
		defer t.Error("answers did not follow the new GeoIP database")
	}
	if got := metricValue(t, a, "glb_geoip_build_timestamp_seconds"); got != float64(epoch.Unix()) {
		t.Errorf("glb_geoip_build_timestamp_seconds = %v, want %d", got, epoch.Unix())
	}
	if got := a.readiness().GeoIP.BuildTime; got != "2026-02-01T00:00:00Z" {
		t.Errorf("/readyz geoip build_time %q, want 2026-02-01T00:00:00Z", got)
	}

	waitFor(t, 5*time.Second, "steady answers", func() bool { return p.count(after) >= 200 })

	// (b) A truncated file: rejected, counted, and the moved database stays.
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	errorsBefore := reloads(t, a, "error")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, good[:len(good)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the truncated file rejected", func() bool { return reloads(t, a, "error") == errorsBefore+1 })
	seen := p.count(after)
	waitFor(t, 5*time.Second, "more answers after the rejection", func() bool { return p.count(after) >= seen+200 })

	p.halt()
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Logf("%d queries sent, %d failed; answers %v", p.sent, len(p.failed), p.answers)
	if len(p.failed) > 0 {
		t.Errorf("%d of %d queries failed during the reloads, want none; first: %s", len(p.failed), p.sent, p.failed[0])
	}
	if p.last != after {
		t.Errorf("last answer %q, want %q: the rejected file must not change answers", p.last, after)
	}
	if want := map[bool]int{true: 2, false: 1}[after == londonOC]; len(p.answers) != want {
		t.Errorf("answers %v, want exactly eu-west then ap-southeast", p.answers)
	}
}

// poll is waitFor without the failure: it reports whether cond came true
// within limit, and when.
func poll(limit time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			return limit, false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start), true
}

// TestGeoIPReloadOnSIGHUP turns polling off and checks that what SIGHUP
// delivers reloads the database at once.
func TestGeoIPReloadOnSIGHUP(t *testing.T) {
	rows, err := geotest.ReadCSVFile(testCSV)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := (geotest.Options{}).WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	srv := seededEtcd(t)
	hup := make(chan os.Signal, 1)
	r := launch(t, Config{Etcd: srv.Endpoints(), GeoIP: path}, // GeoIPPoll 0: no polling
		func(a *app) { a.hup = hup })
	t.Cleanup(func() { r.stop(t) })
	waitReady(t, r.a)
	london := func() string { return addrs(ask(t, "udp", r.a.dnsAddr(), "www."+zone, dns.TypeA, londonECS)) }
	if got := london(); got != londonEU {
		t.Fatalf("before: %q", got)
	}
	moved := geotest.Move(rows, netip.MustParsePrefix("81.2.69.0/24"), netip.MustParsePrefix("1.128.0.0/16"))
	if err := (geotest.Options{}).WriteFile(path, moved); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // nothing polls: the answer must not change by itself
	if got := london(); got != londonEU {
		t.Fatalf("answer changed without polling or SIGHUP: %q", got)
	}
	before := reloads(t, r.a, "ok")
	hup <- syscall.SIGHUP
	waitFor(t, 10*time.Second, "a reload counted after SIGHUP", func() bool { return reloads(t, r.a, "ok") == before+1 })
	if _, ok := poll(2*time.Second, func() bool { return london() == londonOC }); !ok {
		t.Error("answers did not follow the new GeoIP database after SIGHUP")
	}
}

// reloads is glb_geoip_reloads_total{result}.
func reloads(t *testing.T, a *app, result string) float64 {
	t.Helper()
	mfs, err := a.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "glb_geoip_reloads_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no glb_geoip_reloads_total{result=%q}", result)
	return 0
}
