package assign

import (
	"errors"
	"fmt"
	"math"
)

// ErrInput reports malformed input; see the package doc for the cases.
var ErrInput = errors.New("invalid assignment input")

// Edge is one allowed pair and its cost.
type Edge struct {
	Row, Col int32
	Cost     float64
}

// Result is a solution. Col[i] is the column matched to row i, or -1 when row i is unmatched
// (skipped). Cost is the objective: the matched costs plus the skips of the unmatched rows.
type Result struct {
	Col  []int
	Cost float64
}

// Dense solves the problem given as a full cost matrix, cost[i*cols+j] for row i and column j,
// math.Inf(1) for a forbidden pair. It is a Solver's Dense without the reuse of scratch space.
func Dense(rows, cols int, cost, skip []float64) (Result, error) {
	var s Solver
	return s.Dense(rows, cols, cost, skip)
}

// Sparse solves the problem restricted to the listed edges. It is a Solver's Sparse without the
// reuse of scratch space.
func Sparse(rows, cols int, edges []Edge, skip []float64) (Result, error) {
	var s Solver
	return s.Sparse(rows, cols, edges, skip)
}

// Solver holds the scratch space of the solvers, so that solving again allocates only the
// Result. The zero Solver is ready to use. A Solver is not safe for concurrent use.
type Solver struct {
	// The problem during a call: the dense matrix, or the edges by row (CSR: row i's are
	// ecol/ecost[estart[i]:estart[i+1]]); and edges by column, column j's rows being
	// crow/ccost[cstart[j]:cstart[j+1]] (Sparse: all edges; Dense: the first candidates).
	dense   bool
	matrix  []float64
	tmatrix []float64 // the matrix transposed, for clean
	cols    int
	estart  []int32
	ecol    []int32
	ecost   []float64
	cstart  []int32
	crow    []int32
	ccost   []float64

	// Candidate lists (see candidates.go): row i's k columns and their costs at
	// kcol/kcost[i*k:(i+1)*k], and its tail.
	k     int
	kcol  []int32
	kcost []float64
	tail  []float64
	fresh []bool    // row -> its tail was chosen at prices then current, not at zero
	vmax  float64   // at least every price (and at most zero)
	psum  float64   // the sum of the prices, kept by the auction
	level []float64 // row -> psum/cols when its list was chosen
	hbuf  []cand    // choose's list, k+1 long
	sbuf  []cand    // choose's scratch for short rows, 4(k+1) long

	// The assignment and the prices.
	x     []int32   // row -> its column, unassigned or skipped
	xcost []float64 // row -> the cost of its matched pair (its skip when skipped)
	y     []int32   // column -> its row, or unassigned
	v     []float64 // column -> price, at most zero

	// Searches.
	free     []int32   // rows left to augment
	d        []float64 // column -> distance label
	pred     []int32   // column -> the row (or column, in clean) it was reached from
	predCost []float64 // column -> the cost of that pair
	mark     []uint32  // column -> 2*search when labelled, 2*search+1 when scanned
	searches uint32    // searches so far
	scanned  []int32   // columns scanned by the current search
	heap     minHeap
	u        []float64 // row -> dual value, for clean
	h        []float64 // row -> its distance, while its columns off the list are queued
	order    []int32   // scratch, cols long
}

const (
	unassigned int32 = -1 // x[i] or y[j]: not matched
	skipped    int32 = -2 // x[i]: row i holds its skip column
)

// reset sizes the scratch for rows x cols with k candidates per row and clears the
// assignment and the prices.
func (s *Solver) reset(rows, cols, k int) {
	s.k = k
	s.kcol = grow(s.kcol, rows*k)
	s.kcost = grow(s.kcost, rows*k)
	s.tail = grow(s.tail, rows)
	s.u = grow(s.u, rows)
	s.h = grow(s.h, rows)
	s.fresh = grow(s.fresh, rows)
	clear(s.fresh)
	s.level = grow(s.level, rows)
	clear(s.level)
	s.psum = 0
	s.vmax = 0
	s.hbuf = grow(s.hbuf, k+1)[: k+1 : k+1]
	s.sbuf = grow(s.sbuf, 4*(k+1))
	s.x = grow(s.x, rows)
	s.xcost = grow(s.xcost, rows)
	s.free = grow(s.free, rows)
	s.y = grow(s.y, cols)
	s.v = grow(s.v, cols)
	s.d = grow(s.d, cols)
	s.pred = grow(s.pred, cols)
	s.predCost = grow(s.predCost, cols)
	s.mark = grow(s.mark, cols)
	s.order = grow(s.order, cols)
	clear(s.mark)
	s.searches = 0
	for i := range s.x {
		s.x[i] = unassigned
	}
	for j := range s.y {
		s.y[j] = unassigned
		s.v[j] = 0
	}
}

// result reads the assignment off x.
func (s *Solver) result(skip []float64) Result {
	r := Result{Col: make([]int, len(s.x))}
	for i, j := range s.x {
		if j >= 0 {
			r.Col[i] = int(j)
			r.Cost += s.xcost[i]
		} else {
			r.Col[i] = -1
			r.Cost += skip[i]
		}
	}
	return r
}

// grow returns s with length n, reallocated only when its capacity is too small. The contents
// are unspecified.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func checkShape(rows, cols int, skip []float64) error {
	if rows < 0 || rows > math.MaxInt32 || cols < 0 || cols > math.MaxInt32 {
		return fmt.Errorf("assign %d x %d: sizes must be in [0, %d]: %w", rows, cols, math.MaxInt32, ErrInput)
	}
	if len(skip) != rows {
		return fmt.Errorf("assign: len(skip) is %d, want rows = %d: %w", len(skip), rows, ErrInput)
	}
	for i, k := range skip {
		if math.IsNaN(k) || math.IsInf(k, 0) {
			return fmt.Errorf("assign: skip[%d] is %v, want a finite number: %w", i, k, ErrInput)
		}
	}
	return nil
}

// badCost reports whether c cannot be a cost: NaN or -Inf.
func badCost(c float64) bool { return !(c >= -math.MaxFloat64) }
