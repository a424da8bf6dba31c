package statuspage

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/glb-dns/glb/server"
)

// The answer chart: one column per sampled bucket, each stacked to 100 % by
// region (the share), and below it the same buckets' answers per second (the
// volume, which the share hides). The time axis spans the samples there are,
// from chartMinSpan up to the 15-minute window, so that a freshly started
// glbd shows readable bars rather than slivers at the right edge.
const (
	chartW        = 560.0
	chartH        = 196.0
	chartLeft     = 40.0
	chartRight    = 6.0
	chartShareTop = 6.0
	chartShareH   = 110.0
	chartVolTop   = 130.0
	chartVolH     = 36.0
	chartAxisY    = 184.0
	chartMinute   = time.Minute
	chartMinSpan  = 2 * time.Minute
)

// chartPalette tells regions apart in the chart (Tableau 10, which stays
// distinguishable for common colour-vision deficiencies). It is kept apart
// from the green/red/grey of health so that a colour never means both.
var chartPalette = []string{"#4e79a7", "#f28e2b", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#ff9da7", "#59a14f", "#e15759", "#bab0ac"}

// chartView is the answer chart's SVG and its legend, ready to render.
type chartView struct {
	W, H       float64
	X0, X1     float64 // plot edges
	ShareTop   float64
	ShareBot   float64
	VolTop     float64
	VolBot     float64
	AxisY      float64
	Grid       []chartGrid
	Ticks      []chartTick
	Bars       []chartBar
	VolMax     string // the volume strip's full scale
	Legend     []chartLegendRow
	Total      int64
	Buckets    int
	Empty      bool
	Span       string // what the time axis covers
	BucketSize string
}

// chartGrid is a horizontal line of the share plot (0, 50, 100 %).
type chartGrid struct {
	Y     float64
	Label string
}

// chartTick is a label of the time axis.
type chartTick struct {
	X      float64
	Label  string
	Anchor string // SVG text-anchor: the end ticks stay inside the chart
}

// chartBar is one bucket: its stacked shares, its volume bar, and a
// tooltip with the numbers.
type chartBar struct {
	X, W       float64
	VolY, VolH float64
	Title      string
	Segs       []chartSeg
}

// chartSeg is one region's part of a bar.
type chartSeg struct {
	Y, H  float64
	Color string
}

// chartLegendRow is one region of the legend table.
type chartLegendRow struct {
	Region string
	Color  string
	Minute string // share of the last minute's answers, or "–"
	Window string // share of the window's answers
	Count  int64
}

// chartColors gives every region, configured or seen in the samples, a
// stable colour: by its place in the sorted ids.
func chartColors(st *server.Status, buckets []answerBucket) map[string]string {
	ids := map[string]bool{}
	if st != nil {
		for _, r := range st.Regions {
			ids[r.ID] = true
		}
	}
	for _, id := range answerRegions(buckets) {
		ids[id] = true
	}
	out := map[string]string{}
	for i, id := range slices.Sorted(maps.Keys(ids)) {
		out[id] = chartPalette[i%len(chartPalette)]
	}
	return out
}

// buildAnswerChart lays out the buckets of the window ending at now.
func buildAnswerChart(buckets []answerBucket, colors map[string]string, now time.Time) chartView {
	c := chartView{W: chartW, H: chartH, X0: chartLeft, X1: chartW - chartRight, ShareTop: chartShareTop, ShareBot: chartShareTop + chartShareH,
		VolTop: chartVolTop, VolBot: chartVolTop + chartVolH, AxisY: chartAxisY, Buckets: len(buckets),
		BucketSize: fmt.Sprintf("%.0f s", answerSampleInterval.Seconds())}
	span := answerWindow
	if len(buckets) > 0 {
		span = min(answerWindow, max(chartMinSpan, now.Sub(buckets[0].Start).Truncate(time.Minute)+time.Minute))
	}
	c.Span = fmt.Sprintf("%.0f min", span.Minutes())
	from := now.Add(-span)
	x := func(t time.Time) float64 {
		return svgRound(c.X0 + (c.X1-c.X0)*float64(t.Sub(from))/float64(span))
	}
	for _, p := range []float64{0, 0.5, 1} {
		c.Grid = append(c.Grid, chartGrid{Y: chartShareTop + chartShareH*(1-p), Label: fmt.Sprintf("%.0f%%", 100*p)})
	}
	step := time.Minute
	if span > 5*time.Minute {
		step = 5 * time.Minute
	}
	for d := span; d >= 0; d -= step {
		tk := chartTick{X: x(now.Add(-d)), Label: fmt.Sprintf("−%.0f min", d.Minutes()), Anchor: "middle"}
		switch d {
		case span:
			tk.Anchor = "start"
		case 0:
			tk.Label, tk.Anchor = "now", "end"
		}
		c.Ticks = append(c.Ticks, tk)
	}

	var maxRate float64
	for _, b := range buckets {
		maxRate = max(maxRate, bucketRate(b))
	}
	window, minute := map[string]int64{}, map[string]int64{}
	var minuteTotal int64
	for _, b := range buckets {
		total := b.total()
		c.Total += total
		for r, n := range b.Answers {
			window[r] += n
			if b.End.After(now.Add(-chartMinute)) {
				minute[r] += n
				minuteTotal += n
			}
		}
		if total == 0 {
			continue
		}
		x0, x1 := x(b.Start), x(b.End)
		bar := chartBar{X: x0 + 0.5, W: svgRound(max(x1-x0-1, 1))}
		// At least 1 unit high, so a quiet bucket still shows it had answers.
		bar.VolH = svgRound(max(chartVolH*bucketRate(b)/maxRate, 1))
		bar.VolY = chartVolTop + chartVolH - bar.VolH
		// Stack in sorted region order, so colours keep their place.
		// Segment edges are rounded from the running sum, so they meet.
		var cum int64
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(b.Answers)) {
			n := b.Answers[r]
			y0 := svgRound(chartShareTop + chartShareH*float64(cum)/float64(total))
			cum += n
			y1 := svgRound(chartShareTop + chartShareH*float64(cum)/float64(total))
			bar.Segs = append(bar.Segs, chartSeg{Y: y0, H: svgRound(y1 - y0), Color: colors[r]})
			parts = append(parts, fmt.Sprintf("%s %.0f%%", r, 100*float64(n)/float64(total)))
		}
		bar.Title = fmt.Sprintf("%s–%s UTC: %d answers (%.1f/s); %s", b.Start.UTC().Format("15:04:05"), b.End.UTC().Format("15:04:05"),
			total, bucketRate(b), strings.Join(parts, ", "))
		c.Bars = append(c.Bars, bar)
	}
	c.Empty = c.Total == 0
	c.VolMax = fmt.Sprintf("%.1f/s", maxRate)

	for _, r := range answerRegions(buckets) {
		row := chartLegendRow{Region: r, Color: colors[r], Count: window[r], Minute: "–",
			Window: fmt.Sprintf("%.0f%%", 100*float64(window[r])/float64(max(c.Total, 1)))}
		if minuteTotal > 0 {
			row.Minute = fmt.Sprintf("%.0f%%", 100*float64(minute[r])/float64(minuteTotal))
		}
		c.Legend = append(c.Legend, row)
	}
	// Biggest share first: the legend answers "where does traffic go".
	slices.SortStableFunc(c.Legend, func(a, b chartLegendRow) int { return cmp.Compare(b.Count, a.Count) })
	return c
}

// bucketRate returns a bucket's answers per second.
func bucketRate(b answerBucket) float64 {
	d := b.End.Sub(b.Start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(b.total()) / d
}
