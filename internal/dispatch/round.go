package dispatch

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// A planning round, in outline: read the region's waiting orders and the couriers on shift
// within SearchRadiusM of their restaurants (two reads outside any write transaction, the
// positions from the location stream), run the planner, and offer each due assignment in its
// own all-or-nothing transaction (makeOffer). A lost race skips that assignment; the next
// round plans it again with what changed.

// waiting is an order waiting for a courier, as a round reads it.
type waiting struct {
	orderID, restaurantID, currency string
	pickup, dropoff                 geo.LatLng
	placed, ready                   time.Time
}

// onShift is a courier on shift, as a round reads it.
type onShift struct {
	id, status, vehicle string
	pos                 geo.LatLng
	started, ends       time.Time // ends is zero when the shift has no set end
	orders              int       // orders taken this shift
	// free and freeAt are where and when a busy courier's route is estimated to end.
	free   geo.LatLng
	freeAt time.Time
}

// cityTime is d of city time on the wall clock: d divided by Pace.
func (s *Service) cityTime(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.cfg.Pace)
}

// planner returns region's planner, made on first use.
func (s *Service) planner(region string) *regionPlanner {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, ok := s.planners[region]
	if !ok {
		rp = &regionPlanner{pl: plan.New(s.params())}
		s.planners[region] = rp
	}
	return rp
}

// params are the planner's parameters: the configured ones, city-time durations divided by
// Pace. Lead is the offer's time to live plus a round, so a courier can answer before it must
// leave and no assignment falls due between two rounds unseen.
func (s *Service) params() plan.Params {
	speed := geo.StreetSpeed(geo.Bike) * s.cfg.Pace / geo.Circuity // straight-line metres per second
	return plan.Params{
		Algorithm: s.cfg.Algorithm,
		Travel: func(a, b plan.Point) time.Duration {
			return time.Duration(plan.Distance(a, b) / speed * float64(time.Second))
		},
		PickupService:  s.cityTime(s.cfg.PickupService),
		DropoffService: s.cityTime(s.cfg.DropoffService),
		Target:         s.cityTime(s.cfg.Target),
		MaxBundle:      s.cfg.MaxBundle,
		BundleWindow:   s.cityTime(10 * time.Minute),
		Reach:          s.cityTime(10 * time.Minute),
		Lead:           s.cfg.OfferTTL + s.cfg.Round,
	}
}

// planRound runs one planning round for region and offers its due assignments. It returns
// how many offers it made.
func (s *Service) planRound(ctx context.Context, region string) (int, error) {
	start := time.Now()
	defer func() {
		s.cfg.Metrics.DispatchRound.WithLabelValues(string(s.cfg.Algorithm)).Observe(time.Since(start).Seconds())
	}()
	now := s.cfg.Now()
	orders, excluded, err := s.readWaiting(ctx, region, now)
	if err != nil {
		return 0, err
	}
	s.cfg.Metrics.OrdersWaiting.WithLabelValues(region).Set(float64(len(orders)))
	if len(orders) == 0 {
		return 0, nil
	}
	couriers, err := s.readOnShift(ctx, orders, now)
	if err != nil {
		return 0, err
	}
	if len(couriers) == 0 {
		return 0, nil
	}

	// The planner works on a plane in metres around the region's first pickup, and in
	// durations since the Unix epoch.
	proj := newProjection(orders[0].pickup)
	at := func(t time.Time) time.Duration { return time.Duration(t.UnixNano()) }
	in := plan.Input{Now: at(now), Orders: make([]plan.Order, len(orders)), Couriers: make([]plan.Courier, len(couriers))}
	for i, o := range orders {
		in.Orders[i] = plan.Order{
			ID: o.orderID, Restaurant: o.restaurantID, Pickup: proj.point(o.pickup), Dropoff: proj.point(o.dropoff),
			Placed: at(o.placed), Ready: at(o.ready), Excluded: excluded[o.orderID],
		}
	}
	for i, c := range couriers {
		pc := plan.Courier{ID: c.id, At: proj.point(c.pos), FreeAt: in.Now, OffAt: math.MaxInt64, Orders: c.orders}
		if c.status == CourierBusy {
			pc.At, pc.FreeAt = proj.point(c.free), at(c.freeAt)
		}
		if !c.ends.IsZero() {
			pc.OffAt = at(c.ends)
		}
		pc.Guaranteed = s.cfg.GuaranteedPerHour * now.Sub(c.started).Hours() * s.cfg.Pace
		in.Couriers[i] = pc
	}
	rp := s.planner(region)
	rp.mu.Lock()
	p := rp.pl.Plan(in)
	rp.mu.Unlock()

	due := slices.DeleteFunc(p.Assignments, func(a plan.Assignment) bool {
		return !a.Due || couriers[a.Courier].status != CourierAvailable
	})
	slices.SortFunc(due, func(a, b plan.Assignment) int { return cmp.Compare(a.Depart, b.Depart) })
	made := 0
	var errs []error
	for _, a := range due {
		c := couriers[a.Courier]
		r := routeOffer{
			courierID: c.id, region: region, restaurantID: orders[a.Orders[0]].restaurantID,
			pickup: orders[a.Orders[0]].pickup, pickupAt: time.Unix(0, int64(a.Pickup)),
			pay: Money{Currency: orders[a.Orders[0]].currency},
		}
		// Estimated street distance: to the restaurant, then each drop-off in turn.
		from, metres := r.pickup, geo.Distance(c.pos, r.pickup)
		for _, oi := range a.Orders {
			r.orders = append(r.orders, orders[oi].orderID)
			metres += geo.Distance(from, orders[oi].dropoff)
			from = orders[oi].dropoff
		}
		r.distanceM = math.Round(metres * geo.Circuity)
		r.pay.Amount = s.cfg.PayPerOrder*int64(len(a.Orders)) + int64(math.Round(float64(s.cfg.PayPerKm)*r.distanceM/1000))
		_, ok, err := s.makeOffer(ctx, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			made++
			s.cfg.Metrics.Reconciled.WithLabelValues("offered").Inc()
		}
	}
	return made, errors.Join(errs...)
}

// readWaiting reads region's pending deliveries whose orders still need a courier, oldest
// first, with each order's estimated ready time, and the couriers each must not be offered
// to (they declined it or let its offer expire within DeclineCooldown).
func (s *Service) readWaiting(ctx context.Context, region string, now time.Time) ([]waiting, map[string][]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.order_id, d.restaurant_id, d.pickup_lat, d.pickup_lng, d.dropoff_lat,
			d.dropoff_lng, o.created_at, d.created_at, o.status, o.updated_at, r.prep_minutes, o.currency
		FROM deliveries d JOIN orders o ON o.id = d.order_id JOIN restaurants r ON r.id = d.restaurant_id
		WHERE d.region = $1 AND d.status = 'pending' AND o.status IN `+dispatchable+`
		ORDER BY d.created_at, d.order_id LIMIT $2`, region, s.cfg.RoundOrders)
	if err != nil {
		return nil, nil, fmt.Errorf("dispatch: read waiting orders: %w", err)
	}
	var out []waiting
	for rows.Next() {
		var w waiting
		var placed, accepted, updated int64
		var status string
		var prep int
		if err := rows.Scan(&w.orderID, &w.restaurantID, &w.pickup.Lat, &w.pickup.Lng, &w.dropoff.Lat, &w.dropoff.Lng,
			&placed, &accepted, &status, &updated, &prep, &w.currency); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("dispatch: read waiting orders: %w", err)
		}
		w.placed = store.Time(placed)
		if status == "ready" {
			w.ready = store.Time(updated)
			if w.ready.After(now) {
				w.ready = now
			}
		} else {
			// Estimated from the delivery's creation (the restaurant's acceptance, as dispatch
			// heard of it) and the restaurant's prep time; food that is late is taken as
			// about to be ready.
			cook := s.cityTime(time.Duration(prep) * time.Minute)
			w.ready = store.Time(accepted).Add(cook)
			if w.ready.Before(now) {
				w.ready = now
			}
		}
		out = append(out, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("dispatch: read waiting orders: %w", err)
	}
	if len(out) == 0 {
		return nil, nil, nil
	}
	excluded := map[string][]string{}
	rows, err = s.db.QueryContext(ctx, `SELECT x.order_id, x.courier_id FROM delivery_declines x
		JOIN deliveries d ON d.order_id = x.order_id WHERE d.region = $1 AND d.status = 'pending' AND x.at > $2`,
		region, store.Now(now.Add(-s.cfg.DeclineCooldown)))
	if err != nil {
		return nil, nil, fmt.Errorf("dispatch: read declines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o, c string
		if err := rows.Scan(&o, &c); err != nil {
			return nil, nil, fmt.Errorf("dispatch: read declines: %w", err)
		}
		excluded[o] = append(excluded[o], c)
	}
	return out, excluded, rows.Err()
}

// readOnShift reads the couriers on shift, available or on a route, within SearchRadiusM of
// some order's restaurant, each at its last position from the location stream (else the one
// stored with its shift), with how many orders it has taken this shift and, for a courier on
// a route, where and when the route is estimated to end.
func (s *Service) readOnShift(ctx context.Context, orders []waiting, now time.Time) ([]onShift, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.id, c.status, c.vehicle, c.lat, c.lng, c.shift_started_at, c.shift_ends_at,
			(SELECT COUNT(*) FROM deliveries d WHERE d.courier_id = c.id AND d.status IN ('assigned', 'picked_up', 'delivered')
			   AND d.created_at >= COALESCE(c.shift_started_at, 0))
		FROM couriers c WHERE c.status IN ('available', 'busy') ORDER BY c.id`)
	if err != nil {
		return nil, fmt.Errorf("dispatch: read couriers: %w", err)
	}
	var pickups []geo.LatLng
	for _, o := range orders {
		if !slices.Contains(pickups, o.pickup) {
			pickups = append(pickups, o.pickup)
		}
	}
	near := func(p geo.LatLng) bool {
		for _, q := range pickups {
			if geo.Distance(p, q) <= s.cfg.SearchRadiusM {
				return true
			}
		}
		return false
	}
	var out []onShift
	busy := map[string]int{}
	for rows.Next() {
		var c onShift
		var lat, lng sql.NullFloat64
		var started, ends sql.NullInt64
		if err := rows.Scan(&c.id, &c.status, &c.vehicle, &lat, &lng, &started, &ends, &c.orders); err != nil {
			rows.Close()
			return nil, fmt.Errorf("dispatch: read couriers: %w", err)
		}
		if p, ok := s.position(c.id); ok {
			c.pos = p
		} else if lat.Valid && lng.Valid {
			c.pos = geo.LatLng{Lat: lat.Float64, Lng: lng.Float64}
		} else {
			continue // nowhere known: nothing to plan with
		}
		c.started = now
		if started.Valid {
			c.started = store.Time(started.Int64)
		}
		if ends.Valid {
			c.ends = store.Time(ends.Int64)
		}
		if !near(c.pos) {
			continue
		}
		if c.status == CourierBusy {
			busy[c.id] = len(out)
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dispatch: read couriers: %w", err)
	}
	if len(busy) > 0 {
		if err := s.estimateRouteEnds(ctx, out, busy, now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// estimateRouteEnds sets free and freeAt of the busy couriers (indexes in out by id): from
// where the courier is, to its restaurant if it has not picked up yet, then each remaining
// drop-off in sequence, at its vehicle's street speed with the service times.
func (s *Service) estimateRouteEnds(ctx context.Context, out []onShift, busy map[string]int, now time.Time) error {
	rows, err := s.db.QueryContext(ctx, `SELECT courier_id, status, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng
		FROM deliveries WHERE status IN ('assigned', 'picked_up') ORDER BY courier_id, seq, order_id`)
	if err != nil {
		return fmt.Errorf("dispatch: read routes: %w", err)
	}
	defer rows.Close()
	travel := func(c *onShift, to geo.LatLng) time.Duration {
		return s.cityTime(geo.TravelTime(c.free, to, c.vehicle))
	}
	for i := range out {
		out[i].free, out[i].freeAt = out[i].pos, now
	}
	pickedUp := map[string]bool{}
	for rows.Next() {
		var id, status string
		var pickup, dropoff geo.LatLng
		if err := rows.Scan(&id, &status, &pickup.Lat, &pickup.Lng, &dropoff.Lat, &dropoff.Lng); err != nil {
			return fmt.Errorf("dispatch: read routes: %w", err)
		}
		i, ok := busy[id]
		if !ok {
			continue
		}
		c := &out[i]
		if status == Assigned && !pickedUp[id] {
			c.freeAt = c.freeAt.Add(travel(c, pickup) + s.cityTime(s.cfg.PickupService))
			c.free = pickup
			pickedUp[id] = true // the route's other orders come with this pickup
		}
		c.freeAt = c.freeAt.Add(travel(c, dropoff) + s.cityTime(s.cfg.DropoffService))
		c.free = dropoff
	}
	return rows.Err()
}

// projection maps coordinates to a plane in metres around an origin (equirectangular: exact
// enough across a city, where the planner works).
type projection struct {
	origin geo.LatLng
	kx, ky float64 // metres per degree of longitude and latitude at the origin
}

func newProjection(origin geo.LatLng) projection {
	const metresPerDegree = 2 * math.Pi * geo.EarthRadius / 360
	return projection{origin: origin, kx: metresPerDegree * math.Cos(origin.Lat*math.Pi/180), ky: metresPerDegree}
}

func (p projection) point(q geo.LatLng) plan.Point {
	return plan.Point{X: (q.Lng - p.origin.Lng) * p.kx, Y: (q.Lat - p.origin.Lat) * p.ky}
}
