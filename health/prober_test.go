package health

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/store/schema"
)

func TestProberVerdicts(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		results    []Result
		wantUp     []bool
		wantPubs   []int // publishes so far, after each result
	}{
		{"first success is up at once", 2, 3, []Result{ok}, []bool{true}, []int{1}},
		{"first failure is down at once", 2, 3, []Result{fail}, []bool{false}, []int{1}},
		{"fall 3 turns down on the third failure", 2, 3,
			[]Result{ok, fail, fail, fail, fail}, []bool{true, true, true, false, false}, []int{1, 1, 1, 2, 2}},
		{"rise 2 turns up on the second success", 2, 3,
			[]Result{fail, ok, ok, ok}, []bool{false, false, true, true}, []int{1, 1, 2, 2}},
		{"a success resets the failure streak", 2, 3,
			[]Result{ok, fail, fail, ok, fail, fail, fail},
			[]bool{true, true, true, true, true, true, false}, []int{1, 1, 1, 1, 1, 1, 2}},
		{"a failure resets the success streak", 2, 1,
			[]Result{fail, ok, fail, ok, ok}, []bool{false, false, false, false, true}, []int{1, 1, 1, 1, 2}},
		{"rise 1 fall 1 follows every result", 1, 1,
			[]Result{ok, fail, ok}, []bool{true, false, true}, []int{1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tgt("eu", "192.0.2.1", time.Second, tc.rise, tc.fall)
			h := startProber(t, time.Hour, a)
			ups, pubs := h.feed(t, a, tc.results...)
			if !slices.Equal(ups, tc.wantUp) {
				t.Errorf("verdicts %v, want %v", ups, tc.wantUp)
			}
			if !slices.Equal(pubs, tc.wantPubs) {
				t.Errorf("publishes %v, want %v", pubs, tc.wantPubs)
			}
			evs := h.pub.all()
			last := evs[len(evs)-1]
			if last.op != "publish" || last.region != "eu" || last.endpoint != "192.0.2.1" || last.rep.Up != tc.wantUp[len(tc.wantUp)-1] {
				t.Errorf("last publish %+v", last)
			}
			if got, want := testutil.ToFloat64(h.m.endpointUp.WithLabelValues("eu", "192.0.2.1")), boolFloat(last.rep.Up); got != want {
				t.Errorf("endpoint_up %v, want %v", got, want)
			}
			nOK := float64(strings.Count(resultString(tc.results), "+"))
			if got := testutil.ToFloat64(h.m.checks.WithLabelValues("eu", "ok")); got != nOK {
				t.Errorf("ok checks %v, want %v", got, nOK)
			}
		})
	}
}

func resultString(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		if r.OK {
			b.WriteByte('+')
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestProberReportContents(t *testing.T) {
	a := tgt("eu", "2001:db8::1", time.Second, 2, 1)
	h := startProber(t, time.Hour, a)
	t0 := h.clock.Now()
	key := "eu/2001:db8::1"

	h.feed(t, a, Result{OK: true, RTT: 10 * time.Millisecond})
	want := schema.HealthReport{Up: true, RTT: schema.Duration(10 * time.Millisecond), Time: t0}
	if got := h.p.Verdicts()[key]; got != want {
		t.Fatalf("after a success: %+v, want %+v", got, want)
	}

	// Down: the error of the failure, and the RTT of the last success.
	h.clock.Advance(time.Second)
	h.feed(t, a, Result{Err: errors.New("status 503, want 200-399")})
	want = schema.HealthReport{Up: false, RTT: schema.Duration(10 * time.Millisecond), Time: t0.Add(time.Second), Error: "status 503, want 200-399"}
	if got := h.p.Verdicts()[key]; got != want {
		t.Fatalf("after a failure: %+v, want %+v", got, want)
	}
	if evs := h.pub.all(); evs[len(evs)-1].rep != want {
		t.Errorf("published %+v, want %+v", evs[len(evs)-1].rep, want)
	}

	// Still down after one success of two: the new RTT, the old error.
	h.clock.Advance(time.Second)
	h.feed(t, a, Result{OK: true, RTT: 20 * time.Millisecond})
	want = schema.HealthReport{Up: false, RTT: schema.Duration(20 * time.Millisecond), Time: t0.Add(2 * time.Second), Error: "status 503, want 200-399"}
	if got := h.p.Verdicts()[key]; got != want {
		t.Fatalf("one success into rise: %+v, want %+v", got, want)
	}

	// Up again: no error.
	h.feed(t, a, Result{OK: true, RTT: 30 * time.Millisecond})
	if got := h.p.Verdicts()[key]; !got.Up || got.Error != "" || got.RTT != schema.Duration(30*time.Millisecond) {
		t.Fatalf("back up: %+v", got)
	}
	for _, ev := range h.pub.all() {
		if err := ev.rep.Validate(); err != nil {
			t.Errorf("published an invalid report %+v: %v", ev.rep, err)
		}
	}
}

func TestErrText(t *testing.T) {
	long := errors.New(strings.Repeat("é", 600)) // 1200 bytes
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, "check failed"},
		{"short", errors.New("status 503, want 200"), "status 503, want 200"},
		{"long is cut on a rune boundary", long, strings.Repeat("é", 510) + "..."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := errText(tc.err)
			if got != tc.want {
				t.Errorf("errText = %q, want %q", got, tc.want)
			}
			if len(got) > schema.MaxErrorBytes || !utf8.ValidString(got) {
				t.Errorf("errText gave %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
		})
	}
}

func TestProberRefresh(t *testing.T) {
	a := tgt("eu", "192.0.2.1", time.Second, 2, 3)
	h := startProber(t, 30*time.Second, a)
	steps := []struct {
		advance  time.Duration
		rtt      time.Duration
		wantPubs int
	}{
		{0, 10 * time.Millisecond, 1},                // first verdict
		{10 * time.Second, 11 * time.Millisecond, 1}, // unchanged, 10s since publish
		{25 * time.Second, 12 * time.Millisecond, 2}, // 35s: refreshed
		{10 * time.Second, 13 * time.Millisecond, 2}, // 10s since the refresh
		{20 * time.Second, 14 * time.Millisecond, 3}, // 30s: refreshed
	}
	for i, s := range steps {
		h.clock.Advance(s.advance)
		_, pubs := h.feed(t, a, Result{OK: true, RTT: s.rtt})
		if pubs[0] != s.wantPubs {
			t.Fatalf("step %d: %d publishes, want %d", i, pubs[0], s.wantPubs)
		}
	}
	last := h.pub.all()[2].rep
	if last.Time != h.clock.Now() || last.RTT != schema.Duration(14*time.Millisecond) {
		t.Errorf("refresh published %+v: want the latest time and RTT", last)
	}
}

func TestProberSetTargets(t *testing.T) {
	a := tgt("eu", "192.0.2.1", 1*time.Second, 1, 1)
	b := tgt("us", "192.0.2.2", 2*time.Second, 1, 1)
	h := startProber(t, time.Hour, a, b)
	h.feed(t, a, ok)
	h.feed(t, b, fail)
	tickA := h.tk.get(t, time.Second)

	// Removing a stops its loop, withdraws its verdict and drops its gauge.
	h.p.SetTargets([]Target{b})
	delete(h.pending, a.Key())
	waitFor(t, "withdraw of a", func() bool { return slices.ContainsFunc(h.pub.all(), isWithdraw("eu")) })
	waitFor(t, "a's ticker to stop", tickA.stopped.Load)
	if _, has := h.p.Verdicts()[a.Key()]; has {
		t.Error("removed target still has a verdict")
	}
	if n := testutil.CollectAndCount(h.m.endpointUp); n != 1 {
		t.Errorf("%d endpoint_up series, want 1", n)
	}
	if got := testutil.ToFloat64(h.m.targets); got != 1 {
		t.Errorf("targets gauge %v, want 1", got)
	}
	// b goes on.
	if ups, _ := h.feed(t, b, ok); !ups[0] {
		t.Error("b not up after a success")
	}

	// A new spec restarts b's loop: a check at once, with the new spec, and
	// no withdraw.
	tickB := h.tk.get(t, 2*time.Second)
	b3 := b
	b3.Check.Interval = schema.Duration(3 * time.Second)
	h.p.SetTargets([]Target{b3})
	delete(h.pending, b.Key())
	c := h.chk.next(t, b.Key())
	if c.t != b3 {
		t.Errorf("restarted loop checks %+v, want %+v", c.t.Check, b3.Check)
	}
	waitFor(t, "b's old ticker to stop", tickB.stopped.Load)
	h.pending[b.Key()] = c
	if slices.ContainsFunc(h.pub.all(), isWithdraw("us")) {
		t.Error("a changed spec withdrew the verdict")
	}

	// Adding a back checks it at once; its publish follows the withdraw.
	h.p.SetTargets([]Target{a, b3})
	h.feed(t, a, ok)
	evs := h.pub.all()
	iw := slices.IndexFunc(evs, isWithdraw("eu"))
	ip := slices.IndexFunc(evs[iw:], func(e pubEvent) bool { return e.op == "publish" && e.region == "eu" })
	if ip < 0 {
		t.Errorf("no publish of a after its withdraw: %+v", evs)
	}
}

func isWithdraw(region string) func(pubEvent) bool {
	return func(e pubEvent) bool { return e.op == "withdraw" && e.region == region }
}

func TestProberSlowTargetDoesNotDelayOthers(t *testing.T) {
	slow := tgt("eu", "192.0.2.1", 1*time.Second, 1, 1)
	fast := tgt("us", "192.0.2.2", 2*time.Second, 1, 1)
	h := startProber(t, time.Hour, slow, fast)
	held := h.call(t, slow) // never answered
	ups, _ := h.feed(t, fast, ok, fail, ok)
	if !slices.Equal(ups, []bool{true, false, true}) {
		t.Errorf("fast target verdicts %v while the slow one hangs", ups)
	}
	h.tk.get(t, time.Second).fire()
	if h.chk.max(slow.Key()) != 1 {
		t.Error("the slow target's checks overlapped")
	}
	_ = held // returns when Close cancels its context
}

// countingChecker sleeps in every check and records the most checks in
// progress at once.
type countingChecker struct {
	active, max, calls atomic.Int32
}

func (c *countingChecker) Check(ctx context.Context, _ Target) Result {
	n := c.active.Add(1)
	defer c.active.Add(-1)
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			break
		}
	}
	c.calls.Add(1)
	select {
	case <-time.After(3 * time.Millisecond):
	case <-ctx.Done():
	}
	return Result{OK: true}
}

// TestProberChecksDoNotOverlap uses a real ticker faster than the checks.
func TestProberChecksDoNotOverlap(t *testing.T) {
	cc := &countingChecker{}
	p := NewProber(ProberConfig{Checker: cc, Publisher: &fakePublisher{}})
	a := tgt("eu", "192.0.2.1", time.Millisecond, 1, 1)
	p.SetTargets([]Target{a})
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	waitFor(t, "20 checks", func() bool { return cc.calls.Load() >= 20 })
	p.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m := cc.max.Load(); m != 1 {
		t.Errorf("%d checks of one target at once, want 1", m)
	}
}

func TestProberPanicRecovered(t *testing.T) {
	a := tgt("eu", "192.0.2.1", time.Second, 1, 1)
	h := startProber(t, time.Hour, a)
	h.call(t, a).reply <- func() Result { panic("checker bug") }
	h.tk.get(t, time.Second).fire()
	ups, _ := h.feed(t, a, ok)
	if !ups[0] {
		t.Error("loop did not go on after the panic")
	}
	if got := testutil.ToFloat64(h.m.panics); got != 1 {
		t.Errorf("panics_total %v, want 1", got)
	}
	if h.logs.count("level=ERROR", "probe loop panicked", "checker bug", "stack=") != 1 {
		t.Errorf("panic not logged with its stack:\n%s", h.logs.b.String())
	}
}

func TestProberPublishErrors(t *testing.T) {
	a := tgt("eu", "192.0.2.1", time.Second, 1, 1)
	h := startProber(t, time.Hour, a)
	h.pub.setErr(errors.New("etcd: no leader"))
	h.feed(t, a, ok, ok, fail)
	if got := testutil.ToFloat64(h.m.publishErrors); got != 3 {
		t.Errorf("publish_errors_total %v, want 3 (every due verdict retried)", got)
	}
	if n := h.logs.count("level=WARN", "publish verdict"); n != 1 {
		t.Errorf("%d publish warnings, want 1 while failing", n)
	}
	h.pub.setErr(nil)
	_, pubs := h.feed(t, a, fail)
	if pubs[0] != 1 || h.pub.all()[0].rep.Up {
		t.Errorf("after recovery: %+v", h.pub.all())
	}
	if n := h.logs.count("level=INFO", "publishing verdicts again"); n != 1 {
		t.Errorf("%d recovery lines, want 1", n)
	}
}

func TestProberLogsOnlyChanges(t *testing.T) {
	a := tgt("eu", "192.0.2.1", time.Second, 1, 2)
	h := startProber(t, time.Hour, a)
	h.feed(t, a, ok, ok, fail, fail, fail, ok, ok)
	if n := h.logs.count("level=DEBUG", "endpoint verdict changed", "up=true"); n != 1 {
		t.Errorf("%d Debug lines for the first verdict (up), want 1", n)
	}
	if n := h.logs.count("level=INFO"); n != 2 {
		t.Errorf("%d Info lines, want 2 (down, up):\n%s", n, h.logs.b.String())
	}
	want := `level=INFO msg="endpoint verdict changed" component=prober prober=p1 region=eu endpoint=192.0.2.1 up=false err="connect 192.0.2.1:9: connection refused"`
	if h.logs.count(want) != 1 {
		t.Errorf("no line %s in:\n%s", want, h.logs.b.String())
	}
}

func TestProberRunClose(t *testing.T) {
	t.Run("close stops run and loops", func(t *testing.T) {
		a := tgt("eu", "192.0.2.1", time.Second, 1, 1)
		h := startProber(t, time.Hour, a)
		h.call(t, a) // a loop is in a check; Cleanup's Close must still return
		if err := h.p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
			t.Errorf("second Run: %v", err)
		}
	})
	t.Run("run returns when ctx ends", func(t *testing.T) {
		p := NewProber(ProberConfig{Checker: newFakeChecker(), Publisher: &fakePublisher{}})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := p.Run(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("close before run", func(t *testing.T) {
		p := NewProber(ProberConfig{Checker: newFakeChecker(), Publisher: &fakePublisher{}})
		p.Close()
		if err := p.Run(context.Background()); err != nil {
			t.Fatalf("Run after Close: %v", err)
		}
	})
}

func TestHysteresis(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		results    string // + success, - failure
		want       string // verdict after each: U or D
		changes    int
	}{
		{"first result decides", 5, 5, "-", "D", 1},
		{"fall 3", 2, 3, "+---", "UUUD", 2},
		{"rise 2", 2, 3, "-++", "DDU", 2},
		{"zero rise and fall act as 1", 0, 0, "+-+", "UDU", 3},
		{"flapping never reaches fall", 1, 2, "+-+-+-", "UUUUUU", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h hysteresis
			var got strings.Builder
			changes := 0
			for _, r := range tc.results {
				if h.observe(r == '+', tc.rise, tc.fall) {
					changes++
				}
				got.WriteByte("DU"[btoi(h.up)])
			}
			if got.String() != tc.want || changes != tc.changes {
				t.Errorf("verdicts %s with %d changes, want %s with %d", got.String(), changes, tc.want, tc.changes)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
