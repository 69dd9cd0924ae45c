package assign

// rsearch is the state of one reverse search of clean.
type rsearch struct {
	labelled, scanned uint32  // mark values meaning so in this search
	from              int32   // the column being scanned
	label             float64 // its label
	bound             float64 // the cheapest way out found so far
	exitCol           int32   // it frees this column, or else
	exitRow           int32   // this skipped row takes exitFrom at exitCost
	exitFrom          int32
	exitCost          float64
}

// clean gives every unmatched column the top price, zero, which optimality needs: the exact
// phases start from the auction's prices and may leave a column that the auction priced
// below zero unmatched ("stale"). For each stale column st it runs the mirror image of a
// shortest augmenting path search, over columns: a row may move to the column being scanned,
// releasing its own, and the search ends where releasing a column (its price raised to zero)
// or a skipped row's skip column costs least, raising prices by the labels (JV's dual update
// from the column side). Every row is assigned before and after. column returns the rows that
// may take column j (nil: 0, 1, ...) and the costs of those pairs.
func (s *Solver) clean(skip []float64, column func(j int32) (rows []int32, costs []float64)) {
	stale := s.order[:0] // at most cols
	for j, v := range s.v {
		if v < 0 && s.y[j] == unassigned {
			stale = append(stale, int32(j))
		}
	}
	var q rsearch
	for _, st := range stale {
		// The rows' dual values hold still during a search.
		for i, k := range s.x {
			if k == skipped {
				s.u[i] = skip[i]
			} else {
				s.u[i] = s.xcost[i] - s.v[k]
			}
		}
		id := s.nextSearch()
		q = rsearch{labelled: 2 * id, scanned: 2*id + 1, bound: -s.v[st], exitCol: st}
		s.heap = append(s.heap[:0], item{0, st})
		s.mark[st], s.d[st] = q.labelled, 0
		s.scanned = s.scanned[:0]
		for len(s.heap) > 0 {
			it := s.heap.pop()
			if it.d >= q.bound {
				break
			}
			j := it.j
			if s.mark[j] == q.scanned || it.d > s.d[j] {
				continue
			}
			s.mark[j] = q.scanned
			s.scanned = append(s.scanned, j)
			q.from, q.label = j, it.d
			rows, costs := column(j)
			s.scanColumn(&q, skip, rows, costs)
		}
		for _, j := range s.scanned {
			s.v[j] += q.bound - s.d[j]
		}
		// Walk the path back to st: each row moves to the column it was reached from.
		var i, j int32
		var c float64
		if q.exitCol != unassigned {
			k := q.exitCol
			s.v[k] = 0
			if k == st {
				continue
			}
			i, j, c = s.y[k], s.pred[k], s.predCost[k]
			s.y[k] = unassigned
		} else {
			i, j, c = q.exitRow, q.exitFrom, q.exitCost
		}
		for {
			next := s.y[j]
			s.x[i], s.xcost[i], s.y[j] = j, c, i
			if j == st {
				break
			}
			i, j, c = next, s.pred[j], s.predCost[j]
		}
	}
}

// scanColumn labels, for each row i that may take the column being scanned (rows[n], or n
// when rows is nil, at costs[n]), the column i holds, or notes i's skip column as a way out.
func (s *Solver) scanColumn(q *rsearch, skip []float64, rows []int32, costs []float64) {
	vFrom := s.v[q.from]
	for n, c := range costs {
		i := int32(n)
		if rows != nil {
			i = rows[n]
		}
		l := q.label + c - s.u[i] - vFrom
		if l >= q.bound {
			continue
		}
		k := s.x[i]
		if k == q.from {
			continue
		}
		if k == skipped {
			q.bound, q.exitCol, q.exitRow, q.exitFrom, q.exitCost = l, unassigned, i, q.from, c
			continue
		}
		if m := s.mark[k]; m == q.scanned || m == q.labelled && l >= s.d[k] {
			continue
		}
		s.mark[k], s.d[k], s.pred[k], s.predCost[k] = q.labelled, l, q.from, c
		if e := l - s.v[k]; e < q.bound {
			q.bound, q.exitCol = e, k
		}
		s.heap.push(item{l, k})
	}
}

// nextSearch returns a new search id for the column marks.
func (s *Solver) nextSearch() uint32 {
	if s.searches == 1<<31-1 {
		clear(s.mark)
		s.searches = 0
	}
	s.searches++
	return s.searches
}
