package assign

import (
	"fmt"
	"math"
)

// sparseCandidates is the length of a sparse row's candidate list.
const sparseCandidates = 32

// Sparse solves the problem restricted to the listed edges, with skip[i] for leaving row i
// unmatched: the exact optimum over the assignments that use listed edges only. Edges may come
// in any order; a pair listed twice counts at its smaller cost and a pair costing +Inf is
// ignored. It returns an error wrapping ErrInput, and no Result, when the input is malformed
// (see the package doc).
func (s *Solver) Sparse(rows, cols int, edges []Edge, skip []float64) (Result, error) {
	if err := checkShape(rows, cols, skip); err != nil {
		return Result{}, err
	}
	if len(edges) > math.MaxInt32 {
		return Result{}, fmt.Errorf("assign: %d edges, want at most %d: %w", len(edges), math.MaxInt32, ErrInput)
	}
	for k, e := range edges {
		if e.Row < 0 || int(e.Row) >= rows || e.Col < 0 || int(e.Col) >= cols {
			return Result{}, fmt.Errorf("assign: edge %d (row %d, column %d) is outside %d x %d: %w", k, e.Row, e.Col, rows, cols, ErrInput)
		}
		if badCost(e.Cost) {
			return Result{}, fmt.Errorf("assign: edge %d (row %d, column %d) costs %v: %w", k, e.Row, e.Col, e.Cost, ErrInput)
		}
	}
	s.solve(rows, skip, s.loadSparse(rows, cols, edges))
	return s.result(skip), nil
}

// loadSparse readies the solver for the rows x cols problem on edges: the edges by row and by
// column and the first candidate lists (at price zero). It returns the auction's first ε.
func (s *Solver) loadSparse(rows, cols int, edges []Edge) (eps float64) {
	s.reset(rows, cols, min(sparseCandidates, cols))
	s.build(rows, edges)
	s.transpose(rows, cols, 0, s.estart, s.ecol, s.ecost)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range s.ecost {
		lo, hi = min(lo, c), max(hi, c)
	}
	for i := range rows {
		s.refresh(int32(i), 0)
	}
	clear(s.fresh) // chosen at price zero
	return pricing(lo, hi)
}

// build stores the finite edges by row (compressed sparse rows: row i's edges are
// ecol/ecost[estart[i]:estart[i+1]]), keeping the cheaper of two edges between the same pair.
// It uses s.mark and s.pred as scratch.
func (s *Solver) build(rows int, edges []Edge) {
	start := grow(s.estart, rows+1)
	clear(start)
	for _, e := range edges {
		if e.Cost < math.Inf(1) {
			start[e.Row+1]++
		}
	}
	for i := range rows {
		start[i+1] += start[i]
	}
	m := int(start[rows])
	ecol, ecost := grow(s.ecol, m), grow(s.ecost, m)
	next := s.free // rows long; reduce fills it afresh
	copy(next, start[:rows])
	for _, e := range edges {
		if e.Cost < math.Inf(1) {
			k := next[e.Row]
			next[e.Row]++
			ecol[k], ecost[k] = e.Col, e.Cost
		}
	}
	// Merge duplicate pairs row by row, compacting in place: mark[j] == i+1 when row i's
	// column j has been kept, at position pred[j].
	out := int32(0)
	for i := range rows {
		lo, hi := start[i], start[i+1]
		start[i] = out
		stamp := uint32(i + 1)
		for k := lo; k < hi; k++ {
			j, c := ecol[k], ecost[k]
			if s.mark[j] == stamp {
				if p := s.pred[j]; c < ecost[p] {
					ecost[p] = c
				}
				continue
			}
			s.mark[j], s.pred[j] = stamp, out
			ecol[out], ecost[out] = j, c
			out++
		}
	}
	start[rows] = out
	clear(s.mark)
	s.estart, s.ecol, s.ecost = start, ecol[:out], ecost[:out]
}

// transpose stores edges by column (cstart, crow, ccost): those of each row i at
// col/cost[start[i]:start[i+1]], or at col/cost[i*k:(i+1)*k] when start is nil, skipping
// +Inf ones.
func (s *Solver) transpose(rows, cols, k int, start, col []int32, cost []float64) {
	span := func(i int) (int, int) {
		if start == nil {
			return i * k, i*k + k
		}
		return int(start[i]), int(start[i+1])
	}
	s.cstart = grow(s.cstart, cols+1)
	clear(s.cstart)
	m := 0
	for i := range rows {
		lo, hi := span(i)
		for e := lo; e < hi; e++ {
			if cost[e] < math.Inf(1) {
				s.cstart[col[e]+1]++
				m++
			}
		}
	}
	for j := range cols {
		s.cstart[j+1] += s.cstart[j]
	}
	s.crow = grow(s.crow, m)
	s.ccost = grow(s.ccost, m)
	next := s.pred // cols long, free until the first search
	copy(next, s.cstart[:cols])
	for i := range rows {
		lo, hi := span(i)
		for e := lo; e < hi; e++ {
			if cost[e] < math.Inf(1) {
				j := col[e]
				n := next[j]
				next[j]++
				s.crow[n], s.ccost[n] = int32(i), cost[e]
			}
		}
	}
}
