package plan

import (
	"cmp"
	"container/heap"
	"slices"
	"time"

	"github.com/tiffin-dev/tiffin/internal/dispatch/assign"
)

// round is the working state of one optimal round.
type round struct {
	pl       *Planner
	now      time.Duration
	orders   []Order
	couriers []Courier
	// cands maps a restaurant to its candidate couriers (indexes), nearest in time first.
	cands map[string][]int
	edges []assign.Edge
	skip  []float64
	// courierValue and dropValue are the expected demand near each courier and each order's
	// drop-off (nil without Input.Demand).
	courierValue, dropValue []float64
}

// value is the expected demand near p: each hotspot's rate, weighted down linearly with the
// travel time to it until zero at Params.Reach.
func (pl *Planner) value(demand []Hotspot, p Point) float64 {
	v := 0.0
	for _, h := range demand {
		if t := pl.p.Travel(p, h.At); t < pl.p.Reach {
			v += h.Rate * (1 - float64(t)/float64(pl.p.Reach))
		}
	}
	return v
}

func (pl *Planner) optimal(in Input) Plan {
	r := pl.begin(in)
	r.findCandidates()
	r.addCourierSide(pl.p.Candidates)
	rows := r.singles()
	best := r.solve(rows)
	if pl.p.MaxBundle > 1 && r.worthBundling(best) {
		_, best = r.bundle(rows, best)
	}
	return best
}

// row is a bundle and its cost with each candidate courier.
type row struct {
	b     bundle
	pairs []pair
}

// pair is a candidate courier of a row and the cost of the row's route with it.
type pair struct {
	courier int32
	cost    float64
}

// row prices bundle b with each of its restaurant's candidate couriers.
func (r *round) row(b bundle) *row {
	list := r.cands[r.orders[b.orders[0]].Restaurant]
	out := &row{b: b, pairs: make([]pair, 0, len(list))}
	for _, ci := range list {
		c := &r.couriers[ci]
		if excluded(r.orders, b, c.ID) {
			continue
		}
		a, ok := r.pl.route(r.now, r.orders, b, c, true, false)
		if !ok {
			continue
		}
		out.pairs = append(out.pairs, pair{int32(ci), a.Cost + r.position(b, ci)}) // #nosec G115 -- an index into one planning round's couriers or rows, bounded far below 2^31
	}
	return out
}

// position is the position term of a route of b by courier ci (0 without Input.Demand).
func (r *round) position(b bundle, ci int) float64 {
	if r.courierValue == nil {
		return 0
	}
	last := b.orders[len(b.orders)-1]
	return r.pl.p.Weights.Position * (r.courierValue[ci] - r.dropValue[last])
}

// assignment is row rw's route with courier ci, as priced.
func (r *round) assignment(rw *row, ci int) Assignment {
	a, _ := r.pl.route(r.now, r.orders, rw.b, &r.couriers[ci], true, true)
	a.Courier = ci
	a.Cost += r.position(rw.b, ci)
	return a
}

// solve matches rows to couriers at minimum cost.
func (r *round) solve(rows []*row) Plan {
	r.edges = r.edges[:0]
	r.skip = r.skip[:0]
	for i, rw := range rows {
		r.skip = append(r.skip, r.pl.holdCost(r.now, r.orders, rw.b))
		for _, pr := range rw.pairs {
			r.edges = append(r.edges, assign.Edge{Row: int32(i), Col: pr.courier, Cost: pr.cost})
		}
	}
	res, err := r.pl.solver.Sparse(len(rows), len(r.couriers), r.edges, r.skip)
	if err != nil {
		// The edges are built above from valid indexes and finite costs.
		panic("plan: " + err.Error())
	}
	p := Plan{Cost: res.Cost}
	for i, ci := range res.Col {
		if ci < 0 {
			p.Held = append(p.Held, rows[i].b.orders...)
			continue
		}
		p.Assignments = append(p.Assignments, r.assignment(rows[i], ci))
	}
	slices.Sort(p.Held)
	return p
}

// heldSoon is how soon a held order's food must be ready for its holding to call for bundles.
const heldSoon = 15 * time.Minute

// worthBundling reports whether bundles could change what this round commits: only when p
// holds an order whose food is ready soon (a bundle may carry it) or commits a route while some food waits for its
// courier (a bundle may free a courier for it). Otherwise the round commits the same routes
// either way, and the next round looks again.
func (r *round) worthBundling(p Plan) bool {
	for _, o := range p.Held {
		if r.orders[o].Ready <= r.now+heldSoon {
			return true
		}
	}
	due, waits := false, false
	for _, a := range p.Assignments {
		due = due || a.Due
		for _, o := range a.Orders {
			waits = waits || a.Pickup > r.orders[o].Ready
		}
	}
	return due && waits
}

// maxMergeTrials bounds the merges one bundling pass prices (one assignment solve each).
const maxMergeTrials = 200

// bundle merges rows of one restaurant where that lowers the optimal assignment's cost. Each
// pass prices every candidate merge alone (re-solving the assignment), then applies the
// improving merges that do not overlap, best first, and keeps them together if that beats
// the best merge alone. A pass can merge an earlier pass's bundles, up to MaxBundle orders.
func (r *round) bundle(rows []*row, cur Plan) ([]*row, Plan) {
	for pass := 1; pass < r.pl.p.MaxBundle; pass++ {
		// Only the rows whose plan matters now are worth merging: those held, those due to
		// leave, and those whose food would wait.
		urgent := make(map[*row]bool)
		for _, o := range cur.Held {
			urgent[r.rowOf(rows, o)] = true
		}
		for _, a := range cur.Assignments {
			if a.Due || a.Pickup > r.orders[a.Orders[0]].Ready {
				urgent[r.rowOf(rows, a.Orders[0])] = true
			}
		}
		type merge struct {
			i, j int
			m    *row
			plan Plan
		}
		var better []merge
		trials := 0
		for i := 0; i < len(rows) && trials < maxMergeTrials; i++ {
			for j := i + 1; j < len(rows) && trials < maxMergeTrials; j++ {
				a, b := rows[i], rows[j]
				if !(urgent[a] || urgent[b]) || !r.mergeable(a.b, b.b) {
					continue
				}
				trials++
				m := r.row(r.merge(a.b, b.b))
				if p := r.solve(replaced(rows, []int{i, j}, []*row{m})); p.Cost < cur.Cost-1e-9 {
					better = append(better, merge{i, j, m, p})
				}
			}
		}
		if len(better) == 0 {
			return rows, cur
		}
		slices.SortStableFunc(better, func(x, y merge) int { return cmp.Compare(x.plan.Cost, y.plan.Cost) })
		best := better[0]
		var drop []int
		var add []*row
		used := make(map[int]bool)
		for _, m := range better {
			if !used[m.i] && !used[m.j] {
				used[m.i], used[m.j] = true, true
				drop = append(drop, m.i, m.j)
				add = append(add, m.m)
			}
		}
		together := replaced(rows, drop, add)
		if p := r.solve(together); len(add) > 1 && p.Cost < best.plan.Cost-1e-9 {
			rows, cur = together, p
		} else {
			rows, cur = replaced(rows, []int{best.i, best.j}, []*row{best.m}), best.plan
		}
	}
	return rows, cur
}

// replaced returns rows without the rows at drop, with add appended.
func replaced(rows []*row, drop []int, add []*row) []*row {
	out := make([]*row, 0, len(rows)-len(drop)+len(add))
	for k, rw := range rows {
		if !slices.Contains(drop, k) {
			out = append(out, rw)
		}
	}
	return append(out, add...)
}

// rowOf returns the row holding order o.
func (r *round) rowOf(rows []*row, o int) *row {
	for _, rw := range rows {
		if slices.Contains(rw.b.orders, o) {
			return rw
		}
	}
	return nil
}

// mergeable reports whether a and b may ride together: one restaurant, close ready times, not
// too many orders.
func (r *round) mergeable(a, b bundle) bool {
	oa, ob := r.orders[a.orders[0]], r.orders[b.orders[0]]
	if oa.Restaurant != ob.Restaurant || len(a.orders)+len(b.orders) > r.pl.p.MaxBundle {
		return false
	}
	lo, hi := a.ready, a.ready
	for _, x := range [][]int{a.orders, b.orders} {
		for _, o := range x {
			lo, hi = min(lo, r.orders[o].Ready), max(hi, r.orders[o].Ready)
		}
	}
	return hi-lo <= r.pl.p.BundleWindow
}

// merge joins a and b, their drop-offs in the sequence with the least total click-to-door from
// the pickup.
func (r *round) merge(a, b bundle) bundle {
	all := append(slices.Clone(a.orders), b.orders...)
	m := bundle{ready: max(a.ready, b.ready)}
	pickup := r.orders[all[0]].Pickup
	best := -1.0
	permute(all, func(seq []int) {
		total, at, t := 0.0, pickup, time.Duration(0)
		for _, o := range seq {
			t += r.pl.p.Travel(at, r.orders[o].Dropoff) + r.pl.p.DropoffService
			at = r.orders[o].Dropoff
			total += float64(t)
		}
		if best < 0 || total < best {
			best, m.orders = total, slices.Clone(seq)
		}
	})
	return m
}

// permute calls f with every permutation of s (in place; f must not keep it).
func permute(s []int, f func([]int)) {
	var rec func(k int)
	rec = func(k int) {
		if k == len(s) {
			f(s)
			return
		}
		for i := k; i < len(s); i++ {
			s[k], s[i] = s[i], s[k]
			rec(k + 1)
			s[k], s[i] = s[i], s[k]
		}
	}
	rec(0)
}

// candidates returns the k couriers that can reach p first, nearest in time first. It walks
// the R-tree outwards by distance and stops once a courier further away could not arrive
// before the k-th best, since travel time does not decrease with distance.
func (r *round) candidates(p Point) []int { return r.candidatesSkip(p, nil) }

// candidatesSkip is candidates without the couriers full reports (nil: none).
func (r *round) candidatesSkip(p Point, full func(ci int) bool) []int {
	k := r.pl.p.Candidates
	h := &arrivalHeap{}
	r.pl.tree.Nearby(
		func(min, max [2]float64, _ int, _ bool) float64 { return boxDistance(p, min, max) },
		func(min, _ [2]float64, ci int, _ float64) bool {
			c := &r.couriers[ci]
			travel := r.pl.p.Travel(c.At, p)
			if full != nil && full(ci) {
				return true
			}
			if h.Len() == k && r.now+travel >= (*h)[0].at {
				return false
			}
			at := max(r.now, c.FreeAt) + travel
			if h.Len() < k {
				heap.Push(h, arrival{ci, at})
			} else if at < (*h)[0].at {
				(*h)[0] = arrival{ci, at}
				heap.Fix(h, 0)
			}
			return true
		},
	)
	out := make([]arrival, len(*h))
	copy(out, *h)
	slices.SortFunc(out, func(a, b arrival) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.courier, b.courier)) })
	ids := make([]int, len(out))
	for i, a := range out {
		ids[i] = a.courier
	}
	return ids
}

// boxDistance is the distance from p to the rectangle [min, max].
func boxDistance(p Point, min, max [2]float64) float64 {
	dx := max0(min[0]-p.X, p.X-max[0])
	dy := max0(min[1]-p.Y, p.Y-max[1])
	return Distance(Point{}, Point{dx, dy})
}

func max0(a, b float64) float64 { return max(0, a, b) }

// arrival is a candidate courier and when it could reach the restaurant.
type arrival struct {
	courier int
	at      time.Duration
}

// arrivalHeap is a max-heap on arrival time: the root is the worst of the best k.
type arrivalHeap []arrival

func (h arrivalHeap) Len() int           { return len(h) }
func (h arrivalHeap) Less(i, j int) bool { return h[i].at > h[j].at }
func (h arrivalHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *arrivalHeap) Push(x any)        { *h = append(*h, x.(arrival)) }
func (h *arrivalHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
