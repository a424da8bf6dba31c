package statuspage

import (
	"fmt"
	"math"
)

// The map is equirectangular: x grows with longitude, y with southern
// latitude, mapScale SVG units per degree. It shows 84°N (the top of the
// land data) to 60°S unless a region or prober lies further out: Antarctica
// is a strip of nothing for a load balancer, and the height it frees keeps
// the map and the tables together on one screen.
const (
	mapScale    = 2.0
	mapTop      = 84.0
	mapBottom   = -60.0
	mapRadius   = 7.0  // region circle
	mapFont     = 11.0 // label size in SVG units (about px at 800 px wide)
	mapCharW    = 0.6  // average glyph width in ems, for label boxes
	mapProberSz = 4.0  // half the prober triangle's base: it fits inside a circle
)

// mapView is the map's SVG, ready to render: everything is in SVG units
// except the land path, which stays in degrees under LandTransform so that
// the checked-in path does not depend on the scale chosen here.
type mapView struct {
	W, H          float64
	Radius        float64 // of region circles
	Land          string  // the coastline path, in degrees (see statusassets/README.md)
	LandTransform string  // degrees to SVG units
	Graticule     []mapLine
	Regions       []mapMark
	Probers       []mapMark
}

// mapLine is one graticule line with its label.
type mapLine struct {
	X1, Y1, X2, Y2 float64
	Equator        bool
	Label          string
	LX, LY         float64
}

// mapMark is a region's circle or a prober's triangle, with its label and
// a tooltip (SVG <title>) carrying what did not fit.
type mapMark struct {
	ID, State, Title string
	X, Y             float64
	Points           string // prober triangle
	Label            mapLabel
}

// mapLabel is where a mark's name was placed.
type mapLabel struct {
	X, Y   float64
	Anchor string // SVG text-anchor
}

// labelBox is an axis-aligned rectangle in SVG units, for label placement.
type labelBox struct{ x0, y0, x1, y1 float64 }

// overlap returns the area a and b share.
func (a labelBox) overlap(b labelBox) float64 {
	w := math.Min(a.x1, b.x1) - math.Max(a.x0, b.x0)
	h := math.Min(a.y1, b.y1) - math.Max(a.y0, b.y0)
	if w <= 0 || h <= 0 {
		return 0
	}
	return w * h
}

// buildStatusMap places the regions and probers of the view on the map.
func buildStatusMap(regions []statusRegionView, probers []statusProberView) mapView {
	top, bottom := mapTop, mapBottom
	widen := func(lat float64) { // keep a mark and its label inside
		top, bottom = math.Max(top, math.Min(90, lat+5)), math.Min(bottom, math.Max(-90, lat-5))
	}
	for _, r := range regions {
		widen(r.Lat)
	}
	for _, p := range probers {
		widen(p.Lat)
	}
	m := mapView{W: 360 * mapScale, H: (top - bottom) * mapScale, Radius: mapRadius, Land: statusLand,
		LandTransform: fmt.Sprintf("matrix(%g 0 0 %g %g %g)", mapScale, mapScale, 180*mapScale, top*mapScale)}
	x := func(lon float64) float64 { return svgRound((lon + 180) * mapScale) }
	y := func(lat float64) float64 { return svgRound((top - lat) * mapScale) }

	// A graticule every 30°, labelled along the left and bottom edges.
	for lon := -150.0; lon <= 150; lon += 30 {
		m.Graticule = append(m.Graticule, mapLine{X1: x(lon), Y1: 0, X2: x(lon), Y2: m.H,
			Label: fmtDegrees(lon, "E", "W"), LX: x(lon) + 2, LY: m.H - 3})
	}
	for lat := math.Ceil(bottom/30) * 30; lat <= top; lat += 30 {
		m.Graticule = append(m.Graticule, mapLine{X1: 0, Y1: y(lat), X2: m.W, Y2: y(lat), Equator: lat == 0,
			Label: fmtDegrees(lat, "N", "S"), LX: 3, LY: y(lat) - 2})
	}

	// Marks first, so that labels avoid every circle and triangle.
	var taken []labelBox
	for _, r := range regions {
		mk := mapMark{ID: r.ID, State: r.State, X: x(r.Lon), Y: y(r.Lat),
			Title: fmt.Sprintf("%s: %s, weight %d, %s", r.ID, r.Health, r.Weight, r.Where)}
		m.Regions = append(m.Regions, mk)
		taken = append(taken, labelBox{mk.X - mapRadius, mk.Y - mapRadius, mk.X + mapRadius, mk.Y + mapRadius})
	}
	for _, p := range probers {
		mk := mapMark{ID: p.ID, X: x(p.Lon), Y: y(p.Lat), Title: fmt.Sprintf("prober %s (%s), %s", p.ID, p.Version, p.Where)}
		// Centred on its place and small enough to sit inside the circle
		// of a region there (probers often run next to one), which stays
		// visible as a ring around it.
		s := mapProberSz
		mk.Points = fmt.Sprintf("%g,%g %g,%g %g,%g", mk.X, svgRound(mk.Y-1.15*s), mk.X-s, svgRound(mk.Y+0.58*s), mk.X+s, svgRound(mk.Y+0.58*s))
		m.Probers = append(m.Probers, mk)
		taken = append(taken, labelBox{mk.X - s, mk.Y - s, mk.X + s, mk.Y + s})
	}
	bounds := labelBox{0, 0, m.W, m.H}
	for i := range m.Regions {
		mk := &m.Regions[i]
		mk.Label, taken = placeMapLabel(mk.X, mk.Y, mapRadius, mk.ID, mapFont, taken, bounds)
	}
	for i := range m.Probers {
		mk := &m.Probers[i]
		mk.Label, taken = placeMapLabel(mk.X, mk.Y, mapProberSz, mk.ID, mapFont*0.85, taken, bounds)
	}
	return m
}

// placeMapLabel puts a label beside a mark of radius r at (x, y): right, left,
// above or below, or diagonally, whichever overlaps nothing placed so far
// (the least, if all do). Greedy is enough for a handful of regions, and it
// keeps close pairs such as London and Frankfurt readable.
func placeMapLabel(x, y, r float64, text string, size float64, taken []labelBox, bounds labelBox) (mapLabel, []labelBox) {
	// The page cannot measure text before it is drawn, so the box is an
	// estimate from the glyph count; labels have a halo, so a near miss
	// still reads.
	w, h := float64(len([]rune(text)))*size*mapCharW, size
	gap := r + 3
	type cand struct {
		l mapLabel
		b labelBox
	}
	at := func(lx, ly float64, anchor string) cand {
		x0 := lx
		switch anchor {
		case "end":
			x0 = lx - w
		case "middle":
			x0 = lx - w/2
		}
		return cand{mapLabel{X: lx, Y: ly, Anchor: anchor}, labelBox{x0, ly - h*0.8, x0 + w, ly + h*0.2}}
	}
	cands := []cand{
		at(x+gap, y+h*0.3, "start"),
		at(x-gap, y+h*0.3, "end"),
		at(x, y-gap, "middle"),
		at(x, y+gap+h*0.8, "middle"),
		at(x+gap*0.7, y-gap*0.7, "start"),
		at(x-gap*0.7, y-gap*0.7, "end"),
		at(x+gap*0.7, y+gap*0.7+h*0.6, "start"),
		at(x-gap*0.7, y+gap*0.7+h*0.6, "end"),
	}
	best, bestCost := cands[0], math.Inf(1)
	for _, c := range cands {
		cost := 0.0
		for _, t := range taken {
			cost += c.b.overlap(t)
		}
		// Leaving the map costs the part outside.
		cost += (c.b.x1-c.b.x0)*(c.b.y1-c.b.y0) - c.b.overlap(bounds)
		if cost < bestCost {
			best, bestCost = c, cost
		}
		if cost == 0 {
			break
		}
	}
	best.l.X, best.l.Y = svgRound(best.l.X), svgRound(best.l.Y)
	return best.l, append(taken, best.b)
}

// svgRound rounds an SVG coordinate to 0.1 unit, well below a pixel, to keep the
// page small.
func svgRound(f float64) float64 { return math.Round(f*10) / 10 }

// fmtDegrees labels a graticule line: "30°N", "0°", "120°W".
func fmtDegrees(v float64, pos, neg string) string {
	switch {
	case v > 0:
		return fmt.Sprintf("%g°%s", v, pos)
	case v < 0:
		return fmt.Sprintf("%g°%s", -v, neg)
	}
	return "0°"
}
