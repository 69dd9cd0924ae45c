package mdrp

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// TravelMinutes is the travel time from a to b: the euclidean distance divided by
// p.MetersPerMinute, rounded up to a whole minute. p.MetersPerMinute must be positive (Read
// ensures it).
//
// It rounds as the evaluator does (numpy's ceil(sqrt(dx²+dy²)/speed) in float64), one IEEE
// operation at a time: the square root of a sum of squares of whole metres is exact when the
// distance is whole, and so is the division of an exact multiple of the speed, so such a
// distance never gains a minute. math.Hypot is not used: it is not correctly rounded and lands
// above some whole distances (31 m by 480 m gives 481.00000000000006 m).
func TravelMinutes(p Params, a, b Point) int {
	dx, dy := b.X-a.X, b.Y-a.Y
	// The explicit conversions forbid fusing the multiply-add (the Go spec allows it otherwise),
	// so each product is rounded on its own, as numpy does.
	d := math.Sqrt(float64(dx*dx) + float64(dy*dy))
	return int(math.Ceil(d / p.MetersPerMinute))
}

// HalfPickup is the half of the pickup service spent before the pickup, and the half after it.
func (p Params) HalfPickup() int { return p.PickupService / 2 }

// HalfDropoff is the half of the drop-off service spent before a drop-off, and the half after.
func (p Params) HalfDropoff() int { return p.DropoffService / 2 }

// malformed says why r cannot be read against inst (an index out of range, no orders, drop-offs
// not aligned with the orders), or returns "".
func malformed(inst *Instance, r Route) string {
	switch {
	case r.Courier < 0 || r.Courier >= len(inst.Couriers):
		return fmt.Sprintf("courier index %d out of range [0,%d)", r.Courier, len(inst.Couriers))
	case r.Restaurant < 0 || r.Restaurant >= len(inst.Restaurants):
		return fmt.Sprintf("restaurant index %d out of range [0,%d)", r.Restaurant, len(inst.Restaurants))
	case len(r.Orders) == 0:
		return "no orders"
	case len(r.Dropoffs) != len(r.Orders):
		return fmt.Sprintf("%d drop-off times for %d orders", len(r.Dropoffs), len(r.Orders))
	}
	for _, o := range r.Orders {
		if o < 0 || o >= len(inst.Orders) {
			return fmt.Sprintf("order index %d out of range [0,%d)", o, len(inst.Orders))
		}
	}
	return ""
}

// courierRoutes lists, per courier, the indexes of its well-formed routes in the order it drives
// them: by departure, ties in commit order.
func courierRoutes(inst *Instance, sol *Solution) [][]int {
	out := make([][]int, len(inst.Couriers))
	for i, r := range sol.Routes {
		if malformed(inst, r) == "" {
			out[r.Courier] = append(out[r.Courier], i)
		}
	}
	for _, rs := range out {
		slices.SortStableFunc(rs, func(a, b int) int { return cmp.Compare(sol.Routes[a].Depart, sol.Routes[b].Depart) })
	}
	return out
}

// place is where a courier is: "0" and its start, a restaurant or an order's drop-off.
type place struct {
	ID string // as the courier solution file names it
	At Point
}

// leg is one move of a courier, a line of solution_info_couriers.txt.
type leg struct {
	Depart   int
	From, To place
}

// legs derives the moves of courier c from its routes (indexes from courierRoutes), using the
// routes' times: start or previous drop-off to the restaurant at Depart, restaurant to the first
// drop-off half a pickup service after Pickup, each drop-off to the next half a drop-off service
// after it.
func legs(inst *Instance, sol *Solution, c int, routes []int) []leg {
	p := inst.Params
	at := place{ID: "0", At: inst.Couriers[c].Start}
	var out []leg
	for _, i := range routes {
		r := sol.Routes[i]
		rest := place{ID: inst.Restaurants[r.Restaurant].ID, At: inst.Restaurants[r.Restaurant].At}
		out = append(out, leg{Depart: r.Depart, From: at, To: rest})
		at = rest
		leave := r.Pickup + p.HalfPickup()
		for j, o := range r.Orders {
			to := place{ID: inst.Orders[o].ID, At: inst.Orders[o].Dropoff}
			out = append(out, leg{Depart: leave, From: at, To: to})
			at, leave = to, r.Dropoffs[j]+p.HalfDropoff()
		}
	}
	return out
}
