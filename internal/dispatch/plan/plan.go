// Package plan is the dispatch planner: given the open orders and the couriers of a region at
// one instant, it decides which courier should carry which orders, in which drop-off sequence
// and when, and which orders to hold for a later round. It is pure: no I/O, no clock; the
// caller passes the time in and acts on the plan (the live service makes offers; the MDRP
// replay commits routes in a simulated day).
//
// # The optimal planner
//
// Each round is a rolling-horizon step in the manner of Reyes et al. ("The Meal Delivery
// Routing Problem", Optimization Online 6571, 2018) with an exact assignment at its core:
//
//  1. Candidates. For each open order, the k couriers that could reach its restaurant first
//     (idle couriers where they are, busy ones where and when their current route ends),
//     found through an R-tree of courier positions (github.com/tidwall/rtree) walked in order
//     of distance until no courier further away can arrive sooner.
//  2. Cost. A courier's cost for a bundle is the click-to-door minutes of its orders, with
//     extra weight on minutes past the promised time and on minutes the food waits for the
//     courier, plus the minutes the route occupies the courier and the pay it adds beyond the
//     courier's guaranteed minimum (which also keeps couriers below their minimum from
//     starving). A courier not due to be free soon enough, or one that could not pick up
//     before its shift ends, is no candidate.
//  3. Assignment. The rows (bundles) are matched to couriers at minimum total cost, each row
//     free to stay unmatched at the hold cost, by the exact solver in package assign.
//  4. Bundles. Orders of one restaurant whose ready times are close may be merged into one
//     row; a merge is kept only if it lowers the optimal assignment's cost (re-solved), so
//     orders are bundled exactly when couriers are short enough for it to pay.
//  5. Commitment. Assignments are prep-time aware: a courier is planned to arrive as the
//     food becomes ready, not earlier. An assignment is due (to be offered now) only when its
//     courier is free and must leave within Params.Lead; every other order is held and
//     planned again next round, with what has changed since.
//
// The greedy planner, the baseline, gives each order (oldest first) at once to the free
// courier that can reach its restaurant first.
package plan

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/tidwall/rtree"

	"github.com/tiffin-dev/tiffin/internal/dispatch/assign"
)

// Point is a position in metres on a local plane (x east, y north).
type Point struct{ X, Y float64 }

// Distance is the straight-line distance between a and b in metres.
func Distance(a, b Point) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

// Order is an open order: placed, accepted by its restaurant, not yet given to a courier.
type Order struct {
	ID         string
	Restaurant string // orders of one restaurant may share a courier
	Pickup     Point  // the restaurant
	Dropoff    Point
	Placed     time.Duration // when the order was placed
	Ready      time.Duration // when the food is (estimated to be) ready
	// Excluded lists couriers that must not get this order (they declined it, or let its offer
	// expire).
	Excluded []string
}

// Courier is a courier on shift.
type Courier struct {
	ID string
	// At is where the courier is when idle, or where its current route ends.
	At Point
	// FreeAt is when the courier can leave At: at or before the round's time when idle.
	FreeAt time.Duration
	// OffAt is the end of the courier's shift: it may not pick up after it.
	OffAt time.Duration
	// Orders counts the orders the courier has delivered or carries this shift.
	Orders int
	// Guaranteed is the number of orders the courier's guaranteed minimum pay for the shift
	// already pays for: orders beyond it cost Params.PayPerOrder each.
	Guaranteed float64
}

// Algorithm names a planner.
type Algorithm string

// The planners.
const (
	Optimal Algorithm = "optimal"
	Greedy  Algorithm = "greedy"
)

// Weights turn a route into a cost, in minute-equivalents per order.
type Weights struct {
	ClickToDoor float64 // per minute from placement to drop-off
	Overage     float64 // additionally, per minute past Params.Target
	FoodWait    float64 // additionally, per minute the food waits for the courier after it is ready
	CourierTime float64 // per minute the route occupies its courier from leaving to its last drop-off
	Pay         float64 // per order paid beyond the courier's guaranteed minimum
	// Position weighs what a route does to where its courier will be: per order per hour of
	// expected demand within Params.Reach of the courier before the route, less the same at
	// its last drop-off (Input.Demand).
	Position float64
	Hold     float64 // for leaving an order unassigned in this round
}

// Params configure the planner. Times are durations on the caller's clock.
type Params struct {
	Algorithm Algorithm
	// Travel is how long a courier takes from a to b. It must not decrease as the straight-line
	// distance grows: the candidate search relies on it.
	Travel func(a, b Point) time.Duration
	// PickupService and DropoffService are the time spent at a restaurant and at a drop-off,
	// half before and half after the handover.
	PickupService, DropoffService time.Duration
	// Target is the promised click-to-door time.
	Target time.Duration
	// Candidates is how many couriers are considered per bundle (k). Default 64.
	Candidates int
	// MaxBundle is the most orders one courier carries at once, at most MaxBundleLimit (more
	// is taken as MaxBundleLimit). Default 1 (no bundles).
	MaxBundle int
	// BundleWindow is how far apart the ready times of bundled orders may be. Default 10 min.
	BundleWindow time.Duration
	// Reach is how far, in travel time, a courier is counted as near a hotspot; its weight
	// falls linearly to zero at Reach. Default 10 min.
	Reach time.Duration
	// Lead is how far ahead an assignment becomes due: due assignments are those whose
	// courier must leave within Lead of now. Default 0.
	Lead time.Duration
	// Weights of the cost. The zero value uses DefaultWeights.
	Weights Weights
}

// MaxBundleLimit is the largest bundle the planner makes: it sequences a bundle's drop-offs by
// trying every order of them (4! = 24 for four).
const MaxBundleLimit = 4

// DefaultWeights are the weights the planner uses unless told otherwise.
var DefaultWeights = Weights{
	ClickToDoor: 1,
	Overage:     1,
	FoodWait:    2,
	CourierTime: 0,
	Pay:         5,
	Position:    0.1,
	Hold:        1000,
}

func (p Params) withDefaults() Params {
	if p.Algorithm == "" {
		p.Algorithm = Optimal
	}
	if p.Candidates <= 0 {
		p.Candidates = 64
	}
	if p.MaxBundle <= 0 {
		p.MaxBundle = 1
	}
	p.MaxBundle = min(p.MaxBundle, MaxBundleLimit)
	if p.Reach <= 0 {
		p.Reach = 10 * time.Minute
	}
	if p.BundleWindow <= 0 {
		p.BundleWindow = 10 * time.Minute
	}
	if p.Weights == (Weights{}) {
		p.Weights = DefaultWeights
	}
	return p
}

// Assignment is a courier's planned route: to one restaurant, then the orders' drop-offs in
// sequence.
type Assignment struct {
	Courier  int   // index into the round's couriers
	Orders   []int // indexes into the round's orders, in drop-off sequence
	Depart   time.Duration
	Arrive   time.Duration // at the restaurant
	Pickup   time.Duration
	Dropoffs []time.Duration // aligned with Orders
	Cost     float64
	// Due is true when the courier is free and must leave within Params.Lead for the plan to
	// hold: the caller should commit it (offer it) now. Other assignments are tentative.
	Due bool
}

// Plan is the outcome of one round.
type Plan struct {
	Assignments []Assignment
	// Held lists the orders in no assignment.
	Held []int
	// Cost is the plan's total cost, held orders included.
	Cost float64
}

// Planner plans rounds. It keeps scratch space between rounds; it is not safe for concurrent
// use.
type Planner struct {
	p      Params
	tree   rtree.RTreeG[int]
	solver assign.Solver
	// workers is how many goroutines a round's candidate search and pricing use (0:
	// GOMAXPROCS); tests set 1 for the sequential reference.
	workers int
}

// New returns a planner with p.
func New(p Params) *Planner {
	return &Planner{p: p.withDefaults()}
}

// Params returns the planner's parameters, defaults filled in.
func (pl *Planner) Params() Params { return pl.p }

// Input is what a round plans with.
type Input struct {
	Now      time.Duration
	Orders   []Order
	Couriers []Courier
	// Demand is where orders are expected next: restaurants and their recent order rates.
	// Optional; with it, the optimal planner prefers to send couriers from where few orders are
	// expected to where many are (Weights.Position).
	Demand []Hotspot
}

// Hotspot is a place orders come from.
type Hotspot struct {
	At   Point
	Rate float64 // orders per hour
}

// Plan plans one round.
func (pl *Planner) Plan(in Input) Plan {
	if pl.p.Algorithm == Greedy {
		return pl.greedy(in.Now, in.Orders, in.Couriers)
	}
	return pl.optimal(in)
}

// bundle is a set of orders of one restaurant in drop-off sequence.
type bundle struct {
	orders []int
	ready  time.Duration // the latest ready time
}

// route times a bundle for courier c, leaving no earlier than now: just in time for the food
// when jit is set, else as soon as the courier can. ok is false when the courier cannot pick up
// before its shift ends. Without dropoffs it only prices the route (a.Dropoffs stays nil, and
// nothing is allocated): pricing every candidate pair of a round is most of its routes.
func (pl *Planner) route(now time.Duration, orders []Order, b bundle, c *Courier, jit, dropoffs bool) (a Assignment, ok bool) {
	halfP, halfD := pl.p.PickupService/2, pl.p.DropoffService/2
	r := orders[b.orders[0]].Pickup
	leave := max(now, c.FreeAt)
	travel := pl.p.Travel(c.At, r)
	depart := leave
	if jit {
		// Prep-time aware: leave so as to arrive half a pickup service before the food is
		// ready, not earlier.
		depart = max(leave, b.ready-halfP-travel)
	}
	arrive := depart + travel
	pickup := max(b.ready, arrive+halfP)
	if pickup > c.OffAt {
		return Assignment{}, false
	}
	a = Assignment{Depart: depart, Arrive: arrive, Pickup: pickup, Orders: b.orders}
	if dropoffs {
		a.Dropoffs = make([]time.Duration, len(b.orders))
	}
	w := pl.p.Weights
	cost := 0.0
	at, t := r, pickup+halfP
	for i, o := range b.orders {
		t += pl.p.Travel(at, orders[o].Dropoff) + halfD
		if dropoffs {
			a.Dropoffs[i] = t
		}
		c2d := minutes(t - orders[o].Placed)
		cost += w.ClickToDoor*c2d + w.Overage*max(0, c2d-minutes(pl.p.Target))
		cost += w.FoodWait * minutes(pickup-orders[o].Ready)
		at = orders[o].Dropoff
		t += halfD
	}
	cost += w.CourierTime * minutes(t-depart)
	n := float64(c.Orders)
	cost += w.Pay * (max(n+float64(len(b.orders)), c.Guaranteed) - max(n, c.Guaranteed))
	a.Cost = cost
	a.Due = c.FreeAt <= now && depart <= now+pl.p.Lead
	return a, true
}

func minutes(d time.Duration) float64 { return d.Minutes() }

// holdCost is the cost of leaving b's orders unassigned this round: Weights.Hold per order,
// plus what their routes' costs already owe at now whatever happens (the minutes since
// placement, past the target, and the food's wait since it was ready). Every route of b costs
// at least that much, so adding it to both sides leaves the assignment unchanged, and an
// order waiting longer than Hold minutes is still cheaper to assign than to hold.
func (pl *Planner) holdCost(now time.Duration, orders []Order, b bundle) float64 {
	w := pl.p.Weights
	cost := 0.0
	for _, o := range b.orders {
		waited := minutes(now - orders[o].Placed)
		cost += w.Hold + w.ClickToDoor*waited + w.Overage*max(0, waited-minutes(pl.p.Target))
		cost += w.FoodWait * max(0, minutes(now-orders[o].Ready))
	}
	return cost
}

// excluded reports whether courier id may not carry any order of b.
func excluded(orders []Order, b bundle, id string) bool {
	for _, o := range b.orders {
		if slices.Contains(orders[o].Excluded, id) {
			return true
		}
	}
	return false
}

// greedy gives each order, oldest first, to the free courier that reaches its restaurant
// first, at once.
func (pl *Planner) greedy(now time.Duration, orders []Order, couriers []Courier) Plan {
	byAge := make([]int, len(orders))
	for i := range byAge {
		byAge[i] = i
	}
	slices.SortStableFunc(byAge, func(a, b int) int { return cmp.Compare(orders[a].Placed, orders[b].Placed) })
	taken := make([]bool, len(couriers))
	var plan Plan
	for _, o := range byAge {
		b := bundle{orders: []int{o}, ready: orders[o].Ready}
		best, bestArrive := -1, time.Duration(0)
		var bestA Assignment
		for ci := range couriers {
			c := &couriers[ci]
			if taken[ci] || c.FreeAt > now || excluded(orders, b, c.ID) {
				continue
			}
			a, ok := pl.route(now, orders, b, c, false, true)
			if ok && (best < 0 || a.Arrive < bestArrive) {
				best, bestArrive, bestA = ci, a.Arrive, a
			}
		}
		if best < 0 {
			plan.Held = append(plan.Held, o)
			plan.Cost += pl.holdCost(now, orders, b)
			continue
		}
		taken[best] = true
		bestA.Courier, bestA.Due = best, true
		plan.Assignments = append(plan.Assignments, bestA)
		plan.Cost += bestA.Cost
	}
	return plan
}
