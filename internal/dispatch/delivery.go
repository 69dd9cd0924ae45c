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
	Offered   = "offered"   // offered to offered_courier_id until offer_expires_at
	Assigned  = "assigned"  // courier_id accepted it
	PickedUp  = "picked_up" // the courier has the food
	Delivered = "delivered" // done
	Cancelled = "cancelled" // the order ended without a delivery
)

// Courier statuses (couriers.status).
const (
	CourierOff       = "off"       // not on shift
	CourierAvailable = "available" // on shift, free for an offer
	CourierOffered   = "offered"   // holding one offer
	CourierBusy      = "busy"      // carrying one delivery (assigned or picked_up)
)

// Point is a coordinate in JSON.
type Point struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

func point(p geo.LatLng) Point { return Point{Lat: p.Lat, Lng: p.Lng} }

// Offer is a delivery offered to one courier until ExpiresAt.
type Offer struct {
	OfferID      string    `json:"offer_id"`
	OrderID      string    `json:"order_id"`
	RestaurantID string    `json:"restaurant_id"`
	Pickup       Point     `json:"pickup"`
	Dropoff      Point     `json:"dropoff"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// Delivery is an order's delivery as its courier sees it.
type Delivery struct {
	OrderID      string `json:"order_id"`
	RestaurantID string `json:"restaurant_id"`
	Status       string `json:"status" enum:"pending,offered,assigned,picked_up,delivered,cancelled"`
	Pickup       Point  `json:"pickup"`
	Dropoff      Point  `json:"dropoff"`
	CourierID    string `json:"courier_id"`
}

// delivery is a deliveries row.
type delivery struct {
	orderID, region, restaurantID string
	pickup, dropoff               geo.LatLng
	status                        string
	courierID                     string
	offerID, offeredCourierID     string
	offerExpiresAt                time.Time
}

const deliveryColumns = `order_id, region, restaurant_id, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
	status, courier_id, offer_id, offered_courier_id, offer_expires_at`

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
		Pickup: point(d.pickup), Dropoff: point(d.dropoff), CourierID: d.courierID,
	}
}

func (d delivery) offer() Offer {
	return Offer{
		OfferID: d.offerID, OrderID: d.orderID, RestaurantID: d.restaurantID,
		Pickup: point(d.pickup), Dropoff: point(d.dropoff), ExpiresAt: d.offerExpiresAt,
	}
}

// store.Querier is what reads need from *sql.DB and *store.Tx alike.
// getDelivery reads one delivery row selected by where (which uses $1 for arg). It returns
// sql.ErrNoRows when there is none.
func getDelivery(ctx context.Context, q store.Querier, where string, args ...any) (delivery, error) {
	var d delivery
	var courier, offer, offered sql.NullString
	var expires sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE `+where, args...).Scan(
		&d.orderID, &d.region, &d.restaurantID, &d.pickup.Lat, &d.pickup.Lng, &d.dropoff.Lat, &d.dropoff.Lng,
		&d.status, &courier, &offer, &offered, &expires)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return d, err
		}
		return d, fmt.Errorf("dispatch: read delivery: %w", err)
	}
	d.courierID, d.offerID, d.offeredCourierID = courier.String, offer.String, offered.String
	if expires.Valid {
		d.offerExpiresAt = store.Time(expires.Int64)
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
