package mdrp

import (
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	t.Parallel()
	a := Measure(tinyInstance(), tinySolution())
	b := a
	b.Instance, b.ClickToDoor.Mean = "other|name", 30.25
	table := Table{a, b}

	var text strings.Builder
	if err := table.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want header, 2 instances, mean:\n%s", len(lines), text.String())
	}
	for _, l := range lines[1:] {
		if len(l) != len(lines[0]) {
			t.Errorf("line %q is %d wide, the header %d: columns not aligned", l, len(l), len(lines[0]))
		}
	}
	for i, want := range [][]string{
		{"instance", "delivered %", "c2d mean", "bound", "pay/order", "bundle"},
		{"tiny", "80.0", "22.8", "18.4", "18.75", "1.33"},
		{"other|name", "30.2"},
		{"mean of 2", "26.5"}, // (22.75 + 30.25) / 2
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q has no %q", i, lines[i], w)
			}
		}
	}

	var md strings.Builder
	if err := table.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	mdLines := strings.Split(strings.TrimSuffix(md.String(), "\n"), "\n")
	if len(mdLines) != 5 {
		t.Fatalf("%d markdown lines, want header, rule, 2 instances, mean:\n%s", len(mdLines), md.String())
	}
	cols := strings.Count(mdLines[0], " | ")
	for _, l := range mdLines {
		if strings.Count(strings.ReplaceAll(l, `\|`, ""), "|") != cols+2 {
			t.Errorf("markdown line %q has not %d cells", l, cols+1)
		}
	}
	if !strings.HasPrefix(mdLines[1], "| --- | ---: |") || !strings.Contains(mdLines[3], `other\|name`) ||
		!strings.HasPrefix(mdLines[4], "| **mean of 2** |") {
		t.Errorf("markdown table:\n%s", md.String())
	}
}

func TestTableEmpty(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := (Table{}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(b.String(), "\n"); got != 1 {
		t.Errorf("empty table: %d lines, want the header only:\n%s", got, b.String())
	}
}
