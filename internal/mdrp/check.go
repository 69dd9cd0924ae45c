package mdrp

import (
	"cmp"
	"fmt"
	"slices"
)

// Rule names a rule of the problem a solution can break.
type Rule string

// The rules Check enforces.
const (
	// RuleMalformed: an index out of range, no orders, or drop-offs not aligned with orders.
	RuleMalformed Rule = "malformed route"
	// RuleOrderTwice: an order already in an earlier route.
	RuleOrderTwice Rule = "order in two routes"
	// RuleOtherRestaurant: an order not from the route's restaurant.
	RuleOtherRestaurant Rule = "order of another restaurant"
	// RuleAssignedEarly: Assigned before an order's placement.
	RuleAssignedEarly Rule = "assigned before placement"
	// RuleDepartBeforeAssigned: Depart before Assigned.
	RuleDepartBeforeAssigned Rule = "departs before assignment"
	// RuleDepartBeforeShift: a courier's first route departs before its on time.
	RuleDepartBeforeShift Rule = "departs before shift"
	// RuleOverlap: a route departs before the courier leaves its previous route's last drop-off.
	RuleOverlap Rule = "departs before previous route ends"
	// RulePickupEarly: Pickup before the bundle is ready or before arrival + half a pickup service.
	RulePickupEarly Rule = "pickup too early"
	// RulePickupAfterOff: the pickup is after the courier's off time.
	RulePickupAfterOff Rule = "pickup after off time"
	// RuleTimes: Arrive, Pickup or a drop-off is not the time the rules give.
	RuleTimes Rule = "times differ"
)

// Violation is one rule a route breaks.
type Violation struct {
	Route  int // index into Solution.Routes
	Rule   Rule
	Detail string
}

func (v Violation) String() string {
	return fmt.Sprintf("route %d: %s: %s", v.Route, v.Rule, v.Detail)
}

// Check reports every rule sol breaks, ordered by route; none means feasible. It trusts no time
// the routes carry but Assigned and Depart, the dispatcher's decisions, and recomputes the rest
// from the instance, per courier, taking its routes in the order of their departures:
//
//   - each order is in at most one route, and all of a route's orders are from its restaurant;
//   - Assigned is at or after every order's placement, and Depart at or after Assigned;
//   - a courier's first route departs from its start, not before its on time; each later one
//     from the previous route's last drop-off, not before the courier leaves it (half a drop-off
//     service after the drop-off), so routes neither overlap in time nor jump in space;
//   - arrival = Depart + travel to the restaurant;
//   - pickup = max(latest ready time of the bundle, arrival + half a pickup service); a Pickup
//     earlier than that breaks RulePickupEarly, a later one RuleTimes;
//   - the pickup is at or before the courier's off time (drop-offs may end after it);
//   - drop-off i = leaving the previous place (pickup or drop-off plus its half service) +
//     travel + half a drop-off service, in the route's order;
//   - Arrive, Pickup and Dropoffs equal these recomputed times exactly.
//
// These imply what the evaluator checks (pickup not before ready, drop-offs a service apart,
// moves continuous, the courier at each pickup and drop-off when it happens) as long as half
// services are positive. A malformed route is reported once and not checked further, and
// neither are the times of the other routes of its courier, whose whereabouts it leaves unknown.
// Times are recomputed from the recomputed times before them, so a wrong time also shows in
// the courier's later routes.
func Check(inst *Instance, sol *Solution) []Violation {
	var vs []Violation
	add := func(route int, rule Rule, format string, args ...any) {
		vs = append(vs, Violation{Route: route, Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	owner := make(map[int]int)    // order -> first route carrying it
	unknown := make(map[int]bool) // couriers with a malformed route: where they are is unknown
	for i, r := range sol.Routes {
		if why := malformed(inst, r); why != "" {
			add(i, RuleMalformed, "%s", why)
			unknown[r.Courier] = true
			continue
		}
		for _, o := range r.Orders {
			order := inst.Orders[o]
			if first, ok := owner[o]; ok {
				add(i, RuleOrderTwice, "order %s is already in route %d", order.ID, first)
			} else {
				owner[o] = i
			}
			if order.Restaurant != r.Restaurant {
				add(i, RuleOtherRestaurant, "order %s is from restaurant %s, the route picks up at %s",
					order.ID, inst.Restaurants[order.Restaurant].ID, inst.Restaurants[r.Restaurant].ID)
			}
			if r.Assigned < order.Placed {
				add(i, RuleAssignedEarly, "assigned at %d, order %s is placed at %d", r.Assigned, order.ID, order.Placed)
			}
		}
		if r.Depart < r.Assigned {
			add(i, RuleDepartBeforeAssigned, "departs at %d, assigned at %d", r.Depart, r.Assigned)
		}
	}
	for c, routes := range courierRoutes(inst, sol) {
		if !unknown[c] {
			checkCourier(inst, sol, c, routes, add)
		}
	}
	slices.SortStableFunc(vs, func(a, b Violation) int { return cmp.Compare(a.Route, b.Route) })
	return vs
}

// checkCourier replays courier c's routes (in departure order) from its start.
func checkCourier(inst *Instance, sol *Solution, c int, routes []int, add func(int, Rule, string, ...any)) {
	p, courier := inst.Params, inst.Couriers[c]
	at, free, prev := courier.Start, courier.On, -1
	for _, i := range routes {
		r := sol.Routes[i]
		switch {
		case prev < 0 && r.Depart < free:
			add(i, RuleDepartBeforeShift, "departs at %d, courier %s starts at %d", r.Depart, courier.ID, free)
		case prev >= 0 && r.Depart < free:
			add(i, RuleOverlap, "departs at %d, courier %s leaves route %d's last drop-off at %d", r.Depart, courier.ID, prev, free)
		}
		rest := inst.Restaurants[r.Restaurant].At
		arrive := r.Depart + TravelMinutes(p, at, rest)
		if r.Arrive != arrive {
			add(i, RuleTimes, "arrives at %d, want %d (departs at %d, %d minutes away)", r.Arrive, arrive, r.Depart, arrive-r.Depart)
		}
		ready := 0
		for _, o := range r.Orders {
			ready = max(ready, inst.Orders[o].Ready)
		}
		pickup := max(ready, arrive+p.HalfPickup())
		switch {
		case r.Pickup < pickup:
			add(i, RulePickupEarly, "picks up at %d, want %d (bundle ready at %d, arrival %d + %d)", r.Pickup, pickup, ready, arrive, p.HalfPickup())
		case r.Pickup > pickup:
			add(i, RuleTimes, "picks up at %d, want %d (bundle ready at %d, arrival %d + %d)", r.Pickup, pickup, ready, arrive, p.HalfPickup())
		}
		if pickup > courier.Off {
			add(i, RulePickupAfterOff, "picks up at %d, courier %s is off at %d", pickup, courier.ID, courier.Off)
		}
		at, free = rest, pickup+p.HalfPickup()
		for j, o := range r.Orders {
			order := inst.Orders[o]
			drop := free + TravelMinutes(p, at, order.Dropoff) + p.HalfDropoff()
			if r.Dropoffs[j] != drop {
				add(i, RuleTimes, "drops order %s off at %d, want %d", order.ID, r.Dropoffs[j], drop)
			}
			at, free = order.Dropoff, drop+p.HalfDropoff()
		}
		prev = i
	}
}
