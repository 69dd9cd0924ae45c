package assign

import "testing"

// The benchmarks solve city problems (see city): travel times between random points in a
// 10 km square. The candidate edges are chosen before the timer starts.

// BenchmarkDense1000 solves a 1000 x 1000 problem with a skip dearer than any pair, so that
// every row is matched.
func BenchmarkDense1000(b *testing.B) { benchDense(b, 1000, bigSkip) }

// BenchmarkSparse10000k64 solves a 10,000 x 10,000 problem on each row's 64 nearest columns,
// with a skip dearer than any pair.
func BenchmarkSparse10000k64(b *testing.B) { benchSparse(b, 10_000, 64, bigSkip) }

// BenchmarkModerateSkip solves the same problems with a ten-minute skip, which leaves the rows
// far from every column unmatched.
func BenchmarkModerateSkip(b *testing.B) {
	b.Run("Dense1000", func(b *testing.B) { benchDense(b, 1000, 600) })
	b.Run("Sparse10000k64", func(b *testing.B) { benchSparse(b, 10_000, 64, 600) })
}

func benchDense(b *testing.B, n int, skip float64) {
	c := newCity(1, n, n)
	cost, skips := c.matrix(), uniformSkip(n, skip)
	var s Solver
	for b.Loop() {
		if _, err := s.Dense(n, n, cost, skips); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSparse(b *testing.B, n, k int, skip float64) {
	c := newCity(2, n, n)
	edges, skips := c.nearest(k), uniformSkip(n, skip)
	var s Solver
	for b.Loop() {
		if _, err := s.Sparse(n, n, edges, skips); err != nil {
			b.Fatal(err)
		}
	}
}
