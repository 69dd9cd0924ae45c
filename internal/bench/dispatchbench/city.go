package dispatchbench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
)

// The synthetic city: a square of side citySide, travel at speed metres a minute rounded up to
// whole minutes (the MDRP's), service at restaurants and drop-offs.
const (
	citySide  = 15_000.0 // metres
	speed     = 320.0    // metres a minute
	service   = 4 * time.Minute
	target    = 40 * time.Minute
	hubs      = 10     // restaurant clusters
	atHubs    = 0.7    // the share of restaurants around a hub, the rest anywhere
	hubSpread = 1000.0 // metres, the standard deviation of a restaurant around its hub
)

// travel is the city's travel time: the straight-line distance at 320 m a minute, rounded up
// to whole minutes.
func travel(a, b plan.Point) time.Duration {
	return time.Duration(math.Ceil(plan.Distance(a, b)/speed)) * time.Minute
}

// params are the planner parameters of the city, with k candidates (0: the planner's default).
func params(algo plan.Algorithm, k int) plan.Params {
	return plan.Params{Algorithm: algo, Travel: travel, PickupService: service, DropoffService: service,
		Target: target, Candidates: k, MaxBundle: 1}
}

// city is a synthetic city: restaurants clustered around hubs, fixed for its seed; each round
// draws its orders and couriers afresh.
type city struct {
	seed        uint64
	hubs        []plan.Point
	restaurants []plan.Point
}

// newCity places a restaurant for every four orders: seven in ten around one of the hubs (in
// the middle two thirds of the square), the rest anywhere.
func newCity(seed uint64, orders int) *city {
	rng := rand.New(rand.NewPCG(seed, 0)) // #nosec G404 -- the benchmark's load randomness; no secret
	c := &city{seed: seed}
	for range hubs {
		c.hubs = append(c.hubs, plan.Point{X: citySide * (1 + 4*rng.Float64()) / 6, Y: citySide * (1 + 4*rng.Float64()) / 6})
	}
	for range max(1, orders/4) {
		c.restaurants = append(c.restaurants, c.near(rng, atHubs, hubSpread))
	}
	return c
}

// near is a point around a random hub (spread being the standard deviation) with probability
// p, else anywhere in the square.
func (c *city) near(rng *rand.Rand, p, spread float64) plan.Point {
	if rng.Float64() >= p {
		return plan.Point{X: rng.Float64() * citySide, Y: rng.Float64() * citySide}
	}
	h := c.hubs[rng.IntN(len(c.hubs))]
	clamp := func(v float64) float64 { return min(max(v, 0), citySide) }
	return plan.Point{X: clamp(h.X + spread*rng.NormFloat64()), Y: clamp(h.Y + spread*rng.NormFloat64())}
}

// round draws round i: at noon plus i minutes, orders from uniformly chosen restaurants to
// drop-offs anywhere, placed up to 15 minutes ago and ready within the next 25; couriers half
// around the hubs (twice as spread as restaurants) and half anywhere, three in ten busy until some time in the next 20 minutes
// (where their current route ends, anywhere), one in ten ending its shift within the hour.
func (c *city) round(i, orders, couriers int) plan.Input {
	rng := rand.New(rand.NewPCG(c.seed, uint64(i)+1)) // #nosec G115 G404 -- the benchmark's load randomness; no secret
	now := 12*time.Hour + time.Duration(i)*time.Minute
	minutes := func(lo, hi float64) time.Duration {
		return time.Duration((lo + (hi-lo)*rng.Float64()) * float64(time.Minute))
	}
	in := plan.Input{Now: now, Orders: make([]plan.Order, orders), Couriers: make([]plan.Courier, couriers)}
	for o := range in.Orders {
		r := rng.IntN(len(c.restaurants))
		in.Orders[o] = plan.Order{
			ID: fmt.Sprintf("o%d-%d", i, o), Restaurant: fmt.Sprintf("r%d", r),
			Pickup: c.restaurants[r], Dropoff: plan.Point{X: rng.Float64() * citySide, Y: rng.Float64() * citySide},
			Placed: now - minutes(0, 15), Ready: now + minutes(0, 25),
		}
	}
	for ci := range in.Couriers {
		cr := plan.Courier{ID: fmt.Sprintf("c%d", ci), At: c.near(rng, 0.5, 2*hubSpread),
			FreeAt: now - minutes(0, 30), OffAt: now + minutes(60, 360),
			Orders: rng.IntN(12), Guaranteed: float64(rng.IntN(10))}
		if rng.IntN(10) < 3 {
			cr.At = plan.Point{X: rng.Float64() * citySide, Y: rng.Float64() * citySide}
			cr.FreeAt = now + minutes(0, 20)
		}
		if rng.IntN(10) == 0 {
			cr.OffAt = now + minutes(10, 60)
		}
		in.Couriers[ci] = cr
	}
	return in
}
