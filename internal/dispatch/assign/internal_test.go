package assign

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// White-box tests of the invariants the exact phases rest on.

// loadRandom loads a random dense (even n) or sparse problem of up to 60 x 200, rows often
// longer than the candidate lists and sometimes than choose's scratch for short rows, and
// returns its skip and matrix.
func loadRandom(s *Solver, rng *rand.Rand, n int) (rows, cols int, cost, skip []float64) {
	rows, cols = 1+rng.IntN(60), 1+rng.IntN([]int{60, 200}[n%5/4])
	if n%4 < 2 {
		cost = newCity(uint64(n), rows, cols).matrix()
	} else {
		cost = make([]float64, rows*cols)
		for k := range cost {
			cost[k] = float64(rng.IntN(10)) // ties, and tails equal to list entries
			if rng.IntN(5) == 0 {
				cost[k] = inf
			}
		}
	}
	skip = uniformSkip(rows, []float64{bigSkip, 600, 5, 200}[n%4])
	if n%2 == 0 {
		s.loadDense(rows, cols, cost)
		return rows, cols, cost, skip
	}
	var edges []Edge
	for k, c := range cost {
		if c < inf {
			edges = append(edges, Edge{int32(k / cols), int32(k % cols), c})
		}
	}
	s.loadSparse(rows, cols, edges)
	return rows, cols, cost, skip
}

// checkBounds fails t unless every column off row i's list costs at least bound(i) in reduced
// cost, for every row.
func checkBounds(t *testing.T, what string, s *Solver, rows, cols int, cost []float64) {
	t.Helper()
	for i := range rows {
		on := map[int32]bool{}
		for _, j := range s.kcol[i*s.k : i*s.k+s.k] {
			on[j] = true
		}
		for j := range cols {
			c := cost[i*cols+j]
			if r := c - s.v[j]; c < inf && !on[int32(j)] && r < s.bound(int32(i)) {
				t.Fatalf("%s: row %d, column %d off the list costs %v reduced, below the bound %v", what, i, j, r, s.bound(int32(i)))
			}
		}
	}
}

// TestScanRow checks scanRow's two cheapest columns against a scan of the whole row, at random
// prices, before and after lists are refreshed.
func TestScanRow(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 10))
	var s Solver
	for n := range 200 {
		rows, cols, cost, skip := loadRandom(&s, rng, n)
		for round := range 3 {
			for j := range s.v {
				s.v[j] -= rng.Float64() * []float64{0.5, 5, 100}[round] // prices only fall
			}
			s.vmax = topPrice(s.v)
			for i := range rows {
				got := s.scanRow(int32(i), skip[i])
				u1, u2 := skip[i], inf
				for j := range cols {
					if r := cost[i*cols+j] - s.v[j]; r < u1 {
						u1, u2 = r, u1
					} else if r < u2 {
						u2 = r
					}
				}
				if got.u1 != u1 || got.u2 != u2 {
					t.Fatalf("problem %d round %d row %d: got u1 %v u2 %v, want %v %v", n, round, i, got.u1, got.u2, u1, u2)
				}
			}
			checkBounds(t, fmt.Sprintf("problem %d round %d", n, round), &s, rows, cols, cost)
		}
		s.unload()
	}
}

// TestBoundsAfterAuction checks that the lists and tails the auction leaves bound every row's
// columns off its list, though its reverse bids raise prices.
func TestBoundsAfterAuction(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	var s Solver
	for n := range 200 {
		rows, cols, cost, skip := loadRandom(&s, rng, n)
		lo, hi := inf, -inf
		for _, c := range cost {
			if c < inf {
				lo, hi = min(lo, c), max(hi, c)
			}
		}
		if eps := pricing(lo, hi); eps > 0 {
			s.price(rows, skip, eps)
		}
		s.vmax = topPrice(s.v)
		checkBounds(t, fmt.Sprintf("problem %d", n), &s, rows, cols, cost)
		s.unload()
	}
}

// TestAugmentOnly solves with shortest augmenting paths alone, no row reduction, from random
// prices: every row then goes through augment, every way it can end.
func TestAugmentOnly(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(13, 14))
	var s Solver
	for n := range 200 {
		rows, cols, cost, skip := loadRandom(&s, rng, n)
		for j := range s.v {
			s.v[j] = -rng.Float64() * []float64{0, 3, 300}[n%3]
		}
		s.vmax = topPrice(s.v)
		for i := range rows {
			s.augment(int32(i), skip)
		}
		s.finish(rows, skip)
		res := s.result(skip)
		s.unload()
		checkResult(t, fmt.Sprintf("problem %d (%d x %d)", n, rows, cols), rows, cols, denseCost(cols, cost), skip, res, hungarian(rows, cols, cost, skip))
	}
}
