package bench

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"
)

// series is one backend's latencies in the plot.
type series struct {
	Name    string
	Samples []time.Duration
}

// palette gives each backend its colour, in order.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// Plot geometry, in SVG user units.
const (
	plotW, areaH              = 860, 380 // the whole width; the height of the plotting area
	marginL, marginR, marginB = 70, 30, 60
	titleH, legendLineH       = 40, 18
	bucketsPerDecade          = 10
)

func writeSVGFile(path string, results []Result) error {
	ss := make([]series, 0, len(results))
	for _, r := range results {
		ss = append(ss, series{Name: r.Backend, Samples: r.samples})
	}
	f, err := os.Create(path) // #nosec G304 -- a file the benchmark writes or reads under its own output directory
	if err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	if err := writeSVG(f, "Latency per request (log scale), share of requests per bucket", ss); err != nil {
		f.Close()
		return fmt.Errorf("write plot %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write plot %s: %w", path, err)
	}
	return nil
}

// writeSVG draws the latency histograms of ss on one log-scale axis, each as the share of its
// own samples per bucket, so runs of different lengths compare; one colour per series, with a
// legend. Series without samples appear only in the legend.
func writeSVG(w io.Writer, title string, ss []series) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	// The legend sits between the title and the plot, a line per series.
	top := titleH + legendLineH*len(ss) + 10
	plotH := top + areaH + marginB
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotW, plotH, plotW, plotH)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%d" y="24" font-size="15">%s</text>`+"\n", marginL, esc(title))

	// The axis spans the series from their smallest non-zero sample (pgbench logs 0µs for
	// about 1% of transactions: its clock is refreshed lazily) to their largest; zeros land in
	// the first bucket.
	var lo, hi time.Duration
	seen := false
	for _, s := range ss {
		if len(s.Samples) == 0 {
			continue
		}
		sorted := slices.Sorted(slices.Values(s.Samples))
		i, _ := slices.BinarySearch(sorted, 1)
		l, h := sorted[min(i, len(sorted)-1)], sorted[len(sorted)-1]
		if !seen || l < lo {
			lo = l
		}
		if !seen || h > hi {
			hi = h
		}
		seen = true
	}
	x0, x1 := float64(marginL), float64(plotW-marginR)
	y0, y1 := float64(top+areaH), float64(top)
	p(`<g stroke="#333" fill="none"><line x1="%g" y1="%g" x2="%g" y2="%g"/><line x1="%g" y1="%g" x2="%g" y2="%g"/></g>`+"\n",
		x0, y0, x1, y0, x0, y0, x0, y1)
	if !seen {
		p(`<text x="%g" y="%g" text-anchor="middle">no samples</text>`+"\n", (x0+x1)/2, (y0+y1)/2)
		writeLegend(p, ss)
		p("</svg>\n")
		return bw.Flush()
	}

	edges := logEdges(lo, hi, bucketsPerDecade)
	logLo, logHi := math.Log10(float64(edges[0])), math.Log10(float64(edges[len(edges)-1]))
	xOf := func(d time.Duration) float64 {
		return x0 + (math.Log10(float64(d))-logLo)/(logHi-logLo)*(x1-x0)
	}
	shares := make([][]float64, len(ss))
	peak := 0.0
	for i, s := range ss {
		if len(s.Samples) == 0 {
			continue
		}
		counts := histogram(s.Samples, edges)
		shares[i] = make([]float64, len(counts))
		for j, c := range counts {
			shares[i][j] = float64(c) / float64(len(s.Samples))
			peak = max(peak, shares[i][j])
		}
	}
	peak = niceCeil(peak)
	yOf := func(share float64) float64 { return y0 - share/peak*(y0-y1) }

	// Grid and ticks: x at each power of ten, y at fifths of the peak.
	p(`<g stroke="#ddd">`)
	for i := 0; i < len(edges); i += bucketsPerDecade {
		x := xOf(edges[i])
		p(`<line x1="%.1f" y1="%g" x2="%.1f" y2="%g"/>`, x, y0, x, y1)
	}
	for k := 1; k <= 5; k++ {
		y := yOf(peak * float64(k) / 5)
		p(`<line x1="%g" y1="%.1f" x2="%g" y2="%.1f"/>`, x0, y, x1, y)
	}
	p("</g>\n")
	for i := 0; i < len(edges); i += bucketsPerDecade {
		p(`<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", xOf(edges[i]), y0+18, esc(fmtTick(edges[i])))
	}
	for k := 0; k <= 5; k++ {
		share := peak * float64(k) / 5
		p(`<text x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", x0-6, yOf(share), fmtShare(share))
	}
	p(`<text x="%g" y="%g" text-anchor="middle">latency</text>`+"\n", (x0+x1)/2, y0+40)
	p(`<text x="18" y="%g" text-anchor="middle" transform="rotate(-90 18 %g)">share of requests</text>`+"\n", (y0+y1)/2, (y0+y1)/2)

	for i, sh := range shares {
		if sh == nil {
			continue
		}
		colour := palette[i%len(palette)]
		var d strings.Builder
		fmt.Fprintf(&d, "M%.1f %.1f", xOf(edges[0]), y0)
		for j, v := range sh {
			fmt.Fprintf(&d, " L%.1f %.1f L%.1f %.1f", xOf(edges[j]), yOf(v), xOf(edges[j+1]), yOf(v))
		}
		fmt.Fprintf(&d, " L%.1f %.1f Z", xOf(edges[len(edges)-1]), y0)
		p(`<path class="series" d="%s" fill="%s" fill-opacity="0.15" stroke="%s" stroke-width="1.5"/>`+"\n", d.String(), colour, colour)
	}
	writeLegend(p, ss)
	p("</svg>\n")
	return bw.Flush()
}

// writeLegend lists every series with its colour, its sample count and median, under the title.
func writeLegend(p func(string, ...any), ss []series) {
	x := float64(marginL)
	for i, s := range ss {
		y := float64(titleH + 8 + i*legendLineH)
		colour := palette[i%len(palette)]
		label := fmt.Sprintf("%s: %d requests", s.Name, len(s.Samples))
		if len(s.Samples) > 0 {
			label += ", p50 " + ms(percentile(s.Samples, 50))
		}
		p(`<rect x="%g" y="%g" width="12" height="12" fill="%s"/><text class="legend" x="%g" y="%g">%s</text>`+"\n",
			x, y-10, colour, x+18, y, esc(label))
	}
}

// niceCeil rounds a share up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*mag*(1+1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// fmtTick names a power-of-ten duration: 1µs, 10µs, ..., 1ms, ..., 1s, 10s.
func fmtTick(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%gs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%gms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%gµs", float64(d)/float64(time.Microsecond))
	}
}

func fmtShare(v float64) string {
	return fmt.Sprintf("%g%%", math.Round(v*1000)/10)
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
