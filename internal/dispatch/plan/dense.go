package plan

import (
	"fmt"
	"math"
	"time"

	"github.com/tiffin-dev/tiffin/internal/dispatch/assign"
)

// Optima are two optima of one round's assignment, priced alike.
type Optima struct {
	// Sparse is the planner's: over its candidate pairs (BothSides).
	Sparse float64
	// Dense is over every courier for every order.
	Dense float64
	// SparseHeld and DenseHeld count the orders each leaves unassigned.
	SparseHeld, DenseHeld int
}

// DenseCost returns two optima of one round of single orders (no bundles, whatever
// Params.MaxBundle): the planner's, over its candidate pairs (BothSides: the cost of Plan's
// plan with MaxBundle 1), and the dense one, over every courier for every order, priced
// alike: the same routes and position term, the same pairs ruled out (excluded couriers, shifts
// ending before the pickup), the same hold cost per order. The dense cost is never above the
// planner's; they are equal when every pair of a dense optimum is a candidate pair. It
// holds the dense matrix, 8 bytes per (order, courier) pair, and prices every pair. The error
// is the dense solver's on input it cannot take, which valid Orders and Couriers never are.
func (pl *Planner) DenseCost(in Input) (Optima, error) {
	sp, _ := pl.PlanTimed(in, BothSides, func() time.Time { return time.Time{} })
	n, m := len(in.Orders), len(in.Couriers)
	if m > 0 && n > math.MaxInt/m {
		return Optima{}, fmt.Errorf("plan: dense cost: %d orders x %d couriers do not fit", n, m)
	}
	r := pl.begin(in)
	all := make([]int, m)
	for ci := range all {
		all[ci] = ci
	}
	for o := range in.Orders {
		r.cands[in.Orders[o].Restaurant] = all
	}
	cost := make([]float64, n*m)
	for i := range cost {
		cost[i] = math.Inf(1)
	}
	skip := make([]float64, n)
	for o := range in.Orders {
		// One row at a time: its pairs are garbage once their costs are in the matrix.
		rw := r.row(bundle{orders: []int{o}, ready: in.Orders[o].Ready})
		skip[o] = pl.holdCost(in.Now, in.Orders, rw.b)
		for _, pr := range rw.pairs {
			cost[o*m+int(pr.courier)] = pr.cost
		}
	}
	// A solver of its own, so that the planner's keeps no scratch the size of the matrix.
	res, err := assign.Dense(n, m, cost, skip)
	if err != nil {
		return Optima{}, fmt.Errorf("plan: dense cost of %d orders x %d couriers: %w", n, m, err)
	}
	o := Optima{Sparse: sp.Cost, Dense: res.Cost, SparseHeld: len(sp.Held)}
	for _, ci := range res.Col {
		if ci < 0 {
			o.DenseHeld++
		}
	}
	return o, nil
}
