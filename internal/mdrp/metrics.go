package mdrp

import (
	"math"
	"slices"
)

// Dist summarises a distribution of minutes over the delivered orders.
type Dist struct {
	N                   int // values summarised; 0 leaves the rest 0
	Mean, P10, P50, P90 float64
}

// Metrics are the problem's measures of one solution, defined as the public evaluator computes
// them (its solution_performance.txt), plus PayPerOrder and LowerBound, which it does not
// print.
type Metrics struct {
	Instance  string
	Orders    int // orders in the instance
	Delivered int // orders in a route
	// DeliveredFraction is Delivered / Orders.
	DeliveredFraction float64

	// Pay is the sum over all couriers, busy or not, of max(PayPerOrder x orders it delivered,
	// GuaranteedPerHour x shift hours), shift hours being (Off - On) / 60: the whole scheduled
	// shift, however early the courier's last drop-off.
	Pay float64
	// PayPerOrder is Pay / Delivered.
	PayPerOrder float64
	// GuaranteedFraction is the fraction of all couriers whose order earnings are strictly below
	// their guaranteed pay (the evaluator's "proportion of couriers receiving minimum guaranteed
	// compensation"; earnings equal to it count as not topped up).
	GuaranteedFraction float64

	// The order distributions are over the delivered orders only. Percentiles interpolate
	// linearly between the two nearest ranks (pandas' describe, numpy's default).
	ClickToDoor   Dist // drop-off - placement
	Overage       Dist // max(0, click-to-door - Params.TargetClickToDoor)
	ReadyToDoor   Dist // drop-off - ready
	ReadyToPickup Dist // pickup - ready

	// Utilisation is the mean over all couriers of (driving + PickupService per route +
	// DropoffService per order) / (Off - On): full service times, not the minutes actually spent
	// waiting at a restaurant, and driving as the sum of the travel times of its moves.
	Utilisation float64
	// OrdersPerHour is the mean over all couriers of 60 x orders delivered / (Off - On), not
	// total orders over total courier hours.
	OrdersPerHour float64
	// BundleSize is the mean number of orders per route.
	BundleSize float64

	// LowerBound is the mean over all orders, delivered or not, of ClickToDoorBound.
	LowerBound float64
}

// ClickToDoorBound is the least click-to-door of order o: delivered alone by a courier already
// waiting at its restaurant when it is placed, picked up at max(ready, placement + half a pickup
// service), then half a pickup service, the travel and half a drop-off service later.
func ClickToDoorBound(inst *Instance, o int) int {
	p, order := inst.Params, inst.Orders[o]
	rest := inst.Restaurants[order.Restaurant].At
	pickup := max(order.Ready, order.Placed+p.HalfPickup())
	return pickup + p.HalfPickup() + TravelMinutes(p, rest, order.Dropoff) + p.HalfDropoff() - order.Placed
}

// Measure computes the metrics of sol, taking the times its routes carry (run Check first: on
// an infeasible solution the numbers mean little). Malformed routes are skipped.
func Measure(inst *Instance, sol *Solution) Metrics {
	p := inst.Params
	m := Metrics{Instance: inst.Name, Orders: len(inst.Orders)}
	var c2d, over, r2d, r2p []float64
	delivered := make([]int, len(inst.Couriers)) // orders per courier
	busy := make([]int, len(inst.Couriers))      // minutes driving or in service per courier
	routes := 0
	for _, r := range sol.Routes {
		if malformed(inst, r) != "" {
			continue
		}
		routes++
		busy[r.Courier] += p.PickupService
		for j, o := range r.Orders {
			order := inst.Orders[o]
			c := r.Dropoffs[j] - order.Placed
			c2d = append(c2d, float64(c))
			over = append(over, float64(max(0, c-p.TargetClickToDoor)))
			r2d = append(r2d, float64(r.Dropoffs[j]-order.Ready))
			r2p = append(r2p, float64(r.Pickup-order.Ready))
			delivered[r.Courier]++
			busy[r.Courier] += p.DropoffService
		}
	}
	for c, rs := range courierRoutes(inst, sol) {
		for _, l := range legs(inst, sol, c, rs) {
			busy[c] += TravelMinutes(p, l.From.At, l.To.At)
		}
	}
	m.Delivered = len(c2d)
	m.DeliveredFraction = ratio(float64(m.Delivered), float64(m.Orders))
	m.ClickToDoor, m.Overage, m.ReadyToDoor, m.ReadyToPickup = dist(c2d), dist(over), dist(r2d), dist(r2p)
	m.BundleSize = ratio(float64(m.Delivered), float64(routes))

	var toppedUp int
	var util, perHour float64
	for c, courier := range inst.Couriers {
		shift := float64(courier.Off - courier.On)
		guaranteed := shift / 60 * p.GuaranteedPerHour
		earned := float64(delivered[c]) * p.PayPerOrder
		m.Pay += max(earned, guaranteed)
		if earned < guaranteed {
			toppedUp++
		}
		util += ratio(float64(busy[c]), shift)
		perHour += ratio(60*float64(delivered[c]), shift)
	}
	n := float64(len(inst.Couriers))
	m.PayPerOrder = ratio(m.Pay, float64(m.Delivered))
	m.GuaranteedFraction = ratio(float64(toppedUp), n)
	m.Utilisation = ratio(util, n)
	m.OrdersPerHour = ratio(perHour, n)

	bound := 0
	for o := range inst.Orders {
		bound += ClickToDoorBound(inst, o)
	}
	m.LowerBound = ratio(float64(bound), float64(len(inst.Orders)))
	return m
}

// ratio is a / b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// dist summarises vs (reordering it).
func dist(vs []float64) Dist {
	if len(vs) == 0 {
		return Dist{}
	}
	slices.Sort(vs)
	sum := 0.0
	for _, v := range vs {
		sum += v
	}
	return Dist{
		N: len(vs), Mean: sum / float64(len(vs)),
		P10: percentile(vs, 0.1), P50: percentile(vs, 0.5), P90: percentile(vs, 0.9),
	}
}

// percentile is the q-quantile of sorted, interpolating linearly between the ranks around
// q x (n-1), as pandas and numpy do by default.
func percentile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}
