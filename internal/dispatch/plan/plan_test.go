package plan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// travel is the MDRP's travel time: 320 m a minute, rounded up to whole minutes.
func travel(a, b Point) time.Duration {
	return time.Duration(math.Ceil(Distance(a, b)/320)) * time.Minute
}

func params(maxBundle int) Params {
	return Params{Travel: travel, PickupService: 4 * time.Minute, DropoffService: 4 * time.Minute,
		Target: 40 * time.Minute, MaxBundle: maxBundle}
}

func min_(m int) time.Duration { return time.Duration(m) * time.Minute }

// at is a point m metres east of the origin.
func at(m float64) Point { return Point{X: m} }

func TestJustInTime(t *testing.T) {
	// The courier is 10 minutes from the restaurant; the food is ready at 20: it should leave at
	// 8 (arrive at 18, pick up at 20), so at 0 the assignment is planned but not due.
	pl := New(params(1))
	orders := []Order{{ID: "o1", Restaurant: "r1", Pickup: at(0), Dropoff: at(3200), Placed: 0, Ready: min_(20)}}
	couriers := []Courier{{ID: "c1", At: at(3200), OffAt: min_(600)}}
	p := pl.Plan(Input{Now: 0, Orders: orders, Couriers: couriers})
	if len(p.Assignments) != 1 {
		t.Fatalf("plan = %+v, want one assignment", p)
	}
	a := p.Assignments[0]
	if a.Due || a.Depart != min_(8) || a.Arrive != min_(18) || a.Pickup != min_(20) || a.Dropoffs[0] != min_(34) {
		t.Fatalf("assignment = %+v, want depart 8, arrive 18, pickup 20, drop-off 34, not due", a)
	}
	p = pl.Plan(Input{Now: min_(8), Orders: orders, Couriers: couriers})
	if len(p.Assignments) != 1 || !p.Assignments[0].Due {
		t.Fatalf("at 8: plan = %+v, want the assignment due", p)
	}
}

func TestGreedyLeavesAtOnce(t *testing.T) {
	pl := New(Params{Algorithm: Greedy, Travel: travel, PickupService: 4 * time.Minute, DropoffService: 4 * time.Minute})
	orders := []Order{{ID: "o1", Restaurant: "r1", Pickup: at(0), Dropoff: at(3200), Ready: min_(20)}}
	couriers := []Courier{{ID: "far", At: at(6400), OffAt: min_(600)}, {ID: "near", At: at(3200), OffAt: min_(600)}}
	p := pl.Plan(Input{Now: 0, Orders: orders, Couriers: couriers})
	if len(p.Assignments) != 1 {
		t.Fatalf("plan = %+v", p)
	}
	if a := p.Assignments[0]; !a.Due || a.Courier != 1 || a.Depart != 0 || a.Pickup != min_(20) {
		t.Fatalf("assignment = %+v, want the near courier, leaving at 0, due", a)
	}
}

func TestOptimalBeatsGreedyOnACrossing(t *testing.T) {
	// Two orders, two couriers: greedy gives the older order its nearest courier, which leaves
	// the other order with a courier far away; the optimal plan crosses them for less lateness.
	orders := []Order{
		{ID: "old", Restaurant: "a", Pickup: at(0), Dropoff: at(-3200), Placed: 0, Ready: min_(10)},
		{ID: "new", Restaurant: "b", Pickup: at(9600), Dropoff: at(12800), Placed: 0, Ready: min_(1)},
	}
	// Both couriers are 10 minutes from the old order's restaurant; c1 is 20 minutes from the
	// new one's, c2 40.
	couriers := []Courier{{ID: "c1", At: at(3200), OffAt: min_(600)}, {ID: "c2", At: at(-3200), OffAt: min_(600)}}
	opt := New(params(1)).Plan(Input{Orders: orders, Couriers: couriers})
	gp := params(1)
	gp.Algorithm = Greedy
	greedy := New(gp).Plan(Input{Orders: orders, Couriers: couriers})
	if opt.Cost >= greedy.Cost {
		t.Fatalf("optimal cost %.1f, greedy %.1f: want optimal lower", opt.Cost, greedy.Cost)
	}
	for _, a := range opt.Assignments {
		if a.Orders[0] == 1 && a.Courier != 0 {
			t.Fatalf("optimal gave the urgent order to courier %d, want c1", a.Courier)
		}
	}
}

func TestExcludedCourierNeverGetsTheOrder(t *testing.T) {
	orders := []Order{{ID: "o1", Restaurant: "r1", Pickup: at(0), Dropoff: at(3200), Ready: 0, Excluded: []string{"near"}}}
	couriers := []Courier{{ID: "near", At: at(0), OffAt: min_(600)}, {ID: "far", At: at(6400), OffAt: min_(600)}}
	for _, algo := range []Algorithm{Optimal, Greedy} {
		p := params(1)
		p.Algorithm = algo
		plan := New(p).Plan(Input{Orders: orders, Couriers: couriers})
		if len(plan.Assignments) != 1 || plan.Assignments[0].Courier != 1 {
			t.Fatalf("%s: plan = %+v, want the far courier", algo, plan)
		}
	}
}

func TestNoPickupAfterShiftEnd(t *testing.T) {
	orders := []Order{{ID: "o1", Restaurant: "r1", Pickup: at(0), Dropoff: at(3200), Ready: min_(30)}}
	couriers := []Courier{{ID: "leaving", At: at(0), OffAt: min_(29)}}
	for _, algo := range []Algorithm{Optimal, Greedy} {
		p := params(1)
		p.Algorithm = algo
		plan := New(p).Plan(Input{Orders: orders, Couriers: couriers})
		if len(plan.Assignments) != 0 || !slices.Equal(plan.Held, []int{0}) {
			t.Fatalf("%s: plan = %+v, want the order held", algo, plan)
		}
	}
}

func TestBundlesWhenCouriersAreShort(t *testing.T) {
	// Two orders of one restaurant, ready together, one courier: with bundles, one route
	// carries both; without, one order waits for the next round.
	orders := []Order{
		{ID: "o1", Restaurant: "r1", Pickup: at(0), Dropoff: at(1600), Ready: min_(5)},
		{ID: "o2", Restaurant: "r1", Pickup: at(0), Dropoff: at(3200), Ready: min_(6)},
	}
	couriers := []Courier{{ID: "c1", At: at(320), OffAt: min_(600)}}
	p := New(params(2)).Plan(Input{Orders: orders, Couriers: couriers})
	if len(p.Assignments) != 1 || len(p.Assignments[0].Orders) != 2 || len(p.Held) != 0 {
		t.Fatalf("plan = %+v, want one bundle of both", p)
	}
	a := p.Assignments[0]
	if !slices.Equal(a.Orders, []int{0, 1}) {
		t.Fatalf("drop-off sequence %v, want the nearer drop-off first", a.Orders)
	}
	// Pickup at 6 (the later ready time), drop-offs at 6+2+5+2 = 15 and 15+2+5+2 = 24.
	if a.Pickup != min_(6) || !slices.Equal(a.Dropoffs, []time.Duration{min_(15), min_(24)}) {
		t.Fatalf("times: pickup %v drop-offs %v", a.Pickup, a.Dropoffs)
	}
	single := New(params(1)).Plan(Input{Orders: orders, Couriers: couriers})
	if len(single.Held) != 1 {
		t.Fatalf("without bundles: plan = %+v, want one order held", single)
	}
}

func TestNoBundleWhenCouriersAreEnough(t *testing.T) {
	orders := []Order{
		{ID: "o1", Restaurant: "r1", Pickup: at(0), Dropoff: at(1600), Ready: min_(5)},
		{ID: "o2", Restaurant: "r1", Pickup: at(0), Dropoff: at(-3200), Ready: min_(6)},
	}
	couriers := []Courier{{ID: "c1", At: at(320), OffAt: min_(600)}, {ID: "c2", At: at(-320), OffAt: min_(600)}}
	p := New(params(2)).Plan(Input{Orders: orders, Couriers: couriers})
	if len(p.Assignments) != 2 {
		t.Fatalf("plan = %+v, want two single-order routes", p)
	}
}

func TestBusyCourierPlannedFromWhereItWillBe(t *testing.T) {
	// The busy courier frees up at the restaurant at 3; the idle one is 20 minutes away: the
	// order (ready at 5) goes to the busy one, which is not due until it is free.
	orders := []Order{{ID: "o1", Restaurant: "r1", Pickup: at(0), Dropoff: at(3200), Ready: min_(5)}}
	couriers := []Courier{{ID: "idle", At: at(6400), OffAt: min_(600)}, {ID: "busy", At: at(0), FreeAt: min_(3), OffAt: min_(600)}}
	p := New(params(1)).Plan(Input{Orders: orders, Couriers: couriers})
	if len(p.Assignments) != 1 || p.Assignments[0].Courier != 1 || p.Assignments[0].Due {
		t.Fatalf("plan = %+v, want the busy courier, not yet due", p)
	}
}

// TestCandidatesAreTheFirstToArrive checks the R-tree walk against sorting every courier by
// arrival time.
func TestCandidatesAreTheFirstToArrive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + rng.IntN(150)
		couriers := make([]Courier, n)
		for i := range couriers {
			couriers[i] = Courier{ID: fmt.Sprint(i), At: Point{rng.Float64() * 10000, rng.Float64() * 10000},
				FreeAt: min_(rng.IntN(30)), OffAt: min_(600)}
		}
		p := params(1)
		p.Candidates = 1 + rng.IntN(20)
		pl := New(p)
		now := min_(rng.IntN(20))
		r := &round{pl: pl, now: now, couriers: couriers}
		for ci, c := range couriers {
			pt := [2]float64{c.At.X, c.At.Y}
			pl.tree.Insert(pt, pt, ci)
		}
		target := Point{rng.Float64() * 10000, rng.Float64() * 10000}
		got := r.candidates(target)
		arrive := func(ci int) time.Duration { return max(now, couriers[ci].FreeAt) + travel(couriers[ci].At, target) }
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		slices.SortFunc(all, func(a, b int) int {
			if d := arrive(a) - arrive(b); d != 0 {
				return int(d)
			}
			return a - b
		})
		want := all[:min(n, p.Candidates)]
		// Ties at the k-th arrival may be broken either way: compare arrival times.
		if len(got) != len(want) {
			t.Fatalf("trial %d: %d candidates, want %d", trial, len(got), len(want))
		}
		for i := range got {
			if arrive(got[i]) != arrive(want[i]) {
				t.Fatalf("trial %d: candidate %d arrives at %v, want %v", trial, i, arrive(got[i]), arrive(want[i]))
			}
		}
		pl.tree.Clear()
	}
}

func TestDemandKeepsCouriersWhereOrdersComeFrom(t *testing.T) {
	// Both couriers reach the restaurant in time for the food; one waits among the busy
	// restaurants (demand at 0), the other out of town: the optimal plan sends the one out of
	// town and keeps the other where the next orders will come from.
	orders := []Order{{ID: "o1", Restaurant: "r1", Pickup: at(3200), Dropoff: at(6400), Ready: min_(30)}}
	couriers := []Courier{{ID: "downtown", At: at(0), OffAt: min_(600)}, {ID: "suburb", At: at(9600), OffAt: min_(600)}}
	demand := []Hotspot{{At: at(0), Rate: 20}, {At: at(320), Rate: 20}}
	p := New(params(1)).Plan(Input{Orders: orders, Couriers: couriers, Demand: demand})
	if len(p.Assignments) != 1 || p.Assignments[0].Courier != 1 {
		t.Fatalf("plan = %+v, want the suburban courier", p)
	}
	if a := p.Assignments[0]; a.Pickup != min_(30) {
		t.Fatalf("pickup at %v, want 30m (on time)", a.Pickup)
	}
}
