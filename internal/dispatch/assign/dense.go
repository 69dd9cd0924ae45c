package assign

import (
	"fmt"
	"math"
)

// denseCandidates is the length of a dense row's candidate list.
const denseCandidates = 16

// Dense solves the problem given as a full cost matrix, cost[i*cols+j] for row i and column j,
// math.Inf(1) for a forbidden pair, and skip[i] for leaving row i unmatched. It returns an
// error wrapping ErrInput, and no Result, when the input is malformed (see the package doc).
func (s *Solver) Dense(rows, cols int, cost, skip []float64) (Result, error) {
	if err := checkShape(rows, cols, skip); err != nil {
		return Result{}, err
	}
	if cols > 0 && rows > math.MaxInt/cols || len(cost) != rows*cols {
		return Result{}, fmt.Errorf("assign: len(cost) is %d, want rows*cols = %d*%d: %w", len(cost), rows, cols, ErrInput)
	}
	for k, c := range cost {
		if badCost(c) {
			return Result{}, fmt.Errorf("assign: cost[%d] (row %d, column %d) is %v: %w", k, k/cols, k%cols, c, ErrInput)
		}
	}
	eps := s.loadDense(rows, cols, cost)
	defer s.unload()
	s.solve(rows, skip, eps)
	return s.result(skip), nil
}

// loadDense readies the solver for the rows x cols matrix cost: it chooses the first candidate
// lists (at price zero) and, for the auction's reverse bids, the edges by column from them. It
// returns the auction's first ε.
func (s *Solver) loadDense(rows, cols int, cost []float64) (eps float64) {
	s.reset(rows, cols, min(denseCandidates, cols))
	s.dense, s.matrix, s.cols = true, cost, cols
	for m := range s.kcost {
		s.kcost[m] = math.Inf(1) // no old lists to start from
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range rows {
		s.refresh(int32(i), 0)
		for _, c := range s.kcost[i*s.k : i*s.k+s.k] {
			if c < math.Inf(1) {
				lo, hi = min(lo, c), max(hi, c)
			}
		}
	}
	clear(s.fresh) // chosen at price zero
	s.transpose(rows, cols, s.k, nil, s.kcol, s.kcost)
	return pricing(lo, hi)
}

// unload drops the solver's hold on the caller's matrix.
func (s *Solver) unload() { s.dense, s.matrix = false, nil }
