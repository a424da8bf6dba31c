// Package statuspage is glbd's status page at / and its data at
// /status.json: what the server answers from (zones, regions, health per
// endpoint and prober, rejected keys) and the share of answers per region
// over the last minutes, sampled by the page's own Run.
package statuspage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/glb-dns/glb/server"
)

// The page is rendered by html/template alone, so every string that comes
// from etcd (names, reasons, prober errors) is escaped in one place. The
// script only re-fetches the page and swaps its <main>; it never builds
// markup from data. CSS and JS are embedded and inlined, so the page needs
// nothing but glbd itself (air-gapped consoles, no CDN).
//
//go:embed statusassets/status.html statusassets/status.css statusassets/status.js statusassets/land.txt
var statusAssets embed.FS

var (
	statusTmpl = template.Must(template.ParseFS(statusAssets, "statusassets/status.html"))
	statusCSS  = statusAsset("statusassets/status.css")
	statusJS   = statusAsset("statusassets/status.js")
	statusLand = strings.TrimSpace(statusAsset("statusassets/land.txt"))
	// statusCSP allows exactly the inline style and script above (by hash),
	// requests to glbd itself, and nothing else: a name from etcd that got
	// past escaping still could not run or load anything.
	statusCSP = "default-src 'none'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
		"style-src '" + statusCSPHash(statusCSS) + "'; script-src '" + statusCSPHash(statusJS) + "'"
)

func statusAsset(name string) string {
	b, err := statusAssets.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	return string(b)
}

func statusCSPHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Answer sampling: glb_dns_answers_total is read every answerSampleInterval
// and the per-region deltas are kept for answerWindow, which bounds the ring
// to answerWindow/answerSampleInterval buckets.
const (
	answerSampleInterval = 10 * time.Second
	answerWindow         = 15 * time.Minute
	answerRingSize       = int(answerWindow / answerSampleInterval)
)

// Page serves the status page and /status.json, and owns the sampler of
// answer counts that feeds the answer-share chart.
type Page struct {
	h    *server.Handler
	opts Options
	now  func() time.Time
	// ticker returns the sampling ticks and their stop function; tests
	// replace it to drive Run without waiting.
	ticker func(time.Duration) (<-chan time.Time, func())

	mu   sync.Mutex
	ring answerRing
}

// Options are what the page shows besides the handler's status.
type Options struct {
	// Instance names this glbd in the header and in /status.json, so that
	// pages of several instances side by side can be told apart.
	Instance string
	// Version is glbd's version, shown the same way.
	Version string
	// Now is the clock for ages and samples; nil means time.Now.
	Now func() time.Time
}

// Routes registers the status page ("GET /{$}" and "GET /status.json") on
// mux. The answer-share chart stays empty until the returned page's Run is
// started.
func Routes(mux *http.ServeMux, h *server.Handler, opts Options) *Page {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	p := &Page{h: h, opts: opts, now: now, ticker: func(d time.Duration) (<-chan time.Time, func()) {
		t := time.NewTicker(d)
		return t.C, t.Stop
	}}
	mux.HandleFunc("GET /{$}", p.serveHTML)
	mux.HandleFunc("GET /status.json", p.serveJSON)
	return p
}

// Run samples glb_dns_answers_total from the registry every 10s into a
// bounded ring (the last 15 minutes) for the answer-share chart; it returns
// nil when ctx is done. A failed or panicking sample is shown on the page
// instead of ending Run: the chart must never take DNS down with it.
func (p *Page) Run(ctx context.Context) error {
	tick, stop := p.ticker(answerSampleInterval)
	defer stop()
	p.sample()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			p.sample()
		}
	}
}

// sample takes one reading of the answer counters into the ring.
func (p *Page) sample() {
	now := p.now()
	counts, err := p.gatherAnswers()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.ring.fail(now, err)
		return
	}
	p.ring.add(now, counts)
}

// gatherAnswers reads the answers per region from the handler's own
// totals. Gathering glb_dns_answers_total from the registry would read every
// name x region series, which with thousands of names costs seconds of CPU
// and garbage every sample; a panic becomes an error.
func (p *Page) gatherAnswers() (counts map[string]uint64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read answer totals: panic: %v", r)
		}
	}()
	return p.h.AnswersByRegion(), nil
}

func (p *Page) serveJSON(w http.ResponseWriter, _ *http.Request) {
	now := p.now()
	buckets, sampleErr := p.snapshot(now)
	doc := statusDoc{Instance: p.opts.Instance, Version: p.opts.Version, Now: now, Status: statusOf(p.h.Status()),
		Answers: answerSeriesDoc{
			IntervalSeconds: answerSampleInterval.Seconds(), WindowSeconds: answerWindow.Seconds(),
			Regions: answerRegions(buckets), Buckets: bucketsOf(buckets), Error: sampleErr,
		}}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		http.Error(w, "encode status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
}

func (p *Page) serveHTML(w http.ResponseWriter, _ *http.Request) {
	now := p.now()
	buckets, sampleErr := p.snapshot(now)
	v := buildStatusView(p.h.Status(), buckets, now)
	v.Instance, v.Version, v.SampleError = p.opts.Instance, p.opts.Version, sampleErr
	var buf bytes.Buffer
	if err := statusTmpl.Execute(&buf, v); err != nil {
		http.Error(w, "render status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", statusCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	_, _ = buf.WriteTo(w)
}

// snapshot copies the buckets inside the window ending at now, so that a
// sampler that stopped does not leave an old chart on the page.
func (p *Page) snapshot(now time.Time) ([]answerBucket, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ring.within(now), p.ring.err
}
