package plan

import (
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tidwall/rtree"
)

// Measuring rounds. PlanTimed and DenseCost (dense.go) take an optimal round apart for
// benchmarks: they run its phases one after the other through the same methods as optimal
// (candidates, row, solve), so what they time and price is what Plan does.

// Edges names the (order, courier) pairs a measured round prices.
type Edges int

const (
	// OrderSide pairs each order with the Params.Candidates couriers first to reach its
	// restaurant only (the planner's candidates until 2026-11-30, kept for comparison).
	OrderSide Edges = iota
	// BothSides adds, for each courier, the orders of the restaurants it reaches first, nearest
	// first, until they number Params.Candidates: pairs no order listed, which the optimum needs
	// when an order's own couriers are all taken while couriers further away stay idle. These
	// are the planner's candidates.
	BothSides
	// Refilled is BothSides, then, while the optimum holds orders and that lowers its cost,
	// each restaurant with a held order also gets the Params.Candidates couriers first to reach
	// it among those the optimum leaves idle, and the round is priced and solved again (at
	// most refills times).
	Refilled
)

// refills is the most times Refilled solves a round again.
const refills = 3

// Phases is what each phase of a measured round took.
type Phases struct {
	Candidates time.Duration // the R-tree of couriers and the candidate search
	Pricing    time.Duration // a route for every candidate pair
	Solve      time.Duration // the exact assignment
	Edges      int           // the pairs priced that can be assigned
}

// PlanTimed plans one round as Plan does for single orders, over the pairs e names, timing
// each phase with clock (time.Now for wall time; the planner reads no clock of its own). It
// ignores Params.Algorithm and MaxBundle: with BothSides its plan is the optimal planner's with
// MaxBundle 1. It is for benchmarks; Plan is the planner.
func (pl *Planner) PlanTimed(in Input, e Edges, clock func() time.Time) (Plan, Phases) {
	var ph Phases
	t0 := clock()
	r := pl.begin(in)
	r.findCandidates()
	if e == BothSides || e == Refilled {
		r.addCourierSide(pl.p.Candidates)
	}
	t1 := clock()
	rows := r.singles()
	t2 := clock()
	p := r.solve(rows)
	t3 := clock()
	ph.Candidates, ph.Pricing, ph.Solve = t1.Sub(t0), t2.Sub(t1), t3.Sub(t2)
	if e == Refilled {
		p = r.refill(rows, p, &ph, clock)
	}
	for _, rw := range rows {
		ph.Edges += len(rw.pairs)
	}
	return p, ph
}

// refill is Refilled's second part: from p, the optimum over rows, it adds to each restaurant
// with a held order the couriers first to reach it among those p leaves idle, prices that
// restaurant's rows again and solves again, while orders are held, couriers are added and the
// cost falls. It replaces the rows it prices again in rows, adds its time to ph and returns
// the last optimum.
func (r *round) refill(rows []*row, p Plan, ph *Phases, clock func() time.Time) Plan {
	for range refills {
		if len(p.Held) == 0 {
			return p
		}
		t0 := clock()
		taken := make([]bool, len(r.couriers))
		for _, a := range p.Assignments {
			taken[a.Courier] = true
		}
		r.pl.tree.Clear()
		for ci := range r.couriers {
			if c := &r.couriers[ci]; !taken[ci] && c.OffAt >= r.now {
				pt := [2]float64{c.At.X, c.At.Y}
				r.pl.tree.Insert(pt, pt, ci)
			}
		}
		grown := make(map[string]bool) // restaurant looked at -> couriers were added to it
		added := 0
		for _, o := range p.Held {
			name := r.orders[o].Restaurant
			if _, ok := grown[name]; ok {
				continue
			}
			list := r.cands[name]
			n := len(list)
			for _, ci := range r.candidates(r.orders[o].Pickup) {
				if !slices.Contains(list, ci) {
					list = append(list, ci)
				}
			}
			r.cands[name] = list
			grown[name] = len(list) > n
			added += len(list) - n
		}
		t1 := clock()
		ph.Candidates += t1.Sub(t0)
		if added == 0 {
			return p
		}
		for i, rw := range rows {
			if grown[r.orders[rw.b.orders[0]].Restaurant] {
				rows[i] = r.row(rw.b)
			}
		}
		t2 := clock()
		next := r.solve(rows)
		t3 := clock()
		ph.Pricing += t2.Sub(t1)
		ph.Solve += t3.Sub(t2)
		if next.Cost >= p.Cost-1e-9 {
			return next
		}
		p = next
	}
	return p
}

// begin readies a round of in: the expected demand near each courier and
// drop-off, and the R-tree of the couriers still on shift.
func (pl *Planner) begin(in Input) *round {
	r := &round{pl: pl, now: in.Now, orders: in.Orders, couriers: in.Couriers, cands: make(map[string][]int)}
	if pl.p.Weights.Position != 0 && len(in.Demand) > 0 {
		r.courierValue = make([]float64, len(r.couriers))
		for ci := range r.couriers {
			r.courierValue[ci] = pl.value(in.Demand, r.couriers[ci].At)
		}
		r.dropValue = make([]float64, len(r.orders))
		for o := range r.orders {
			r.dropValue[o] = pl.value(in.Demand, r.orders[o].Dropoff)
		}
	}
	pl.tree.Clear()
	for ci := range r.couriers {
		c := &r.couriers[ci]
		if c.OffAt < r.now {
			continue
		}
		pt := [2]float64{c.At.X, c.At.Y}
		pl.tree.Insert(pt, pt, ci)
	}
	return r
}

// findCandidates finds each restaurant's candidate couriers, restaurants in the order their
// first orders come, sharing the couriers out: a courier already on the candidate lists of
// n*k/C orders (its fair share: n orders, k candidates each, C couriers) is passed over. Without
// that, every restaurant of a crowded hub gets the same k couriers nearest the hub and the
// hub's orders beyond them none; with it, later restaurants there reach further out.
// (bench dispatch, 1,000 x 1,000: +0.68% -> +0.16% over the dense optimum; 10,000 x 10,000:
// held orders 2,000 -> 560 a round.)
func (r *round) findCandidates() {
	count := make(map[string]int)
	var names []string
	var at []Point
	for o := range r.orders {
		name := r.orders[o].Restaurant
		if count[name] == 0 {
			names = append(names, name)
			at = append(at, r.orders[o].Pickup)
		}
		count[name]++
	}
	share := (len(r.orders)*r.pl.p.Candidates + len(r.couriers) - 1) / max(1, len(r.couriers))
	load := make([]int, len(r.couriers))
	full := func(ci int) bool { return load[ci] >= share }
	for i, name := range names {
		list := r.candidatesSkip(at[i], full)
		for _, ci := range list {
			if load[ci] += count[name]; full(ci) {
				// Out of the tree, so that later searches do not walk past it. (The tree
				// is not searched again this round but by refill, which rebuilds it.)
				pt := [2]float64{r.couriers[ci].At.X, r.couriers[ci].At.Y}
				r.pl.tree.Delete(pt, pt, ci)
			}
		}
		r.cands[name] = list
	}
}

// singles prices every order, a row of its own, with its restaurant's candidates, orders in
// parallel when there are many.
func (r *round) singles() []*row {
	rows := make([]*row, len(r.orders))
	r.pl.parallel(len(r.orders), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			rows[o] = r.row(bundle{orders: []int{o}, ready: r.orders[o].Ready})
		}
	})
	return rows
}

// parallelMin is the least work items worth spreading over goroutines.
const parallelMin = 256

// parallel runs fn over [0, n) split into one contiguous part per worker (Planner.workers, else
// GOMAXPROCS), at once, or in the caller alone when n < parallelMin. fn must only read shared
// state, or write to its own part.
func (pl *Planner) parallel(n int, fn func(lo, hi int)) {
	workers := pl.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n/parallelMin)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// addCourierSide adds the courier side of BothSides to the candidates: each courier on shift
// walks the restaurants outward from where it will be free (for one courier, the nearest
// restaurant is the first it reaches) and becomes a candidate of each until those it has
// taken hold k orders.
func (r *round) addCourierSide(k int) {
	type place struct {
		name   string
		orders int
	}
	var places []place
	index := make(map[string]int)
	var tree rtree.RTreeG[int]
	for o := range r.orders {
		name := r.orders[o].Restaurant
		pi, ok := index[name]
		if !ok {
			pi = len(places)
			index[name] = pi
			places = append(places, place{name: name})
			pt := [2]float64{r.orders[o].Pickup.X, r.orders[o].Pickup.Y}
			tree.Insert(pt, pt, pi)
		}
		places[pi].orders++
	}
	// Each courier's restaurants (couriers in parallel: the tree is only read), then each
	// restaurant's couriers in courier order.
	reach := make([][]int, len(r.couriers))
	r.pl.parallel(len(r.couriers), func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			c := &r.couriers[ci]
			if c.OffAt < r.now {
				continue
			}
			n := 0
			tree.Nearby(
				func(min, max [2]float64, _ int, _ bool) float64 { return boxDistance(c.At, min, max) },
				func(_, _ [2]float64, pi int, _ float64) bool {
					reach[ci] = append(reach[ci], pi)
					n += places[pi].orders
					return n < k
				},
			)
		}
	})
	extra := make([][]int, len(places))
	for ci, pis := range reach {
		for _, pi := range pis {
			extra[pi] = append(extra[pi], ci)
		}
	}
	// Merge, skipping couriers already on a restaurant's list: stamp[ci] is pi+1 when
	// courier ci is on place pi's.
	stamp := make([]int, len(r.couriers))
	for pi, add := range extra {
		if len(add) == 0 {
			continue
		}
		list := r.cands[places[pi].name]
		for _, ci := range list {
			stamp[ci] = pi + 1
		}
		for _, ci := range add {
			if stamp[ci] != pi+1 {
				list = append(list, ci)
			}
		}
		r.cands[places[pi].name] = list
	}
}
