package assign

import (
	"math"
	"slices"
)

// Candidates. The phases look at each row through a short list of candidate columns, its k
// columns of least reduced cost when the list was chosen, at kcol/kcost[i*k:(i+1)*k] (padded
// with +Inf edges), and the row's tail: the least reduced cost of its other columns then. The
// lists are first chosen at price zero, where the tail bounds the cost of every column off the
// list, and so bounds its reduced cost at any prices (all at most vmax <= 0) from below by
// tail - vmax. The exact phases only lower prices, so a list chosen again during them (fresh)
// keeps its tail as a bound. A row's two cheapest columns are on its list as long as the
// second costs at most the bound; otherwise refresh chooses the list afresh from the whole row
// (the dense row, or all the row's edges).

// refresh chooses row i's candidates and tail at the current prices and returns its best2 with
// the given skip.
func (s *Solver) refresh(i int32, skip float64) best2 {
	s.fresh[i] = true
	if len(s.v) > 0 {
		s.level[i] = s.psum / float64(len(s.v))
	}
	if s.dense {
		return s.choose(i, skip, nil, s.matrix[int(i)*s.cols:int(i)*s.cols+s.cols])
	}
	lo, hi := s.estart[i], s.estart[i+1]
	return s.choose(i, skip, s.ecol[lo:hi], s.ecost[lo:hi])
}

// choose is refresh over the row's columns cols (nil: 0, 1, ...) costing costs.
func (s *Solver) choose(i int32, skip float64, cols []int32, costs []float64) best2 {
	k, v := s.k, s.v
	kcol, kcost := s.kcol[int(i)*k:int(i)*k+k], s.kcost[int(i)*k:int(i)*k+k]
	s.tail[i] = math.Inf(1)
	if len(costs) <= k {
		// The whole row fits.
		for m := range kcol {
			kcol[m], kcost[m] = 0, math.Inf(1)
			if m < len(costs) {
				kcol[m], kcost[m] = int32(m), costs[m]
				if cols != nil {
					kcol[m] = cols[m]
				}
			}
		}
		return scanEdges(skip, kcol, kcost, v)
	}
	// The k+1 cheapest so far, sorted by reduced cost; top is the dearest of them once there
	// are k+1.
	l := cheapest{buf: s.hbuf[:0], top: math.Inf(1)}
	if cols == nil {
		// A dense row: start from the old list (its finite entries come first), likely near
		// the new one, so that few columns pass the threshold; those that do and were on it
		// are in already.
		seeded := 0
		for m, j := range kcol {
			if kcost[m] < math.Inf(1) {
				l.add(costs[j]-v[j], j)
				seeded++
			}
		}
		old := kcol[:seeded]
		for j, c := range costs {
			if r := c - v[j]; r < l.top && !slices.Contains(old, int32(j)) {
				l.add(r, int32(j))
			}
		}
	} else if len(costs) <= cap(s.sbuf) {
		// A short row: select the k+1 cheapest in place.
		all := s.sbuf[:len(costs)]
		for e, c := range costs {
			all[e] = cand{c - v[cols[e]], int32(e)}
		}
		nth(all, k) // the tail at k, the list before it in any order
		l.buf = append(l.buf, all[:k+1]...)
	} else {
		for e, c := range costs {
			if r := c - v[cols[e]]; r < l.top {
				l.add(r, int32(e))
			}
		}
	}
	buf := l.buf
	if len(buf) == k+1 {
		s.tail[i] = buf[k].r
	}
	b := best2{u1: skip, j1: skipped, c1: skip, u2: math.Inf(1), j2: unassigned}
	for m := range kcol {
		if m >= len(buf) || m == k {
			kcol[m], kcost[m] = 0, math.Inf(1)
			continue
		}
		e, r := buf[m].e, buf[m].r
		j, c := e, costs[e]
		if cols != nil {
			j = cols[e]
		}
		kcol[m], kcost[m] = j, c
		if r < b.u2 {
			if r < b.u1 {
				b.u2, b.j2, b.c2 = b.u1, b.j1, b.c1
				b.u1, b.j1, b.c1 = r, j, c
			} else {
				b.u2, b.j2, b.c2 = r, j, c
			}
		}
	}
	return b
}

// cand is a column (by index e into a row) at reduced cost r.
type cand struct {
	r float64
	e int32
}

// nth reorders c so that c[n] is what it would be if c were sorted by reduced cost, with no
// dearer cand before it and no cheaper one after (quickselect).
func nth(c []cand, n int) {
	lo, hi := 0, len(c)-1
	for lo < hi {
		// Median of three as the pivot.
		mid := lo + (hi-lo)/2
		if c[mid].r < c[lo].r {
			c[mid], c[lo] = c[lo], c[mid]
		}
		if c[hi].r < c[lo].r {
			c[hi], c[lo] = c[lo], c[hi]
		}
		if c[hi].r < c[mid].r {
			c[hi], c[mid] = c[mid], c[hi]
		}
		p := c[mid].r
		i, j := lo, hi
		for i <= j {
			for c[i].r < p {
				i++
			}
			for c[j].r > p {
				j--
			}
			if i <= j {
				c[i], c[j] = c[j], c[i]
				i++
				j--
			}
		}
		switch {
		case n <= j:
			hi = j
		case n >= i:
			lo = i
		default:
			return
		}
	}
}

// cheapest keeps the k+1 cheapest cands offered, in buf (its capacity), sorted by reduced
// cost; top is the dearest of them when buf is full, +Inf before.
type cheapest struct {
	buf []cand
	top float64
}

// add offers e at reduced cost r < top.
func (l *cheapest) add(r float64, e int32) {
	n := len(l.buf)
	if n < cap(l.buf) {
		l.buf = l.buf[:n+1]
	} else {
		n-- // drop the dearest
	}
	for n > 0 && l.buf[n-1].r > r {
		l.buf[n] = l.buf[n-1]
		n--
	}
	l.buf[n] = cand{r, e}
	if len(l.buf) == cap(l.buf) {
		l.top = l.buf[len(l.buf)-1].r
	}
}

// scanRow returns row i's best2 with the given skip, refreshing its candidates when they do
// not settle it.
func (s *Solver) scanRow(i int32, skip float64) best2 {
	k := s.k
	b := scanEdges(skip, s.kcol[int(i)*k:int(i)*k+k], s.kcost[int(i)*k:int(i)*k+k], s.v)
	if b.u2 > s.bound(i) {
		return s.refresh(i, skip)
	}
	return b
}

// bound is the least reduced cost a column off row i's list may have.
func (s *Solver) bound(i int32) float64 {
	if s.fresh[i] {
		return s.tail[i]
	}
	return s.tail[i] - s.vmax
}
