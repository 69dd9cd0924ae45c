package bench

import (
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// svgDoc is the part of a plot the tests look at.
type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	Paths   []struct {
		Class  string `xml:"class,attr"`
		Stroke string `xml:"stroke,attr"`
		D      string `xml:"d,attr"`
	} `xml:"path"`
	Texts []struct {
		Class string `xml:"class,attr"`
		Text  string `xml:",chardata"`
	} `xml:"text"`
}

func TestWriteSVG(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		series     []series
		wantPaths  int
		wantLegend []string
		wantText   string
		wantNoText string
	}{
		{
			name: "two backends",
			series: []series{
				{Name: "tiffin (sqlite)", Samples: ms64(1, 1.2, 1.5, 2, 3, 8)},
				{Name: "tiffin (postgres)", Samples: ms64(0.3, 0.4, 0.5, 40)},
			},
			wantPaths:  2,
			wantLegend: []string{"tiffin (sqlite): 6 requests, p50 1.50 ms", "tiffin (postgres): 4 requests, p50 0.40 ms"},
			wantText:   "10ms",
		},
		{
			name:       "a name that needs escaping",
			series:     []series{{Name: `a<b & "c"`, Samples: ms64(1)}},
			wantPaths:  1,
			wantLegend: []string{`a<b & "c": 1 requests, p50 1.00 ms`},
			wantText:   "1ms",
		},
		{
			name:       "a series without samples is only in the legend",
			series:     []series{{Name: "ok", Samples: ms64(2)}, {Name: "failed"}},
			wantPaths:  1,
			wantLegend: []string{"ok: 1 requests, p50 2.00 ms", "failed: 0 requests"},
		},
		{
			name:       "pgbench's rare 0µs samples do not stretch the axis",
			series:     []series{{Name: "pgbench", Samples: append(make([]time.Duration, 10), slices.Repeat(ms64(1.5), 990)...)}},
			wantPaths:  1,
			wantLegend: []string{"pgbench: 1000 requests, p50 1.50 ms"},
			wantText:   "10ms",
			wantNoText: "µs",
		},
		{
			name:       "no samples at all",
			series:     []series{{Name: "failed"}},
			wantLegend: []string{"failed: 0 requests"},
			wantText:   "no samples",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			if err := writeSVG(&b, "title", tt.series); err != nil {
				t.Fatalf("writeSVG: %v", err)
			}
			if i := strings.Index(b.String(), "%!"); i >= 0 {
				t.Fatalf("plot has a formatting error: %s", b.String()[i:min(len(b.String()), i+40)])
			}
			var doc svgDoc
			if err := xml.Unmarshal([]byte(b.String()), &doc); err != nil {
				t.Fatalf("plot is not well-formed XML: %v\n%s", err, b.String())
			}
			var paths int
			strokes := map[string]bool{}
			for _, p := range doc.Paths {
				if p.Class == "series" {
					paths++
					strokes[p.Stroke] = true
					if !strings.HasPrefix(p.D, "M") || !strings.HasSuffix(p.D, "Z") {
						t.Errorf("path d %q: want a closed outline", p.D)
					}
				}
			}
			if paths != tt.wantPaths || len(strokes) != tt.wantPaths {
				t.Errorf("got %d series paths in %d colours, want %d in as many", paths, len(strokes), tt.wantPaths)
			}
			var legend, texts []string
			for _, x := range doc.Texts {
				texts = append(texts, x.Text)
				if x.Class == "legend" {
					legend = append(legend, x.Text)
				}
			}
			if strings.Join(legend, "\n") != strings.Join(tt.wantLegend, "\n") {
				t.Errorf("legend: got %q, want %q", legend, tt.wantLegend)
			}
			if tt.wantText != "" && !strings.Contains(strings.Join(texts, "\n"), tt.wantText) {
				t.Errorf("texts %q lack %q", texts, tt.wantText)
			}
			if tt.wantNoText != "" && strings.Contains(strings.Join(texts, "\n"), tt.wantNoText) {
				t.Errorf("texts %q have %q", texts, tt.wantNoText)
			}
		})
	}
}

func TestWriteSVGFailingWriter(t *testing.T) {
	t.Parallel()
	err := writeSVG(failWriter{}, "t", []series{{Name: "x", Samples: ms64(1)}})
	if err == nil {
		t.Fatal("writeSVG to a failing writer: got nil error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestNiceCeil(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want float64 }{
		{0, 1}, {0.07, 0.1}, {0.1, 0.1}, {0.11, 0.2}, {0.3, 0.5}, {0.51, 1}, {1, 1},
	} {
		if got := niceCeil(tt.in); got < tt.want*(1-1e-9) || got > tt.want*(1+1e-9) {
			t.Errorf("niceCeil(%g): got %g, want %g", tt.in, got, tt.want)
		}
	}
}

func TestFmtTick(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   time.Duration
		want string
	}{
		{time.Microsecond, "1µs"}, {100 * time.Microsecond, "100µs"}, {time.Millisecond, "1ms"},
		{100 * time.Millisecond, "100ms"}, {time.Second, "1s"}, {10 * time.Second, "10s"},
	} {
		if got := fmtTick(tt.in); got != tt.want {
			t.Errorf("fmtTick(%v): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
