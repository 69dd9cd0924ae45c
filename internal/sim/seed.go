package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/geo"
)

// world is the city the simulator plays: everything follows from Config.Seed, so a restart
// seeds the same restaurants with the same bodies.
type world struct {
	restaurants []simRestaurant
	couriers    []simCourier
	customers   []simCustomer
}

type simRestaurant struct {
	ID          string
	OwnerID     string
	Name        string
	Pos         geo.LatLng
	PrepMinutes int
	Menu        []menuItem
}

type simCourier struct {
	ID      string
	Vehicle string
	Start   geo.LatLng
}

type simCustomer struct {
	ID   string
	Home geo.LatLng
}

var kitchens = []string{
	"Dosa Corner", "Biryani House", "Idli Express", "Chaat Street", "Tandoor Nights",
	"Meals Ready", "Filter Kaapi", "Thali Point", "Parotta Stop", "Momo Bay",
	"Rolls & Wraps", "Udupi Grand", "Kebab Lane", "Curry Leaf", "Pizza Adda",
}

var dishes = []string{
	"Masala Dosa", "Rava Idli", "Medu Vada", "Bisi Bele Bath", "Chicken Biryani",
	"Veg Biryani", "Paneer Butter Masala", "Dal Makhani", "Butter Naan", "Ghee Rice",
	"Chole Bhature", "Pav Bhaji", "Pani Puri", "Gobi Manchurian", "Chicken 65",
	"Malabar Parotta", "Veg Kurma", "Mutton Sukka", "Fish Fry", "Curd Rice",
	"Lemon Rice", "Mysore Pak", "Gulab Jamun", "Filter Coffee", "Masala Chai",
	"Kothu Parotta", "Egg Roll", "Paneer Tikka", "Veg Momos", "Neer Dosa",
}

// Ranges of the generated world.
const (
	minPrep, maxPrep   = 8, 25
	minItems, maxItems = 6, 12
	minPrice, maxPrice = 8000, 45000 // minor units
	priceStep          = 500
)

func newWorld(cfg Config) world {
	rng := rand.New(rand.NewPCG(cfg.Seed, streamWorld<<32)) // #nosec G404 -- the simulator's seeded, reproducible randomness; no secret
	var w world
	for i := range cfg.Restaurants {
		id := fmt.Sprintf("sim-r-%02d", i+1)
		r := simRestaurant{
			ID:          id,
			OwnerID:     fmt.Sprintf("sim-owner-%02d", i+1),
			Name:        fmt.Sprintf("%s %02d", kitchens[i%len(kitchens)], i+1),
			Pos:         randomPoint(rng, cfg.Center, cfg.RadiusM),
			PrepMinutes: minPrep + rng.IntN(maxPrep-minPrep+1),
		}
		n := minItems + rng.IntN(maxItems-minItems+1)
		for j, d := range rng.Perm(len(dishes))[:n] {
			it := menuItem{
				ID:    fmt.Sprintf("%s-i%02d", id, j+1),
				Name:  dishes[d],
				Price: minPrice + priceStep*rng.Int64N((maxPrice-minPrice)/priceStep+1),
			}
			it.Available = new(true)
			if rng.IntN(3) == 0 { // a third of the items are counted; the rest never run out
				it.Stock = new(int64(restock + rng.IntN(restock)))
			}
			r.Menu = append(r.Menu, it)
		}
		w.restaurants = append(w.restaurants, r)
	}
	for i := range cfg.Couriers {
		v := geo.Bike
		if rng.IntN(4) == 0 {
			v = geo.Scooter
		}
		w.couriers = append(w.couriers, simCourier{
			ID:      fmt.Sprintf("sim-c-%03d", i+1),
			Vehicle: v,
			Start:   randomPoint(rng, cfg.Center, cfg.RadiusM),
		})
	}
	for i := range cfg.Customers {
		w.customers = append(w.customers, simCustomer{
			ID:   fmt.Sprintf("sim-u-%04d", i+1),
			Home: randomPoint(rng, cfg.Center, cfg.RadiusM),
		})
	}
	return w
}

// randomPoint is uniform over the disc of radius metres around c.
func randomPoint(rng *rand.Rand, c geo.LatLng, radius float64) geo.LatLng {
	r := radius * math.Sqrt(rng.Float64())
	return geo.Move(c, 360*rng.Float64(), r)
}

var opsPrincipal = auth.Principal{Subject: "sim-ops", Role: auth.Ops}

func ownerPrincipal(r simRestaurant) auth.Principal {
	return auth.Principal{Subject: r.OwnerID, Role: auth.Restaurant}
}

// seedParallel bounds the seeding requests in flight.
const seedParallel = 8

// seed upserts every restaurant and its menu, returning those that took. PUTs are idempotent:
// the same Seed sends the same bodies. A restaurant the server refuses (a 4xx after the
// retries) is left out of the simulation.
func (s *Sim) seed(ctx context.Context) []simRestaurant {
	var (
		mu   sync.Mutex
		ok   = make([]bool, len(s.world.restaurants))
		sem  = make(chan struct{}, seedParallel)
		wg   sync.WaitGroup
		live []simRestaurant
	)
	for i, r := range s.world.restaurants {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if s.seedRestaurant(ctx, r) {
				mu.Lock()
				ok[i] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i, r := range s.world.restaurants {
		if ok[i] {
			live = append(live, r)
		}
	}
	return live
}

func (s *Sim) seedRestaurant(ctx context.Context, r simRestaurant) bool {
	path := "/v1/restaurants/" + url.PathEscape(r.ID)
	body := restaurantBody{
		Name: r.Name, OwnerID: r.OwnerID, Lat: r.Pos.Lat, Lng: r.Pos.Lng,
		OpensMinute: 0, ClosesMinute: 24 * 60, PrepMinutes: r.PrepMinutes,
	}
	if !s.seedPut(ctx, opsPrincipal, path, body, "restaurant", r.ID) {
		return false
	}
	return s.seedPut(ctx, ownerPrincipal(r), path+"/menu", menuBody{Items: r.Menu}, "menu", r.ID)
}

// seedPut PUTs until the server answers something other than a network error or a 5xx
// (it may still be starting), or ctx ends.
func (s *Sim) seedPut(ctx context.Context, p auth.Principal, path string, body any, what, id string) bool {
	for {
		r, err := s.as(ctx, p, http.MethodPut, path, body, nil)
		if ctx.Err() != nil {
			return false
		}
		if err == nil && r.ok() {
			return true
		}
		s.trouble(ctx, "seed "+what, r, err, "restaurant", id)
		if err == nil && !r.retryable() {
			s.log.Warn("server refused a simulated restaurant; leaving it out", "restaurant", id,
				"what", what, "status", r.Status, "body", r.snippet())
			return false
		}
		if sleep(ctx, 2*s.poll) != nil {
			return false
		}
	}
}
