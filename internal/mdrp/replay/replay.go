// Package replay plays an MDRP instance's day through the dispatch planner with a simulated
// clock, under the problem's rules: orders are revealed at placement, the planner runs once
// per simulated minute, and each assignment it marks due is committed for good (couriers
// accept every assignment and are not diverted on the way to a restaurant). Between routes a
// courier waits where its last drop-off was; before its first, at its start.
package replay

import (
	"maps"
	"slices"
	"time"

	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
	"github.com/tiffin-dev/tiffin/internal/mdrp"
)

// Config configures a replay.
type Config struct {
	// Params are the planner's parameters; Travel, the service times and Target are taken
	// from the instance.
	Params plan.Params
	// Round is the simulated time between planning rounds. Default one minute.
	Round time.Duration

	// observe, when set, sees each round's input before it is planned (tests).
	observe func(in plan.Input, open []int)
	// inspect, when set, sees each round's plan (tests).
	inspect func(in plan.Input, p plan.Plan, open []int)
}

// Result is a replayed day.
type Result struct {
	Solution mdrp.Solution
	Rounds   int           // planning rounds run
	Compute  time.Duration // wall time spent planning
}

// onSoon is how far ahead, in minutes, a courier's shift may start for the courier to be
// planned with. Later ones are left out to keep rounds small: a courier an hour from its shift
// is seldom the one to reach an open order's restaurant first.
const onSoon = 60

// courier is a courier's state during the day.
type courier struct {
	at     plan.Point
	freeAt int // minute it can leave at
	orders int
}

// Run replays inst with cfg and returns the routes committed.
func Run(inst *mdrp.Instance, cfg Config) Result {
	if cfg.Round <= 0 {
		cfg.Round = time.Minute
	}
	step := int(cfg.Round / time.Minute)
	p := cfg.Params
	ip := inst.Params
	p.Travel = func(a, b plan.Point) time.Duration {
		return time.Duration(mdrp.TravelMinutes(ip, mdrp.Point(a), mdrp.Point(b))) * time.Minute
	}
	p.PickupService = time.Duration(ip.PickupService) * time.Minute
	p.DropoffService = time.Duration(ip.DropoffService) * time.Minute
	p.Target = time.Duration(ip.TargetClickToDoor) * time.Minute
	planner := plan.New(p)

	byPlacement := make([]int, len(inst.Orders))
	for i := range byPlacement {
		byPlacement[i] = i
	}
	slices.SortStableFunc(byPlacement, func(a, b int) int { return inst.Orders[a].Placed - inst.Orders[b].Placed })
	lastOff := 0
	couriers := make([]courier, len(inst.Couriers))
	for i, c := range inst.Couriers {
		couriers[i] = courier{at: plan.Point(c.Start), freeAt: c.On}
		lastOff = max(lastOff, c.Off)
	}

	var res Result
	var open []int // orders revealed and not yet assigned
	next := 0      // next order to reveal, in byPlacement
	var (
		orders []plan.Order
		cs     []plan.Courier
		csIdx  []int
		demand []plan.Hotspot
	)
	for t := 0; t <= lastOff; t += step {
		if len(open) == 0 {
			if next == len(byPlacement) {
				break
			}
			// Nothing to plan until the next order is placed.
			if first := inst.Orders[byPlacement[next]].Placed; first > t {
				t = first
			}
		}
		for next < len(byPlacement) && inst.Orders[byPlacement[next]].Placed <= t {
			open = append(open, byPlacement[next])
			next++
		}
		orders = orders[:0]
		for _, o := range open {
			io := inst.Orders[o]
			r := inst.Restaurants[io.Restaurant]
			orders = append(orders, plan.Order{
				ID:         io.ID,
				Restaurant: r.ID,
				Pickup:     plan.Point(r.At),
				Dropoff:    plan.Point(io.Dropoff),
				Placed:     minutes(io.Placed),
				Ready:      minutes(io.Ready),
			})
		}
		cs, csIdx = cs[:0], csIdx[:0]
		for i, c := range inst.Couriers {
			if c.Off < t || c.On > t+onSoon {
				continue // off for good, or not on for a while yet
			}
			st := couriers[i]
			cs = append(cs, plan.Courier{
				ID:         c.ID,
				At:         st.at,
				FreeAt:     minutes(st.freeAt),
				OffAt:      minutes(c.Off),
				Orders:     st.orders,
				Guaranteed: ip.GuaranteedPerHour * float64(c.Off-c.On) / 60 / ip.PayPerOrder,
			})
			csIdx = append(csIdx, i)
		}
		start := time.Now()
		// Demand: each restaurant's orders seen so far, as a rate over the last hour.
		demand = demand[:0]
		// In restaurant order: the position term sums over the hotspots, and a sum in map
		// order would make replays differ in the last bits, and so in tie-breaking.
		rates := recent(inst, byPlacement[:next], t)
		for _, ri := range slices.Sorted(maps.Keys(rates)) {
			demand = append(demand, plan.Hotspot{At: plan.Point(inst.Restaurants[ri].At), Rate: rates[ri]})
		}
		in := plan.Input{Now: minutes(t), Orders: orders, Couriers: cs, Demand: demand}
		if cfg.observe != nil {
			cfg.observe(in, open)
		}
		pl := planner.Plan(in)
		if cfg.inspect != nil {
			cfg.inspect(in, pl, open)
		}
		res.Compute += time.Since(start)
		res.Rounds++

		assigned := make(map[int]bool)
		for _, a := range pl.Assignments {
			if !a.Due {
				continue
			}
			ci := csIdx[a.Courier]
			route := mdrp.Route{
				Assigned: t,
				Courier:  ci,
				Depart:   whole(a.Depart),
				Arrive:   whole(a.Arrive),
				Pickup:   whole(a.Pickup),
			}
			for i, o := range a.Orders {
				io := open[o]
				route.Orders = append(route.Orders, io)
				route.Dropoffs = append(route.Dropoffs, whole(a.Dropoffs[i]))
				assigned[io] = true
			}
			route.Restaurant = inst.Orders[route.Orders[0]].Restaurant
			res.Solution.Routes = append(res.Solution.Routes, route)
			last := route.Orders[len(route.Orders)-1]
			couriers[ci] = courier{
				at:     plan.Point(inst.Orders[last].Dropoff),
				freeAt: route.Dropoffs[len(route.Dropoffs)-1] + ip.DropoffService/2,
				orders: couriers[ci].orders + len(route.Orders),
			}
		}
		open = slices.DeleteFunc(open, func(o int) bool { return assigned[o] })
	}
	return res
}

func minutes(m int) time.Duration { return time.Duration(m) * time.Minute }

// whole converts a planner time, whole minutes here, back to minutes.
func whole(d time.Duration) int { return int(d / time.Minute) }

// recent counts, per restaurant, the orders among seen placed within the hour before t.
func recent(inst *mdrp.Instance, seen []int, t int) map[int]float64 {
	out := make(map[int]float64)
	for i := len(seen) - 1; i >= 0; i-- {
		o := inst.Orders[seen[i]]
		if o.Placed < t-60 {
			break
		}
		out[o.Restaurant]++
	}
	return out
}
