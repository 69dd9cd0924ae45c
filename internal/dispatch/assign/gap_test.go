package assign

import (
	"fmt"
	"testing"
)

// Skips for the gap measurements, in seconds: large, so that a row is held only when the
// candidate edges leave it nothing (each such hold then costs the whole skip), and moderate,
// ten minutes, so that a row far from every courier waits for the next round.
var gapSkips = []struct {
	name string
	skip float64
}{{"large", bigSkip}, {"moderate", 600}}

// gap solves the n x n city problem densely and on each row's k nearest columns and returns
// the relative gap of the sparse optimum, and the rows each leaves unmatched.
type gapResult struct {
	dense, sparse         float64
	denseHeld, sparseHeld int
}

func held(r Result) int {
	n := 0
	for _, j := range r.Col {
		if j < 0 {
			n++
		}
	}
	return n
}

func (g gapResult) gap() float64 { return (g.sparse - g.dense) / g.dense }

// TestNearestGap measures how far the optimum on each row's k nearest columns is from the
// dense optimum on five 1000 x 1000 city problems, logging the mean and the worst gap, and
// checks that the restriction never wins. BenchmarkNearestGap reports the gaps of one
// 1000 x 1000 and one 3000 x 3000 problem.
func TestNearestGap(t *testing.T) {
	if testing.Short() {
		t.Skip("solves 1000 x 1000 problems")
	}
	t.Parallel()
	const seeds = 5
	ks := []int{8, 16, 32, 64}
	type stats struct {
		sum, worst  float64
		held, dense int
	}
	sum := map[string]*stats{}
	for seed := range uint64(seeds) {
		c := newCity(100+seed, 1000, 1000)
		cost := c.matrix()
		near := map[int][]Edge{}
		for _, k := range ks {
			near[k] = c.nearest(k)
		}
		for _, sk := range gapSkips {
			skip := uniformSkip(c.rows, sk.skip)
			dense, err := Dense(c.rows, c.cols, cost, skip)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range ks {
				sparse, err := Sparse(c.rows, c.cols, near[k], skip)
				if err != nil {
					t.Fatal(err)
				}
				g := gapResult{dense.Cost, sparse.Cost, held(dense), held(sparse)}
				if g.gap() < -1e-9 {
					t.Errorf("seed %d, skip %s, k=%d: sparse optimum %v below the dense one %v", seed, sk.name, k, g.sparse, g.dense)
				}
				key := fmt.Sprintf("skip %-8s k=%-2d", sk.name, k)
				st := sum[key]
				if st == nil {
					st = &stats{}
					sum[key] = st
				}
				st.sum += g.gap()
				st.worst = max(st.worst, g.gap())
				st.held += g.sparseHeld
				st.dense += g.denseHeld
			}
		}
	}
	for _, sk := range gapSkips {
		for _, k := range ks {
			key := fmt.Sprintf("skip %-8s k=%-2d", sk.name, k)
			st := sum[key]
			t.Logf("%s: gap mean %.4f%%, worst %.4f%%; rows held %d (dense %d) over %d problems", key, 100*st.sum/seeds, 100*st.worst, st.held, st.dense, seeds)
		}
	}
}

// BenchmarkNearestGap times Sparse on each row's k nearest columns of 1000 x 1000 and
// 3000 x 3000 city problems and reports the gap to the dense optimum (gap_%) and the rows
// each leaves unmatched (held, dense_held).
func BenchmarkNearestGap(b *testing.B) {
	for _, n := range []int{1000, 3000} {
		c := newCity(uint64(n), n, n)
		cost := c.matrix()
		for _, sk := range gapSkips {
			skip := uniformSkip(n, sk.skip)
			dense, err := Dense(n, n, cost, skip)
			if err != nil {
				b.Fatal(err)
			}
			for _, k := range []int{8, 16, 32, 64} {
				edges := c.nearest(k)
				b.Run(fmt.Sprintf("n=%d/skip=%s/k=%d", n, sk.name, k), func(b *testing.B) {
					var s Solver
					var sparse Result
					for b.Loop() {
						if sparse, err = s.Sparse(n, n, edges, skip); err != nil {
							b.Fatal(err)
						}
					}
					g := gapResult{dense.Cost, sparse.Cost, held(dense), held(sparse)}
					b.ReportMetric(100*g.gap(), "gap_%")
					b.ReportMetric(float64(g.sparseHeld), "held")
					b.ReportMetric(float64(g.denseHeld), "dense_held")
				})
			}
		}
	}
}
