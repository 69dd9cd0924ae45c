package plan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tick is a clock that moves on by a millisecond each time it is read.
func tick() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

// randomRound is a small city round: orders of a few restaurants, couriers idle and busy, some
// ending their shift soon, some orders refusing a courier, and demand hotspots.
func randomRound(tb testing.TB, rng *rand.Rand, orders, couriers int) Input {
	tb.Helper()
	pt := func() Point { return Point{rng.Float64() * 8000, rng.Float64() * 8000} }
	restaurants := make([]Point, 1+orders/3)
	for i := range restaurants {
		restaurants[i] = pt()
	}
	now := min_(600)
	in := Input{Now: now}
	for i := range couriers {
		c := Courier{ID: fmt.Sprint("c", i), At: pt(), FreeAt: now - min_(rng.IntN(10)), OffAt: now + min_(240),
			Orders: rng.IntN(6), Guaranteed: float64(rng.IntN(6))}
		if rng.IntN(3) == 0 {
			c.FreeAt = now + min_(rng.IntN(20))
		}
		if rng.IntN(8) == 0 {
			c.OffAt = now + min_(5+rng.IntN(30))
		}
		in.Couriers = append(in.Couriers, c)
	}
	for i := range orders {
		r := rng.IntN(len(restaurants))
		o := Order{ID: fmt.Sprint("o", i), Restaurant: fmt.Sprint("r", r), Pickup: restaurants[r], Dropoff: pt(),
			Placed: now - min_(rng.IntN(15)), Ready: now + min_(rng.IntN(25))}
		if rng.IntN(10) == 0 && couriers > 0 {
			o.Excluded = []string{in.Couriers[rng.IntN(couriers)].ID}
		}
		in.Orders = append(in.Orders, o)
	}
	for range 3 {
		in.Demand = append(in.Demand, Hotspot{At: pt(), Rate: 10 * rng.Float64()})
	}
	return in
}

// TestDenseCost checks the dense optimum against the planner's on small random cities: never
// above it, equal when every courier is a candidate, and the planner's equal to Plan's cost.
// It also checks PlanTimed against Plan and BothSides between the two optima.
func TestDenseCost(t *testing.T) {
	t.Parallel()
	const eps = 1e-9
	tests := []struct {
		name             string
		orders, couriers int
		k                int
		position, hold   float64
		wantEqual        bool
	}{
		{"scarce couriers", 60, 30, 4, 0, 1000, false},
		{"scarce orders", 30, 60, 4, 0, 1000, false},
		{"square, position, moderate hold", 50, 50, 6, 0.5, 60, false},
		{"every courier a candidate", 40, 25, 25, 0.5, 1000, true},
		{"more candidates than couriers", 25, 10, 64, 0, 1000, true},
		{"no couriers", 5, 0, 4, 0, 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(tt.orders), uint64(tt.couriers)))
			for trial := range 20 {
				in := randomRound(t, rng, tt.orders, tt.couriers)
				p := params(1)
				p.Candidates = tt.k
				p.Weights = DefaultWeights
				p.Weights.Position, p.Weights.Hold = tt.position, tt.hold
				pl := New(p)
				opt, err := pl.DenseCost(in)
				if err != nil {
					t.Fatal(err)
				}
				sparse, dense := opt.Sparse, opt.Dense
				if dense > sparse+eps*math.Abs(sparse) {
					t.Errorf("trial %d: dense optimum %v above the planner's %v", trial, dense, sparse)
				}
				if tt.wantEqual && math.Abs(dense-sparse) > eps*math.Abs(sparse) {
					t.Errorf("trial %d: dense optimum %v, want the planner's %v", trial, dense, sparse)
				}
				plan := pl.Plan(in)
				if opt.SparseHeld != len(plan.Held) {
					t.Errorf("trial %d: DenseCost's sparse optimum holds %d orders, want Plan's %d", trial, opt.SparseHeld, len(plan.Held))
				}
				if math.Abs(plan.Cost-sparse) > eps*math.Abs(sparse) {
					t.Errorf("trial %d: DenseCost's sparse optimum %v, want Plan's cost %v", trial, sparse, plan.Cost)
				}
				timed, ph := pl.PlanTimed(in, BothSides, tick())
				if diff := cmp.Diff(plan, timed); diff != "" {
					t.Errorf("trial %d: PlanTimed differs from Plan (-Plan +PlanTimed):\n%s", trial, diff)
				}
				if ph.Edges == 0 && tt.couriers > 0 {
					t.Errorf("trial %d: PlanTimed priced no pairs", trial)
				}
				if want := (Phases{time.Millisecond, time.Millisecond, time.Millisecond, ph.Edges}); ph != want {
					t.Errorf("trial %d: phases %+v on a clock ticking 1 ms a reading, want %+v", trial, ph, want)
				}
				one, oph := pl.PlanTimed(in, OrderSide, tick())
				if one.Cost < sparse-eps*math.Abs(sparse) {
					t.Errorf("trial %d: the order side's optimum %v, below the planner's %v over more pairs", trial, one.Cost, sparse)
				}
				if oph.Edges > ph.Edges {
					t.Errorf("trial %d: the order side priced %d pairs, more than the planner's %d", trial, oph.Edges, ph.Edges)
				}
				refilled, rph := pl.PlanTimed(in, Refilled, tick())
				if refilled.Cost > sparse+eps*math.Abs(sparse) || refilled.Cost < dense-eps*math.Abs(dense) {
					t.Errorf("trial %d: refilled optimum %v, want between the dense %v and the planner's %v", trial, refilled.Cost, dense, sparse)
				}
				if rph.Edges < ph.Edges {
					t.Errorf("trial %d: refilled priced %d pairs, fewer than the planner's %d", trial, rph.Edges, ph.Edges)
				}
			}
		})
	}
}

// TestParallelRound: a round large enough to be searched and priced in parallel plans exactly
// as one searched and priced in the caller alone (run under -race in CI).
func TestParallelRound(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 2 {
		in := randomRound(t, rng, 6*parallelMin+5, 2*parallelMin+17) // 513 restaurants: each phase in parallel
		p := params(1)
		seq, par := New(p), New(p)
		seq.workers, par.workers = 1, 4
		want, got := seq.Plan(in), par.Plan(in)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("trial %d: the parallel plan differs (-sequential +parallel):\n%s", trial, diff)
		}
		if len(got.Assignments) == 0 {
			t.Errorf("trial %d: no assignments: the test plans nothing", trial)
		}
	}
}

// TestPlanCostIsItsRoutes checks that the routes a plan returns are those it priced: pricing
// a round's pairs builds no routes (only costs), and the chosen ones are built afterwards, so
// the plan's cost must equal its assignments' costs plus its held orders' hold costs, with
// bundles and the position term in play.
func TestPlanCostIsItsRoutes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for n := range 40 {
		in := randomRound(t, rng, 2+n%12, 1+n%7)
		p := params(3)
		pl := New(p)
		got := pl.Plan(in)
		sum := 0.0
		for _, a := range got.Assignments {
			if len(a.Dropoffs) != len(a.Orders) {
				t.Fatalf("round %d: assignment %+v has %d drop-off times for %d orders", n, a, len(a.Dropoffs), len(a.Orders))
			}
			sum += a.Cost
		}
		for _, o := range got.Held {
			sum += pl.holdCost(in.Now, in.Orders, bundle{orders: []int{o}, ready: in.Orders[o].Ready})
		}
		if math.Abs(sum-got.Cost) > 1e-6*max(1, math.Abs(got.Cost)) {
			t.Fatalf("round %d: plan cost %v, its routes and holds %v", n, got.Cost, sum)
		}
	}
}
