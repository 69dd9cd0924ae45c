package assign

// search is the state of one shortest augmenting path search.
type search struct {
	labelled, scanned uint32  // mark values meaning so in this search
	bound             float64 // the shortest way out found so far
	end               int32   // it ends at this free column, or else at exitRow's skip column
	exitRow           int32
}

// augment assigns the free row f along a shortest augmenting path (JV's augmentation phase),
// found by Dijkstra's algorithm over reduced costs with a binary heap. Labels are relative to
// f: d[j] is the length of the shortest path to column j in reduced costs plus f's own dual
// value. Free columns and skip columns are never queued: each one reached only lowers the
// bound, labels at or above the bound are dropped, and the search ends when the heap holds
// nothing below it. A row's columns off its candidate list are queued as one item keyed by the
// least they can cost (see bound) and labelled only if the search gets that far.
func (s *Solver) augment(f int32, skip []float64) {
	id := s.nextSearch()
	q := search{labelled: 2 * id, scanned: 2*id + 1, bound: skip[f], end: unassigned, exitRow: f}
	s.heap = s.heap[:0]
	s.scanned = s.scanned[:0]
	s.relax(&q, f, 0)
	for len(s.heap) > 0 {
		it := s.heap.pop()
		if it.d >= q.bound {
			break
		}
		j := it.j
		if j < 0 {
			i := -j - 1
			s.relaxRow(&q, i, s.h[i])
			continue
		}
		if s.mark[j] == q.scanned || it.d > s.d[j] {
			continue // stale
		}
		s.mark[j] = q.scanned
		s.scanned = append(s.scanned, j)
		i := s.y[j]
		h := it.d - (s.xcost[i] - s.v[j])
		if e := h + skip[i]; e < q.bound {
			q.bound, q.end, q.exitRow = e, unassigned, i
		}
		s.relax(&q, i, h)
	}
	for _, j := range s.scanned {
		s.v[j] += s.d[j] - q.bound
	}
	j := q.end
	if j == unassigned {
		i := q.exitRow
		j = s.x[i]
		s.x[i], s.xcost[i] = skipped, skip[i]
		if i == f {
			return
		}
	}
	for {
		i := s.pred[j]
		s.y[j] = i
		s.xcost[i] = s.predCost[j]
		j, s.x[i] = s.x[i], j
		if i == f {
			return
		}
	}
}

// relax labels the candidate columns of row i, which the search reached at distance h, and
// queues the rest of the row keyed by its tail.
func (s *Solver) relax(q *search, i int32, h float64) {
	ecol, ecost := s.kcol[int(i)*s.k:int(i)*s.k+s.k], s.kcost[int(i)*s.k:int(i)*s.k+s.k]
	for k, j := range ecol {
		m := s.mark[j]
		if m == q.scanned {
			continue
		}
		r := h + ecost[k] - s.v[j]
		if r >= q.bound || m == q.labelled && r >= s.d[j] {
			continue
		}
		s.mark[j], s.d[j], s.pred[j], s.predCost[j] = q.labelled, r, i, ecost[k]
		if s.y[j] == unassigned {
			q.bound, q.end = r, j
			continue
		}
		s.heap.push(item{r, j})
	}
	if r := h + s.bound(i); r < q.bound {
		s.h[i] = h
		s.heap.push(item{r, -i - 1})
	}
}

// relaxRow labels every column of row i (the dense row, or all the row's edges) at distance
// h.
func (s *Solver) relaxRow(q *search, i int32, h float64) {
	if s.dense {
		s.relaxAll(q, i, h, nil, s.matrix[int(i)*s.cols:int(i)*s.cols+s.cols])
		return
	}
	lo, hi := s.estart[i], s.estart[i+1]
	s.relaxAll(q, i, h, s.ecol[lo:hi], s.ecost[lo:hi])
}

// relaxAll is relaxRow over the row's columns cols (nil: 0, 1, ...) costing costs.
func (s *Solver) relaxAll(q *search, i int32, h float64, cols []int32, costs []float64) {
	for e, c := range costs {
		j := int32(e)
		if cols != nil {
			j = cols[e]
		}
		m := s.mark[j]
		if m == q.scanned {
			continue
		}
		r := h + c - s.v[j]
		if r >= q.bound || m == q.labelled && r >= s.d[j] {
			continue
		}
		s.mark[j], s.d[j], s.pred[j], s.predCost[j] = q.labelled, r, i, c
		if s.y[j] == unassigned {
			q.bound, q.end = r, j
			continue
		}
		s.heap.push(item{r, j})
	}
}
