package mdrp

import (
	"bufio"
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
)

// ChartRow is one instance of Chart.
type ChartRow struct {
	Instance   string
	LowerBound float64 // mean lower bound of click-to-door, minutes (Metrics.LowerBound)
	// ClickToDoor is the mean click-to-door by algorithm name, minutes; an algorithm missing
	// from a row (or a value that is not finite) leaves a gap in its line.
	ClickToDoor map[string]float64
}

// palette gives each algorithm its colour, in name order.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// Chart geometry, in SVG user units.
const (
	chartStep             = 12 // per instance along the x axis
	chartMinW, chartAreaH = 600, 400
	chartLeft, chartRight = 70, 30
	chartTop              = 76  // title and legend above the plotting area
	chartCharW            = 5.5 // width of a character of an instance name, font-size 9
)

// Chart draws, for each instance, the mean click-to-door of each algorithm (a coloured line with
// a dot per instance, hovering shows the value) against the lower bound (a dashed black line),
// the instances along the x axis sorted by lower bound, as a self-contained SVG document.
func Chart(w io.Writer, rows []ChartRow) error {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b ChartRow) int {
		return cmp.Or(cmp.Compare(a.LowerBound, b.LowerBound), strings.Compare(a.Instance, b.Instance))
	})
	names := map[string]bool{}
	top := 0.0
	longest := 0
	for _, r := range rows {
		for name, v := range r.ClickToDoor {
			names[name] = true
			if finite(v) {
				top = max(top, v)
			}
		}
		if finite(r.LowerBound) {
			top = max(top, r.LowerBound)
		}
		longest = max(longest, len(r.Instance))
	}
	algos := slices.Sorted(maps.Keys(names))
	tick := tickStep(top)
	yMax := max(tick, math.Ceil(top/tick)*tick)

	plotW := max(chartMinW, chartStep*len(rows))
	width := chartLeft + plotW + chartRight
	bottom := chartTop + chartAreaH
	height := bottom + 16 + int(chartCharW*float64(longest)) + 36
	x := func(i int) float64 { return chartLeft + chartStep*(float64(i)+0.5) }
	y := func(v float64) float64 { return float64(bottom) - v/yMax*chartAreaH }

	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	p(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%d" y="24" font-size="16">Mean click-to-door per instance against its lower bound</text>`+"\n", chartLeft)

	// Legend, one line under the title.
	lx := float64(chartLeft)
	legend := func(label, colour, dash string) {
		p(`<line x1="%g" y1="44" x2="%g" y2="44" stroke="%s" stroke-width="2"%s/>`, lx, lx+24, colour, dash)
		p(`<text x="%g" y="48">%s</text>`+"\n", lx+30, esc(label))
		lx += 30 + 7*float64(len(label)) + 24
	}
	legend("lower bound", "black", ` stroke-dasharray="6 3"`)
	for i, a := range algos {
		legend(a, palette[i%len(palette)], "")
	}

	// Grid and y axis.
	for v := 0.0; v <= yMax+tick/2; v += tick {
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, chartLeft, y(v), chartLeft+plotW, y(v))
		p(`<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", chartLeft-6, y(v)+4, v)
	}
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", chartLeft, chartTop, chartLeft, bottom)
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", chartLeft, bottom, chartLeft+plotW, bottom)
	p(`<text transform="translate(18 %d) rotate(-90)" text-anchor="middle">mean click-to-door (minutes)</text>`+"\n",
		chartTop+chartAreaH/2)

	// Instance names under the x axis, then its label.
	for i, r := range rows {
		p(`<text transform="translate(%g %d) rotate(-90)" text-anchor="end" font-size="9">%s</text>`+"\n",
			x(i)+3, bottom+6, esc(r.Instance))
	}
	p(`<text x="%d" y="%d" text-anchor="middle">instance, sorted by lower bound (%d instances)</text>`+"\n",
		chartLeft+plotW/2, height-12, len(rows))

	// A line per algorithm with its dots, then the lower bound on top.
	line := func(value func(ChartRow) (float64, bool), stroke string) {
		var d strings.Builder
		move := "M"
		for i, r := range rows {
			v, ok := value(r)
			if !ok {
				move = "M"
				continue
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", move, x(i), y(v))
			move = "L"
		}
		if d.Len() > 0 {
			p(`<path d="%s" fill="none" %s/>`+"\n", strings.TrimSpace(d.String()), stroke)
		}
	}
	for i, a := range algos {
		colour := palette[i%len(palette)]
		value := func(r ChartRow) (float64, bool) {
			v, ok := r.ClickToDoor[a]
			return v, ok && finite(v)
		}
		line(value, fmt.Sprintf(`stroke="%s" stroke-width="1.5"`, colour))
		for j, r := range rows {
			if v, ok := value(r); ok {
				p(`<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s %s: %.1f min (bound %.1f)</title></circle>`+"\n",
					x(j), y(v), colour, esc(r.Instance), esc(a), v, r.LowerBound)
			}
		}
	}
	line(func(r ChartRow) (float64, bool) { return r.LowerBound, finite(r.LowerBound) },
		`stroke="black" stroke-width="2" stroke-dasharray="6 3"`)
	p("</svg>\n")
	return bw.Flush()
}

// tickStep is 1, 2 or 5 times a power of ten, giving at most 10 ticks up to top.
func tickStep(top float64) float64 {
	if !(top > 0) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(top/10)))
	for _, m := range []float64{1, 2, 5, 10} {
		if top/(m*mag) <= 10 {
			return m * mag
		}
	}
	return 10 * mag
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
