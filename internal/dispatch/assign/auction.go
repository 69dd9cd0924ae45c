package assign

import "math"

// Auction tuning, measured on the city instances of the benchmarks. The auction only seeds the
// prices: the exact phases that follow make the result optimal whatever it leaves. 2026-11-30:
// a first ε of a third of the spread (was a tenth) and 64 bids per row and phase (was 16), so
// that the phases finish around crowded hubs instead of running out of bids in the first;
// a 1,000 x 1,000 round of bench dispatch's city went from ~125 to ~88 ms (BenchmarkRound),
// BenchmarkDense1000 from 18 to 12 ms, BenchmarkSparse10000k64 from 130 to 105 ms.
const (
	auctionStart  = 3  // the first ε is the spread of the edge costs over this
	auctionRatio  = 8  // ε shrinks by this much per phase
	auctionPhases = 3  // ε-scaling phases
	auctionBids   = 64 // forward and reverse bids per row and phase, at most
)

// auction seeds the prices with Bertsekas' auction algorithm with ε-scaling, forward and
// reverse (see the package doc for the sources). scan returns a row's two cheapest columns,
// the skip column among them, as best it can; the reverse bids see a column's rows in
// s.cstart/crow/ccost.
//
// A free row bids for its cheapest column, lowering its price by the gap to the second
// cheapest plus ε, and takes it from the row holding it, which bids in turn. When every row is matched, a free column priced
// below zero bids for the row that would gain most by moving to it, raising its price to
// within ε of what the second such row would pay (or to zero when no row wants it), and takes
// that row from its column, which bids in turn. Each phase keeps the last one's prices and the
// rows that are within the new, smaller ε of their cheapest column. It keeps s.psum, the sum
// of the prices, and leaves the prices in s.v and no assignment.
func (s *Solver) auction(rows int, scan func(i int32) best2, skip []float64, eps float64) {
	s.psum = 0
	for _, p := range s.v {
		s.psum += p
	}
	for i := range s.x {
		s.x[i] = unassigned
	}
	for j := range s.y {
		s.y[j] = unassigned
	}
	for phase := 0; phase < auctionPhases; phase, eps = phase+1, eps/auctionRatio {
		// Keep each row whose column is within ε of its cheapest; free the others.
		stack := s.free[:0]
		for i := rows - 1; i >= 0; i-- {
			j := s.x[i]
			if j == skipped && phase > 0 {
				continue
			}
			if j >= 0 {
				b := scan(int32(i)) // #nosec G115 -- an index into one planning round's couriers or rows, bounded far below 2^31
				if s.xcost[i]-s.v[j] <= b.u1+eps {
					continue
				}
				s.y[j] = unassigned
			}
			s.x[i] = unassigned
			stack = append(stack, int32(i)) // #nosec G115 -- an index into one planning round's couriers or rows, bounded far below 2^31
		}
		bids := auctionBids * rows
		for ; len(stack) > 0 && bids > 0; bids-- {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			b := scan(i)
			j := b.j1
			if j == skipped {
				s.x[i], s.xcost[i] = skipped, skip[i]
				continue
			}
			inc := b.u2 - b.u1 + eps // u2 is finite: the skip column is j2 or cheaper
			s.v[j] -= inc
			s.psum -= inc
			if k := s.y[j]; k != unassigned {
				s.x[k] = unassigned
				stack = append(stack, k)
			}
			s.x[i], s.xcost[i], s.y[j] = j, b.c1, i
		}
		if len(stack) > 0 {
			break // out of bids: keep the prices as they are
		}
		stale := s.order[:0]
		for j, v := range s.v {
			if v < 0 && s.y[j] == unassigned {
				stale = append(stale, int32(j))
			}
		}
		for ; len(stale) > 0 && bids > 0; bids-- {
			j := stale[len(stale)-1]
			stale = stale[:len(stale)-1]
			// The rows' gains from moving to j at price zero: b1 (row i1) and b2 least.
			b1, b2, i1, c1 := math.Inf(1), math.Inf(1), unassigned, 0.0
			for k := s.cstart[j]; k < s.cstart[j+1]; k++ {
				i, c := s.crow[k], s.ccost[k]
				u := skip[i]
				if o := s.x[i]; o != skipped {
					u = s.xcost[i] - s.v[o]
				}
				if b := c - u; b < b2 {
					if b < b1 {
						b1, b2, i1, c1 = b, b1, i, c
					} else {
						b2 = b
					}
				}
			}
			p := 0.0
			if b1 < 0 {
				p = min(0, b2+eps)
			}
			s.psum += p - s.v[j]
			s.v[j] = p
			if b1 >= 0 {
				continue
			}
			if o := s.x[i1]; o >= 0 {
				s.y[o] = unassigned
				if s.v[o] < 0 {
					stale = append(stale, o)
				}
			}
			s.x[i1], s.xcost[i1], s.y[j] = j, c1, i1
		}
	}
	for i := range s.x {
		s.x[i] = unassigned
	}
	for j := range s.y {
		s.y[j] = unassigned
	}
}
