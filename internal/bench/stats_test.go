package bench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ms64(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x * float64(time.Millisecond))
	}
	return out
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", ms64(7), 50, 7 * time.Millisecond},
		{"one sample p99", ms64(7), 99, 7 * time.Millisecond},
		{"two samples p50 is the lower", ms64(1, 2), 50, time.Millisecond},
		{"two samples p51 is the upper", ms64(1, 2), 51, 2 * time.Millisecond},
		{"four samples p95", ms64(1, 2, 3, 4), 95, 4 * time.Millisecond},
		{"1..100 p50", hundred, 50, 50 * time.Millisecond},
		{"1..100 p95", hundred, 95, 95 * time.Millisecond},
		{"1..100 p99", hundred, 99, 99 * time.Millisecond},
		{"1..100 p100", hundred, 100, 100 * time.Millisecond},
		{"1..100 tiny p is the minimum", hundred, 0.001, time.Millisecond},
		{"ten samples p99 is the max", ms64(1, 1, 1, 1, 1, 1, 1, 1, 1, 30), 99, 30 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %g): got %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	var r Result
	summarize(&r, ms64(5, 1, 4, 2, 3, 9, 8, 7, 6, 10))
	got := [4]time.Duration{r.P50, r.P95, r.P99, r.Max}
	want := [4]time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}
	if got != want {
		t.Errorf("p50 p95 p99 max: got %v, want %v", got, want)
	}
	if diff := cmp.Diff(ms64(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), r.samples); diff != "" {
		t.Errorf("samples not kept sorted (-want +got):\n%s", diff)
	}
}

func TestLogEdges(t *testing.T) {
	t.Parallel()
	us := time.Microsecond
	tests := []struct {
		name      string
		lo, hi    time.Duration
		perDecade int
		want      []time.Duration
	}{
		{"one per decade", 150 * us, 20 * time.Millisecond, 1,
			[]time.Duration{100 * us, time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond}},
		{"two per decade", 150 * us, 900 * us, 2,
			[]time.Duration{100 * us, 316228 * time.Nanosecond, time.Millisecond}},
		{"exact powers stay put", time.Millisecond, 10 * time.Millisecond, 1,
			[]time.Duration{time.Millisecond, 10 * time.Millisecond}},
		{"one value spans a decade", 3 * time.Millisecond, 3 * time.Millisecond, 1,
			[]time.Duration{time.Millisecond, 10 * time.Millisecond}},
		{"sub-microsecond counts as one", 0, 5 * us, 1,
			[]time.Duration{us, 10 * us}},
		{"zero per decade means one", time.Millisecond, 10 * time.Millisecond, 0,
			[]time.Duration{time.Millisecond, 10 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, logEdges(tt.lo, tt.hi, tt.perDecade)); diff != "" {
				t.Errorf("logEdges(%v, %v, %d) (-want +got):\n%s", tt.lo, tt.hi, tt.perDecade, diff)
			}
		})
	}
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	edges := ms64(1, 10, 100, 1000)
	tests := []struct {
		name    string
		samples []time.Duration
		edges   []time.Duration
		want    []int
	}{
		{"empty", nil, edges, []int{0, 0, 0}},
		{"lower edge is inclusive", ms64(1, 10, 100), edges, []int{1, 1, 1}},
		{"inside buckets", ms64(2, 9.99, 50, 999), edges, []int{2, 1, 1}},
		{"below the first edge counts in the first", ms64(0.5), edges, []int{1, 0, 0}},
		{"at and past the last edge count in the last", ms64(1000, 5000), edges, []int{0, 0, 2}},
		{"too few edges", ms64(1), ms64(1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, histogram(tt.samples, tt.edges)); diff != "" {
				t.Errorf("histogram(%v) (-want +got):\n%s", tt.samples, diff)
			}
		})
	}
}
