package mdrp

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// tinyFiles is a small instance in the public files' format: distances are whole multiples of
// 100 m (3-4-5 triangles) at 100 m a minute, so every travel time below is exact.
var tinyFiles = map[string]string{
	RestaurantsFile: "restaurant\tx\ty\n" +
		"r1\t0\t0\n" +
		"r2\t0\t1000\n",
	OrdersFile: "order\tx\ty\tplacement_time\trestaurant\tready_time\n" +
		"o1\t400\t0\t5\tr1\t15\n" +
		"o2\t400\t300\t8\tr1\t18\n" +
		"o3\t0\t1500\t40\tr2\t50\n" +
		"o4\t600\t800\t30\tr1\t35\n" +
		"o5\t0\t1300\t50\tr2\t60\n",
	CouriersFile: "courier\tx\ty\ton_time\toff_time\n" +
		"c1\t0\t-300\t0\t60\n" +
		"c2\t0\t1000\t30\t90\n" +
		"c3\t5000\t5000\t0\t120\n",
	ParamsFile: "meters_per_minute\tpickup service minutes\tdropoff service minutes\ttarget click-to-door\t" +
		"maximum click-to-door\tpay per order\tguaranteed pay per hour\n" +
		"100\t4\t4\t20\t90\t10\t15\n",
}

// tinyInstance is tinyFiles as Read returns it.
func tinyInstance() *Instance {
	return &Instance{
		Name: "tiny",
		Params: Params{MetersPerMinute: 100, PickupService: 4, DropoffService: 4,
			TargetClickToDoor: 20, MaxClickToDoor: 90, PayPerOrder: 10, GuaranteedPerHour: 15},
		Restaurants: []Restaurant{{"r1", Point{0, 0}}, {"r2", Point{0, 1000}}},
		Orders: []Order{
			{ID: "o1", Dropoff: Point{400, 0}, Placed: 5, Restaurant: 0, Ready: 15},
			{ID: "o2", Dropoff: Point{400, 300}, Placed: 8, Restaurant: 0, Ready: 18},
			{ID: "o3", Dropoff: Point{0, 1500}, Placed: 40, Restaurant: 1, Ready: 50},
			{ID: "o4", Dropoff: Point{600, 800}, Placed: 30, Restaurant: 0, Ready: 35},
			{ID: "o5", Dropoff: Point{0, 1300}, Placed: 50, Restaurant: 1, Ready: 60},
		},
		Couriers: []Courier{
			{ID: "c1", Start: Point{0, -300}, On: 0, Off: 60},
			{ID: "c2", Start: Point{0, 1000}, On: 30, Off: 90},
			{ID: "c3", Start: Point{5000, 5000}, On: 0, Off: 120},
		},
	}
}

// tinySolution is a feasible solution of tinyInstance, its times worked out by hand; o5 is not
// delivered and c3 stays idle.
func tinySolution() *Solution {
	return &Solution{Routes: []Route{
		// c1 drives 300 m (3 min) to r1, waits for o2 (ready 18), leaves at 20; 400 m to o1 is
		// 4 min, so o1 at 20+4+2 = 26; leaves at 28, 300 m to o2, o2 at 28+3+2 = 33; free at 35.
		{Assigned: 8, Courier: 0, Restaurant: 0, Orders: []int{0, 1}, Depart: 8, Arrive: 11, Pickup: 18, Dropoffs: []int{26, 33}},
		// c1 drives 500 m back to r1 (arrives 40), picks o4 up at 40+2 = 42, leaves at 44,
		// 1000 m to o4: 44+10+2 = 56.
		{Assigned: 35, Courier: 0, Restaurant: 0, Orders: []int{3}, Depart: 35, Arrive: 40, Pickup: 42, Dropoffs: []int{56}},
		// c2 waits at r2 itself: arrives as it departs, picks o3 up when ready at 50, leaves at
		// 52, 500 m to o3: 52+5+2 = 59.
		{Assigned: 40, Courier: 1, Restaurant: 1, Orders: []int{2}, Depart: 40, Arrive: 40, Pickup: 50, Dropoffs: []int{59}},
	}}
}

// writeFiles writes name -> content into dir.
func writeFiles(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// plan builds the route the rules give for courier c leaving at from when depart, carrying
// orders of their first order's restaurant.
func plan(inst *Instance, c int, from Point, assigned, depart int, orders []int) Route {
	p := inst.Params
	rest := inst.Orders[orders[0]].Restaurant
	r := Route{Assigned: assigned, Courier: c, Restaurant: rest, Orders: orders, Depart: depart}
	r.Arrive = depart + TravelMinutes(p, from, inst.Restaurants[rest].At)
	r.Pickup = r.Arrive + p.HalfPickup()
	for _, o := range orders {
		r.Pickup = max(r.Pickup, inst.Orders[o].Ready)
	}
	at, leave := inst.Restaurants[rest].At, r.Pickup+p.HalfPickup()
	for _, o := range orders {
		drop := leave + TravelMinutes(p, at, inst.Orders[o].Dropoff) + p.HalfDropoff()
		r.Dropoffs = append(r.Dropoffs, drop)
		at, leave = inst.Orders[o].Dropoff, drop+p.HalfDropoff()
	}
	return r
}

// greedy plans a feasible solution to exercise the code on real instances: orders in placement
// order, each bundled with up to two more of its restaurant placed within 5 minutes after it,
// each bundle given to the courier that drops its first order off soonest.
func greedy(inst *Instance) *Solution {
	type courier struct {
		at   Point
		free int
	}
	cs := make([]courier, len(inst.Couriers))
	for c, k := range inst.Couriers {
		cs[c] = courier{k.Start, k.On}
	}
	var byPlaced []int
	for o := range inst.Orders {
		byPlaced = append(byPlaced, o)
	}
	slices.SortStableFunc(byPlaced, func(a, b int) int { return cmp.Compare(inst.Orders[a].Placed, inst.Orders[b].Placed) })
	taken := make([]bool, len(inst.Orders))
	sol := &Solution{}
	for k, o := range byPlaced {
		if taken[o] {
			continue
		}
		bundle, assigned := []int{o}, inst.Orders[o].Placed
		for _, next := range byPlaced[k+1:] {
			if len(bundle) == 3 || inst.Orders[next].Placed > inst.Orders[o].Placed+5 {
				break
			}
			if !taken[next] && inst.Orders[next].Restaurant == inst.Orders[o].Restaurant {
				bundle, assigned = append(bundle, next), inst.Orders[next].Placed
			}
		}
		best := Route{Courier: -1}
		for c := range cs {
			r := plan(inst, c, cs[c].at, assigned, max(assigned, cs[c].free), bundle)
			if r.Pickup <= inst.Couriers[c].Off && (best.Courier < 0 || r.Dropoffs[0] < best.Dropoffs[0]) {
				best = r
			}
		}
		if best.Courier < 0 {
			continue
		}
		for _, b := range bundle {
			taken[b] = true
		}
		last := bundle[len(bundle)-1]
		cs[best.Courier] = courier{inst.Orders[last].Dropoff, best.Dropoffs[len(bundle)-1] + inst.Params.HalfDropoff()}
		sol.Routes = append(sol.Routes, best)
	}
	return sol
}
