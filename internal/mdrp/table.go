package mdrp

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Table is the metrics of one algorithm, one instance a row, for the bench command. Its columns:
// orders in the instance, % delivered, click-to-door (c2d) mean, p50 and p90, the mean lower
// bound of click-to-door, then the means of the overage over the target, ready-to-door (r2d)
// and ready-to-pickup (r2p), all in minutes; pay per order delivered, % of couriers on the
// guaranteed minimum, mean courier utilisation %, mean orders per courier hour and mean bundle
// size. A last row gives each column's mean over the instances, every instance weighing the
// same.
type Table []Metrics

// column is one column of a Table: its header and a row's value, formatted with format.
type column struct {
	head   string
	format string
	value  func(Metrics) float64
}

var columns = []column{
	{"orders", "%.0f", func(m Metrics) float64 { return float64(m.Orders) }},
	{"delivered %", "%.1f", func(m Metrics) float64 { return 100 * m.DeliveredFraction }},
	{"c2d mean", "%.1f", func(m Metrics) float64 { return m.ClickToDoor.Mean }},
	{"c2d p50", "%.1f", func(m Metrics) float64 { return m.ClickToDoor.P50 }},
	{"c2d p90", "%.1f", func(m Metrics) float64 { return m.ClickToDoor.P90 }},
	{"bound", "%.1f", func(m Metrics) float64 { return m.LowerBound }},
	{"overage", "%.1f", func(m Metrics) float64 { return m.Overage.Mean }},
	{"r2d", "%.1f", func(m Metrics) float64 { return m.ReadyToDoor.Mean }},
	{"r2p", "%.1f", func(m Metrics) float64 { return m.ReadyToPickup.Mean }},
	{"pay/order", "%.2f", func(m Metrics) float64 { return m.PayPerOrder }},
	{"guaranteed %", "%.1f", func(m Metrics) float64 { return 100 * m.GuaranteedFraction }},
	{"util %", "%.1f", func(m Metrics) float64 { return 100 * m.Utilisation }},
	{"orders/h", "%.2f", func(m Metrics) float64 { return m.OrdersPerHour }},
	{"bundle", "%.2f", func(m Metrics) float64 { return m.BundleSize }},
}

// cells lays the table out: the header, a row per instance and the row of means.
func (t Table) cells() [][]string {
	head := []string{"instance"}
	for _, c := range columns {
		head = append(head, c.head)
	}
	out := [][]string{head}
	sums := make([]float64, len(columns))
	for _, m := range t {
		row := []string{m.Instance}
		for i, c := range columns {
			v := c.value(m)
			sums[i] += v
			row = append(row, fmt.Sprintf(c.format, v))
		}
		out = append(out, row)
	}
	if len(t) > 0 {
		row := []string{fmt.Sprintf("mean of %d", len(t))}
		for i, c := range columns {
			row = append(row, fmt.Sprintf(c.format, sums[i]/float64(len(t))))
		}
		out = append(out, row)
	}
	return out
}

// WriteText writes the table as plain text: names left-aligned, numbers right-aligned, the
// columns two spaces apart.
func (t Table) WriteText(w io.Writer) error {
	rows := t.cells()
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s", widths[0], r[0])
		for i, c := range r[1:] {
			fmt.Fprintf(&b, "  %*s", widths[i+1], c)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the table as a Markdown table, numbers right-aligned and the mean row
// in bold.
func (t Table) WriteMarkdown(w io.Writer) error {
	rows := t.cells()
	var b strings.Builder
	for i, r := range rows {
		cells := make([]string, len(r))
		for j, c := range r {
			c = strings.ReplaceAll(c, "|", `\|`)
			if i == len(rows)-1 && i > 0 {
				c = "**" + c + "**"
			}
			cells[j] = c
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		if i == 0 {
			b.WriteString("| --- |" + strings.Repeat(" ---: |", len(r)-1) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
