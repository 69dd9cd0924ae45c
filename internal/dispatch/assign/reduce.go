package assign

import "math"

// best2 is a row's two cheapest columns by reduced cost c(i, j) - v[j], the row's skip column
// (skipped, at price zero) among them: u1 <= u2, reached at j1 and j2 by pairs costing c1 and
// c2. u2 is +Inf when the row has no second column. A row lists a column once.
type best2 struct {
	u1, u2 float64
	j1, j2 int32
	c1, c2 float64
}

// scanEdges returns the best2 of a row with the given skip and edges (columns cols at costs
// costs), at prices v.
func scanEdges(skip float64, cols []int32, costs, v []float64) best2 {
	b := best2{u1: skip, j1: skipped, c1: skip, u2: math.Inf(1), j2: unassigned}
	for k, j := range cols {
		if r := costs[k] - v[j]; r < b.u2 {
			if r < b.u1 {
				b.u2, b.j2, b.c2 = b.u1, b.j1, b.c1
				b.u1, b.j1, b.c1 = r, j, costs[k]
			} else {
				b.u2, b.j2, b.c2 = r, j, costs[k]
			}
		}
	}
	return b
}

// arrPasses is the number of augmenting row reduction passes; JV use two.
const arrPasses = 2

// reduce runs Jonker and Volgenant's augmenting row reduction over rows 0..rows-1, starting
// from no assignment and the current prices. scan returns a row's two cheapest columns at the
// current prices. Each free row takes its cheapest column, whose price drops by the gap to the
// row's second cheapest so the row is indifferent between them; the row holding it before is
// freed and, when the price dropped, tried again at once. Afterwards every assigned row holds
// a column of least reduced cost and s.free[:n] lists the rows still free.
//
// A row that takes its skip column keeps it: no other row can reach that column.
func (s *Solver) reduce(rows int, scan func(i int32) best2) (n int) {
	free := s.free[:rows]
	for i := range free {
		free[i] = int32(i)
	}
	n = rows
	for pass := 0; pass < arrPasses && n > 0; pass++ {
		prev := n
		n = 0
		// Rounding can stop a price from dropping and two rows then take a column from each
		// other forever; the budget ends such a pass and leaves its rows to the searches.
		budget := 8*prev + 64
		for k := 0; k < prev; {
			if budget == 0 {
				n += copy(free[n:], free[k:prev])
				break
			}
			budget--
			i := free[k]
			k++
			b := scan(i)
			j, c := b.j1, b.c1
			i0 := unassigned
			if j >= 0 {
				i0 = s.y[j]
			}
			if b.u1 < b.u2 {
				if j >= 0 {
					s.v[j] -= b.u2 - b.u1 // finite: the skip column is j2 or cheaper
				}
			} else if i0 >= 0 {
				// A tie with j1 taken: take j2 instead, displacing nobody if it is free.
				j, c = b.j2, b.c2
				i0 = unassigned
				if j >= 0 {
					i0 = s.y[j]
				}
			}
			s.x[i], s.xcost[i] = j, c
			if j >= 0 {
				s.y[j] = i
			}
			if i0 >= 0 {
				s.x[i0] = unassigned
				if b.u1 < b.u2 {
					k--
					free[k] = i0
				} else {
					free[n] = i0 // n < k: each row added here was taken from before k
					n++
				}
			}
		}
	}
	return n
}
