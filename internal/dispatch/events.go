package dispatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// handle consumes one order event. Each is applied in one transaction whose first statement
// records it as processed, so a redelivery changes nothing.
func (s *Service) handle(ctx context.Context, e event.Envelope) error {
	var o event.Order
	if err := e.Payload(&o); err != nil {
		s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "error").Inc()
		return err
	}
	first := false
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if first, err = tx.Processed(ctx, Consumer, e.ID); err != nil || !first {
			return err
		}
		switch e.Type {
		case event.OrderAccepted:
			_, err = createDelivery(ctx, tx, s.cfg.Now(), o.OrderID)
		case event.OrderCancelled:
			_, err = s.follow(ctx, tx, o.OrderID, orderCancelled)
		case event.OrderPickedUp:
			_, err = s.follow(ctx, tx, o.OrderID, orderPickedUp)
		case event.OrderDelivered:
			_, err = s.follow(ctx, tx, o.OrderID, orderDelivered)
		}
		return err
	})
	if err != nil {
		s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "error").Inc()
		return fmt.Errorf("dispatch: handle %s %s: %w", e.Type, e.ID, err)
	}
	if !first {
		s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "duplicate").Inc()
		return nil
	}
	s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "ok").Inc()
	switch e.Type {
	case event.OrderAccepted, event.OrderReady:
		s.poke(e.Region) // a new order to plan, or its food ready sooner than estimated
	case event.OrderCancelled, event.OrderDelivered:
		s.pokeAll() // a courier may be free, or a bundle's other orders back to plan
	}
	return nil
}

// createDelivery creates the pending delivery of orderID if its order needs a courier and has
// none yet. It returns how many it created (0 or 1).
func createDelivery(ctx context.Context, tx *store.Tx, now time.Time, orderID string) (int64, error) {
	return createDeliveries(ctx, tx, now, `o.id = $3`, orderID, 1)
}

// createRegionDeliveries creates pending deliveries for up to limit orders of region that need
// a courier and have none yet, oldest first. It returns how many it created.
func createRegionDeliveries(ctx context.Context, tx *store.Tx, now time.Time, region string, limit int) (int64, error) {
	return createDeliveries(ctx, tx, now, `o.region = $3`, region, limit)
}

// createDeliveries creates pending deliveries for up to limit orders that need a courier, have
// none yet and match where (a condition on o with $3 for arg): pickup at the restaurant,
// dropoff at the order's address, in the order's region. It returns how many it created.
func createDeliveries(ctx context.Context, tx *store.Tx, now time.Time, where string, arg any, limit int) (int64, error) {
	n, err := tx.Write(ctx, `INSERT INTO deliveries (order_id, region, restaurant_id, pickup_lat, pickup_lng,
			dropoff_lat, dropoff_lng, status, offers, created_at, updated_at)
		SELECT o.id, o.region, o.restaurant_id, r.lat, r.lng, o.delivery_lat, o.delivery_lng, 'pending', 0, $1, $2
		FROM orders o JOIN restaurants r ON r.id = o.restaurant_id
		WHERE o.status IN `+dispatchable+` AND o.fulfilment = 'courier' AND `+where+`
		  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.order_id = o.id)
		ORDER BY o.created_at, o.id LIMIT $4
		ON CONFLICT (order_id) DO NOTHING`,
		store.Now(now), store.Now(now), arg, limit)
	if err != nil {
		return 0, fmt.Errorf("dispatch: create deliveries: %w", err)
	}
	return n, nil
}

// follow moves orderID's delivery along with its order, now in orderStatus. An order that
// ends while on offer withdraws the offer (its other orders go back to pending, the courier is
// available again); a courier on a route becomes available once the last delivery of its route
// has ended. It reports whether it changed anything.
func (s *Service) follow(ctx context.Context, tx *store.Tx, orderID, orderStatus string) (bool, error) {
	// A concurrent offer, accept or expiry may move the row between the read and the
	// compare-and-set (PostgreSQL); then read again.
	for range 5 {
		now := s.cfg.Now()
		d, err := getDelivery(ctx, tx, `order_id = $1`, orderID)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		to := nextStatus(d.status, orderStatus)
		if to == "" {
			return false, nil
		}
		if d.status == Offered {
			// Withdraw the whole offer first, in this transaction: a courier must never
			// accept a route with an order that is gone.
			if _, err := s.releaseTx(ctx, tx, d.offerID, offerWithdrawn, ""); err != nil && !errors.Is(err, errSkip) {
				return false, err
			}
			s.cfg.Metrics.Offers.WithLabelValues("withdrawn").Inc()
			d.status = Pending
		}
		holder := d.holder()
		if err := lockCourier(ctx, tx, holder); err != nil {
			return false, err
		}
		n, err := tx.Write(ctx, `UPDATE deliveries SET status = $1, updated_at = $2
			WHERE order_id = $3 AND status = $4 AND COALESCE(offer_id, '') = $5`,
			to, store.Now(now), orderID, d.status, d.offerID)
		if err != nil {
			return false, fmt.Errorf("dispatch: delivery %s %s -> %s: %w", orderID, d.status, to, err)
		}
		if n == 0 {
			continue
		}
		if to == PickedUp && !d.plannedPickup.IsZero() {
			s.cfg.Metrics.PickupLateness.Observe(now.Sub(d.plannedPickup).Seconds())
		}
		if holder != "" && (to == Delivered || to == Cancelled) {
			var left int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE courier_id = $1 AND status IN ('assigned', 'picked_up')`,
				holder).Scan(&left); err != nil {
				return false, fmt.Errorf("dispatch: read route of %s: %w", holder, err)
			}
			if left == 0 {
				if _, err := setCourierStatus(ctx, tx, holder, CourierAvailable, now, CourierBusy); err != nil {
					return false, err
				}
			}
		}
		return true, nil
	}
	return false, fmt.Errorf("dispatch: delivery %s kept changing", orderID)
}

// nextStatus is the delivery status that follows from its order reaching orderStatus, or ""
// when the delivery stays as it is.
func nextStatus(delivery, orderStatus string) string {
	switch orderStatus {
	case orderPickedUp:
		switch delivery {
		case Assigned:
			return PickedUp
		case Pending, Offered:
			return Cancelled // picked up without a courier of ours (ops)
		}
	case orderDelivered:
		switch delivery {
		case Assigned, PickedUp:
			return Delivered
		case Pending, Offered:
			return Cancelled // delivered without a courier of ours
		}
	case orderCancelled, orderRejected, orderFailed:
		switch delivery {
		case Pending, Offered, Assigned, PickedUp:
			return Cancelled
		}
	}
	return ""
}
