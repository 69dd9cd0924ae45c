package mdrp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

func TestChart(t *testing.T) {
	t.Parallel()
	rows := []ChartRow{
		{Instance: "b<&>", LowerBound: 31, ClickToDoor: map[string]float64{"greedy": 45.5, "optimal": 38}},
		{Instance: "a", LowerBound: 28.5, ClickToDoor: map[string]float64{"greedy": 40}},
		{Instance: "c", LowerBound: 33, ClickToDoor: map[string]float64{"greedy": math.NaN(), "optimal": 36}},
	}
	var buf bytes.Buffer
	if err := Chart(&buf, rows); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	texts := parseSVG(t, svg)
	for _, want := range []string{
		"Mean click-to-door per instance against its lower bound", "mean click-to-door (minutes)",
		"instance, sorted by lower bound (3 instances)", "lower bound", "greedy", "optimal", "b<&>",
	} {
		if !texts[want] {
			t.Errorf("no text %q in the chart", want)
		}
	}
	// Sorted by lower bound: a, b<&>, c left to right.
	if a, b, c := strings.Index(svg, ">a<"), strings.Index(svg, ">b&lt;&amp;&gt;<"), strings.Index(svg, ">c<"); !(a < b && b < c) {
		t.Errorf("instance names at %d, %d, %d, want a, b<&>, c in that order", a, b, c)
	}
	// 3 greedy values, one not finite; 2 optimal ones.
	if got := strings.Count(svg, "<circle"); got != 4 {
		t.Errorf("%d dots, want 4", got)
	}
}

func TestChartEmpty(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := Chart(&buf, nil); err != nil {
		t.Fatal(err)
	}
	parseSVG(t, buf.String())
}

// parseSVG checks that svg is well-formed XML with an svg root and returns its text nodes.
func parseSVG(tb testing.TB, svg string) map[string]bool {
	tb.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	texts := map[string]bool{}
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("chart is not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			texts[strings.TrimSpace(string(tok))] = true
		}
	}
	if root != "svg" {
		tb.Fatalf("root element %q, want svg", root)
	}
	return texts
}
