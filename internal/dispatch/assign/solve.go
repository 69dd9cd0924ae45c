package assign

import "math"

// solve runs the auction for prices, starting at ε = eps (skipped when eps is 0), then the
// exact phases from those prices. The candidate lists and the edges by column must be in
// place (see loadDense, loadSparse). It leaves the solution in s.x and s.xcost.
func (s *Solver) solve(rows int, skip []float64, eps float64) {
	if eps > 0 {
		s.price(rows, skip, eps)
	}
	s.exact(rows, skip)
}

// price runs the auction from ε = eps and leaves every row's list and tail valid for the exact
// phases.
func (s *Solver) price(rows int, skip []float64, eps float64) {
	// Bids look at the candidates only, taking the tail for the second cheapest when a
	// column off the list may be cheaper (the auction is a heuristic), and refresh the list
	// when that may hold for the cheapest. As prices fall the tail, chosen at older prices,
	// understates the columns off the list; the level correction guesses by how much from
	// the fall of the mean price. Lists refreshed here are refreshed again afterwards: the
	// reverse bids may have raised prices under their tails.
	bid := func(i int32) best2 {
		k := s.k
		b := scanEdges(skip[i], s.kcol[int(i)*k:int(i)*k+k], s.kcost[int(i)*k:int(i)*k+k], s.v)
		t := s.tail[i] + s.level[i] - s.psum/float64(len(s.v))
		if b.u1 > t {
			return s.refresh(i, skip[i])
		} else if b.u2 > t {
			b.u2 = t
		}
		return b
	}
	s.auction(rows, bid, skip, eps)
	for i := range rows {
		if s.fresh[i] {
			s.refresh(int32(i), 0)
		}
	}
}

// exact runs the exact phases from the current prices, whatever they are (at most zero):
// JV's augmenting row reduction, a shortest augmenting path for each row still free, and
// clean. It leaves an optimal assignment in s.x and s.xcost.
func (s *Solver) exact(rows int, skip []float64) {
	s.vmax = topPrice(s.v)
	n := s.reduce(rows, func(i int32) best2 { return s.scanRow(i, skip[i]) })
	for _, f := range s.free[:n] {
		s.augment(f, skip)
	}
	s.finish(rows, skip)
}

// finish runs clean when there is a stale column.
func (s *Solver) finish(rows int, skip []float64) {
	if !s.anyStale() {
		return
	}
	if s.dense {
		// Clean reads whole columns: copy the matrix transposed, in blocks, so that it reads
		// them in order.
		t := grow(s.tmatrix, len(s.matrix))
		const block = 32
		for i0 := 0; i0 < rows; i0 += block {
			for j0 := 0; j0 < s.cols; j0 += block {
				for i := i0; i < min(i0+block, rows); i++ {
					for j := j0; j < min(j0+block, s.cols); j++ {
						t[j*rows+i] = s.matrix[i*s.cols+j]
					}
				}
			}
		}
		s.tmatrix = t
		s.clean(skip, func(j int32) ([]int32, []float64) {
			return nil, t[int(j)*rows : int(j)*rows+rows]
		})
		return
	}
	s.clean(skip, func(j int32) ([]int32, []float64) {
		lo, hi := s.cstart[j], s.cstart[j+1]
		return s.crow[lo:hi], s.ccost[lo:hi]
	})
}

// topPrice returns the highest of the prices v, or 0 when there are none.
func topPrice(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	top := v[0]
	for _, p := range v[1:] {
		top = max(top, p)
	}
	return top
}

// anyStale reports whether a free column is priced below zero, so that clean has work.
func (s *Solver) anyStale() bool {
	for j, v := range s.v {
		if v < 0 && s.y[j] == unassigned {
			return true
		}
	}
	return false
}

// pricing is the first ε of the auction for edges costing lo to hi, or 0 when it should not
// run (equal costs, or a spread too wide for float64).
func pricing(lo, hi float64) (eps float64) {
	eps = (hi - lo) / auctionStart
	if eps > 0 && eps < math.Inf(1) {
		return eps
	}
	return 0
}
