package dispatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Delivery statuses (deliveries.status).
const (
	Pending   = "pending"   // waiting for an offer
	Offered   = "offered"   // on offer (offer_id) to offered_courier_id until offer_expires_at
	Assigned  = "assigned"  // courier_id accepted it, on route route_id at place seq
	PickedUp  = "picked_up" // the courier has the food
	Delivered = "delivered" // done
	Cancelled = "cancelled" // the order ended without a delivery
)

// Courier statuses (couriers.status).
const (
	CourierOff       = "off"       // not on shift
	CourierAvailable = "available" // on shift, free for an offer
	CourierOffered   = "offered"   // holding one offer
	CourierBusy      = "busy"      // carrying one route (its deliveries assigned or picked_up)
)

// Point is a coordinate in JSON.
type Point struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

func point(p geo.LatLng) Point { return Point{Lat: p.Lat, Lng: p.Lng} }

// Offer is a route offered to one courier until ExpiresAt: the pickup at one restaurant, then
// the drop-offs of its orders in sequence. Before the courier accepts, a drop-off is shown as
// its area (an H3 cell and its centre), not the address.
type Offer struct {
	OfferID      string      `json:"offer_id"`
	OrderID      string      `json:"order_id" doc:"the route's first order (its only one unless it is a bundle)"`
	Orders       []OfferStop `json:"orders" doc:"the orders in drop-off sequence"`
	RestaurantID string      `json:"restaurant_id"`
	Pickup       Point       `json:"pickup"`
	PickupAt     time.Time   `json:"pickup_at" doc:"planned pickup time"`
	DistanceM    float64     `json:"distance_m" doc:"estimated street distance from the courier to the restaurant and on to each drop-off, in metres"`
	Pay          Money       `json:"pay"`
	ExpiresAt    time.Time   `json:"expires_at"`
}

// OfferStop is one order of an offer.
type OfferStop struct {
	OrderID     string `json:"order_id"`
	DropoffArea Area   `json:"dropoff_area"`
}

// Area is where an address is, without saying exactly where: an H3 cell at
// geo.AreaResolution and the cell's centre.
type Area struct {
	Cell   string `json:"h3_cell"`
	Centre Point  `json:"centre"`
}

// Money is an amount in minor units (cents, paise) of Currency.
type Money struct {
	Amount   int64  `json:"amount" doc:"minor units"`
	Currency string `json:"currency"`
}

// Route is the courier's accepted offer: the pickup, then the drop-offs in sequence, each
// with its order's delivery status.
type Route struct {
	RouteID      string    `json:"route_id" doc:"the accepted offer's id"`
	CourierID    string    `json:"courier_id"`
	RestaurantID string    `json:"restaurant_id"`
	Pickup       Point     `json:"pickup"`
	PickupAt     time.Time `json:"pickup_at" doc:"planned pickup time"`
	Pay          Money     `json:"pay"`
	Stops        []Stop    `json:"stops" doc:"drop-offs in sequence"`
}

// Stop is one drop-off of a route.
type Stop struct {
	OrderID string `json:"order_id"`
	Status  string `json:"status" enum:"assigned,picked_up,delivered,cancelled"`
	Dropoff *Point `json:"dropoff,omitempty" doc:"The exact drop-off while the courier carries the order (assigned, picked up); gone once it is delivered or cancelled."`
}

// Delivery is an order's delivery as its courier sees it.
type Delivery struct {
	OrderID      string `json:"order_id"`
	RestaurantID string `json:"restaurant_id"`
	Status       string `json:"status" enum:"pending,offered,assigned,picked_up,delivered,cancelled"`
	Pickup       Point  `json:"pickup"`
	Dropoff      Point  `json:"dropoff"`
	CourierID    string `json:"courier_id"`
	RouteID      string `json:"route_id,omitempty"`
}

// delivery is a deliveries row.
type delivery struct {
	orderID, region, restaurantID string
	pickup, dropoff               geo.LatLng
	status                        string
	courierID                     string
	offerID, offeredCourierID     string
	offerExpiresAt                time.Time
	routeID                       string
	seq                           int
	plannedPickup                 time.Time
}

const deliveryColumns = `order_id, region, restaurant_id, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
	status, courier_id, offer_id, offered_courier_id, offer_expires_at, route_id, seq, planned_pickup_at`

// holder is the courier the delivery ties up: the one offered it or the one carrying it.
func (d delivery) holder() string {
	switch d.status {
	case Offered:
		return d.offeredCourierID
	case Assigned, PickedUp:
		return d.courierID
	}
	return ""
}

func (d delivery) public() Delivery {
	return Delivery{
		OrderID: d.orderID, RestaurantID: d.restaurantID, Status: d.status,
		Pickup: point(d.pickup), Dropoff: point(d.dropoff), CourierID: d.courierID, RouteID: d.routeID,
	}
}

// store.Querier is what reads need from *sql.DB and *store.Tx alike.
// getDelivery reads one delivery row selected by where (which uses $1 for arg). It returns
// sql.ErrNoRows when there is none.
func getDelivery(ctx context.Context, q store.Querier, where string, args ...any) (delivery, error) {
	var d delivery
	var courier, offer, offered, route sql.NullString
	var expires, planned sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE `+where, args...).Scan(
		&d.orderID, &d.region, &d.restaurantID, &d.pickup.Lat, &d.pickup.Lng, &d.dropoff.Lat, &d.dropoff.Lng,
		&d.status, &courier, &offer, &offered, &expires, &route, &d.seq, &planned)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return d, err
		}
		return d, fmt.Errorf("dispatch: read delivery: %w", err)
	}
	d.courierID, d.offerID, d.offeredCourierID, d.routeID = courier.String, offer.String, offered.String, route.String
	if expires.Valid {
		d.offerExpiresAt = store.Time(expires.Int64)
	}
	if planned.Valid {
		d.plannedPickup = store.Time(planned.Int64)
	}
	return d, nil
}

// lockCourier takes the courier's row lock on PostgreSQL, so that every transaction touching
// a courier and a delivery locks them in the same order (courier first) and none deadlock.
// SQLite serialises writers, so there it does nothing.
func lockCourier(ctx context.Context, tx *store.Tx, courierID string) error {
	if tx.Dialect() != store.Postgres || courierID == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM couriers WHERE id = $1 FOR UPDATE`, courierID); err != nil {
		return fmt.Errorf("dispatch: lock courier %s: %w", courierID, err)
	}
	return nil
}

// setCourierStatus moves a courier from one of the from statuses to to.
func setCourierStatus(ctx context.Context, tx *store.Tx, courierID, to string, now time.Time, from string) (bool, error) {
	n, err := tx.Write(ctx, `UPDATE couriers SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4`,
		to, store.Now(now), courierID, from)
	if err != nil {
		return false, fmt.Errorf("dispatch: courier %s %s -> %s: %w", courierID, from, to, err)
	}
	return n == 1, nil
}
