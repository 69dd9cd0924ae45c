package dispatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Order statuses dispatch reads from the orders table.
const (
	orderCancelled = "cancelled"
	orderRejected  = "rejected"
	orderFailed    = "failed"
	orderPickedUp  = "picked_up"
	orderDelivered = "delivered"
)

// dispatchable lists the order statuses whose orders need a courier, as SQL.
const dispatchable = `('accepted', 'preparing', 'ready')`

// Offer statuses (offers.status). Every offer ever made keeps its row.
const (
	offerOpen      = "open"      // waiting for its courier's answer until expires_at
	offerAccepted  = "accepted"  // the courier took it: it is the courier's route
	offerDeclined  = "declined"  // the courier turned it down
	offerExpired   = "expired"   // unanswered until expires_at
	offerWithdrawn = "withdrawn" // an order of it was cancelled, or the courier's shift ended
)

// routeOffer is a planned route to offer: courierID to pick up orders (in drop-off sequence)
// at one restaurant.
type routeOffer struct {
	courierID    string
	region       string
	restaurantID string
	pickup       geo.LatLng
	orders       []string
	pickupAt     time.Time
	distanceM    float64
	pay          Money
}

// makeOffer offers r to its courier, all or nothing, in one transaction: the courier moves
// available -> offered, every order's delivery pending -> offered, the offer's rows are
// written and each order's delivery.offered event emitted. It reports whether the offer was
// made; losing a race (the courier or an order was taken meanwhile) is not an error.
func (s *Service) makeOffer(ctx context.Context, r routeOffer) (string, bool, error) {
	offerID := event.NewID("ofr")
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := s.cfg.Now()
		expires := now.Add(s.cfg.OfferTTL)
		if err := lockCourier(ctx, tx, r.courierID); err != nil {
			return err
		}
		took, err := setCourierStatus(ctx, tx, r.courierID, CourierOffered, now, CourierAvailable)
		if err != nil {
			return err
		}
		if !took {
			return errSkip
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO offers (id, courier_id, region, restaurant_id, status,
				pickup_lat, pickup_lng, distance_m, pay, currency, planned_pickup_at, expires_at, created_at)
			VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $11, $12)`,
			offerID, r.courierID, r.region, r.restaurantID, r.pickup.Lat, r.pickup.Lng, r.distanceM,
			r.pay.Amount, r.pay.Currency, store.Now(r.pickupAt), store.Now(expires), store.Now(now)); err != nil {
			return fmt.Errorf("dispatch: write offer: %w", err)
		}
		for i, orderID := range r.orders {
			n, err := tx.Write(ctx, `UPDATE deliveries SET status = 'offered', offer_id = $1, offered_courier_id = $2,
				offer_expires_at = $3, offers = offers + 1, seq = $4, planned_pickup_at = $5, updated_at = $6
				WHERE order_id = $7 AND status = 'pending'
				  AND EXISTS (SELECT 1 FROM orders o WHERE o.id = deliveries.order_id AND o.status IN `+dispatchable+`)`,
				offerID, r.courierID, store.Now(expires), i, store.Now(r.pickupAt), store.Now(now), orderID)
			if err != nil {
				return fmt.Errorf("dispatch: offer %s: %w", orderID, err)
			}
			if n != 1 {
				return errSkip // offered elsewhere or ended meanwhile: plan again next round
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO offer_orders (offer_id, order_id, seq) VALUES ($1, $2, $3)`,
				offerID, orderID, i); err != nil {
				return fmt.Errorf("dispatch: write offer %s order %s: %w", offerID, orderID, err)
			}
			if err := tx.EmitNew(ctx, event.DeliveryOffered, r.region, now, event.Delivery{
				OrderID: orderID, OfferID: offerID, CourierID: r.courierID, OfferExpiresAt: expires, At: now,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errSkip) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	s.cfg.Metrics.Offers.WithLabelValues("offered").Inc()
	s.log.DebugContext(ctx, "offered", "region", r.region, "orders", r.orders, "courier_id", r.courierID, "offer_id", offerID)
	return offerID, true, nil
}

// Accept makes the route offered as offerID courierID's. Exactly one accept of an offer
// succeeds: it is a compare-and-set on the offer's status, courier and expiry. The errors say
// why an accept failed: ErrOfferNotFound, ErrNotYourOffer, ErrOfferExpired, ErrOfferWithdrawn,
// ErrOfferAccepted or ErrOfferDeclined.
func (s *Service) Accept(ctx context.Context, courierID, offerID string) (Route, error) {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := s.cfg.Now()
		if err := lockCourier(ctx, tx, courierID); err != nil {
			return err
		}
		n, err := tx.Write(ctx, `UPDATE offers SET status = 'accepted', answered_at = $1
			WHERE id = $2 AND courier_id = $3 AND status = 'open' AND expires_at > $4`,
			store.Now(now), offerID, courierID, store.Now(now))
		if err != nil {
			return fmt.Errorf("dispatch: accept %s: %w", offerID, err)
		}
		if n == 0 {
			return whyNot(ctx, tx, courierID, offerID)
		}
		orders, region, err := offerOrders(ctx, tx, offerID)
		if err != nil {
			return err
		}
		moved, err := tx.Write(ctx, `UPDATE deliveries SET status = 'assigned', courier_id = $1, route_id = $2, updated_at = $3
			WHERE offer_id = $4 AND offered_courier_id = $5 AND status = 'offered'`,
			courierID, offerID, store.Now(now), offerID, courierID)
		if err != nil {
			return fmt.Errorf("dispatch: accept %s: %w", offerID, err)
		}
		if int(moved) != len(orders) {
			// An open offer's deliveries are all on offer (a cancelled order withdraws its
			// offer in the same transaction), so this is a bug, not a race.
			return fmt.Errorf("dispatch: accept %s: %d of its %d deliveries on offer", offerID, moved, len(orders))
		}
		if took, err := setCourierStatus(ctx, tx, courierID, CourierBusy, now, CourierOffered); err != nil {
			return err
		} else if !took {
			return fmt.Errorf("dispatch: accept %s: courier %s was not holding it", offerID, courierID)
		}
		for _, o := range orders {
			if err := tx.EmitNew(ctx, event.DeliveryAssigned, region, now,
				event.Delivery{OrderID: o, OfferID: offerID, CourierID: courierID, At: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Route{}, err
	}
	s.cfg.Metrics.Offers.WithLabelValues("accepted").Inc()
	return s.route(ctx, s.db, courierID, offerID)
}

// Decline hands the offer back: its orders return to pending, the courier to available and
// is not offered those orders again, and the region plans again at once. Declining an offer
// that has expired but not yet been swept is allowed.
func (s *Service) Decline(ctx context.Context, courierID, offerID string) error {
	region, err := s.release(ctx, offerID, offerDeclined, courierID)
	if err != nil {
		return err
	}
	s.cfg.Metrics.Offers.WithLabelValues("declined").Inc()
	s.poke(region)
	return nil
}

// release ends the open offer offerID as status (declined, expired or withdrawn) in one
// transaction: its deliveries still on offer go back to pending, its courier to available, and
// for declined and expired, each (order, courier) pair goes to delivery_declines so later
// rounds leave that courier out for those orders. With courierID set, only that courier's
// offer is released (an answer); otherwise whichever courier holds it. It returns the offer's
// region.
func (s *Service) release(ctx context.Context, offerID, status, courierID string) (string, error) {
	var region string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		region, err = s.releaseTx(ctx, tx, offerID, status, courierID)
		return err
	})
	return region, err
}

func (s *Service) releaseTx(ctx context.Context, tx *store.Tx, offerID, status, courierID string) (string, error) {
	now := s.cfg.Now()
	holder := courierID
	if holder == "" {
		if err := tx.QueryRowContext(ctx, `SELECT courier_id FROM offers WHERE id = $1`, offerID).Scan(&holder); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return "", ErrOfferNotFound
			}
			return "", fmt.Errorf("dispatch: read offer %s: %w", offerID, err)
		}
	}
	if err := lockCourier(ctx, tx, holder); err != nil {
		return "", err
	}
	cond := ""
	if status == offerExpired {
		cond = ` AND expires_at <= $5`
	}
	args := []any{status, store.Now(now), offerID, holder}
	if status == offerExpired {
		args = append(args, store.Now(now))
	}
	n, err := tx.Write(ctx, `UPDATE offers SET status = $1, answered_at = $2 WHERE id = $3 AND courier_id = $4 AND status = 'open'`+cond, args...)
	if err != nil {
		return "", fmt.Errorf("dispatch: %s offer %s: %w", status, offerID, err)
	}
	if n == 0 {
		if courierID == "" {
			return "", errSkip // answered meanwhile
		}
		return "", whyNot(ctx, tx, courierID, offerID)
	}
	orders, region, err := offerOrders(ctx, tx, offerID)
	if err != nil {
		return "", err
	}
	if _, err := tx.Write(ctx, `UPDATE deliveries SET status = 'pending', updated_at = $1 WHERE offer_id = $2 AND status = 'offered'`,
		store.Now(now), offerID); err != nil {
		return "", fmt.Errorf("dispatch: %s offer %s: %w", status, offerID, err)
	}
	if _, err := setCourierStatus(ctx, tx, holder, CourierAvailable, now, CourierOffered); err != nil {
		return "", err
	}
	typ := map[string]event.Type{offerDeclined: event.DeliveryDeclined, offerExpired: event.DeliveryExpired}[status]
	for _, o := range orders {
		if typ == "" {
			break
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_declines (order_id, courier_id, at) VALUES ($1, $2, $3)
			ON CONFLICT (order_id, courier_id) DO UPDATE SET at = excluded.at`, o, holder, store.Now(now)); err != nil {
			return "", fmt.Errorf("dispatch: %s offer %s: %w", status, offerID, err)
		}
		if err := tx.EmitNew(ctx, typ, region, now, event.Delivery{OrderID: o, OfferID: offerID, CourierID: holder, At: now}); err != nil {
			return "", err
		}
	}
	return region, nil
}

// offerOrders returns the orders of offerID in drop-off sequence, and the offer's region.
func offerOrders(ctx context.Context, q store.Querier, offerID string) ([]string, string, error) {
	rows, err := q.QueryContext(ctx, `SELECT x.order_id, o.region FROM offer_orders x JOIN offers o ON o.id = x.offer_id
		WHERE x.offer_id = $1 ORDER BY x.seq`, offerID)
	if err != nil {
		return nil, "", fmt.Errorf("dispatch: read offer %s: %w", offerID, err)
	}
	defer rows.Close()
	var orders []string
	var region string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o, &region); err != nil {
			return nil, "", fmt.Errorf("dispatch: read offer %s: %w", offerID, err)
		}
		orders = append(orders, o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("dispatch: read offer %s: %w", offerID, err)
	}
	return orders, region, nil
}

// whyNot explains why courierID could not answer offerID, from the offer's row: every offer
// ever made keeps one, so an id that was issued is never "not found".
func whyNot(ctx context.Context, q store.Querier, courierID, offerID string) error {
	var holder, status string
	err := q.QueryRowContext(ctx, `SELECT courier_id, status FROM offers WHERE id = $1`, offerID).Scan(&holder, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrOfferNotFound
	}
	if err != nil {
		return fmt.Errorf("dispatch: read offer %s: %w", offerID, err)
	}
	if holder != courierID {
		return ErrNotYourOffer
	}
	switch status {
	case offerAccepted:
		return ErrOfferAccepted
	case offerDeclined:
		return ErrOfferDeclined
	case offerWithdrawn:
		return ErrOfferWithdrawn
	}
	return ErrOfferExpired // expired, or open past its expiry and not yet swept
}

// expireOffers ends region's open offers past their expiry: their orders go back to pending,
// their couriers to available. It reports how many it expired.
func (s *Service) expireOffers(ctx context.Context, region string) (int, error) {
	ids, err := s.orderIDs(ctx, `SELECT id FROM offers WHERE status = 'open' AND expires_at <= $1 AND region = $2
		ORDER BY expires_at, id LIMIT $3`, store.Now(s.cfg.Now()), region, s.cfg.SweepBatch)
	if err != nil {
		return 0, err
	}
	var errs []error
	expired := 0
	for _, id := range ids {
		_, err := s.release(ctx, id, offerExpired, "")
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		expired++
		s.cfg.Metrics.Offers.WithLabelValues("expired").Inc()
		s.cfg.Metrics.Reconciled.WithLabelValues("offer_expired").Inc()
	}
	return expired, errors.Join(errs...)
}

// CurrentOffer returns the unexpired offer courierID holds, or ErrNoOffer.
func (s *Service) CurrentOffer(ctx context.Context, courierID string) (Offer, error) {
	var o Offer
	var pickupAt, expires int64
	err := s.db.QueryRowContext(ctx, `SELECT id, restaurant_id, pickup_lat, pickup_lng, distance_m, pay, currency,
			planned_pickup_at, expires_at
		FROM offers WHERE courier_id = $1 AND status = 'open' AND expires_at > $2`,
		courierID, store.Now(s.cfg.Now())).Scan(&o.OfferID, &o.RestaurantID, &o.Pickup.Lat, &o.Pickup.Lng,
		&o.DistanceM, &o.Pay.Amount, &o.Pay.Currency, &pickupAt, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Offer{}, ErrNoOffer
	}
	if err != nil {
		return Offer{}, fmt.Errorf("dispatch: read offer of %s: %w", courierID, err)
	}
	o.PickupAt, o.ExpiresAt = store.Time(pickupAt), store.Time(expires)
	rows, err := s.db.QueryContext(ctx, `SELECT x.order_id, d.dropoff_lat, d.dropoff_lng FROM offer_orders x
		JOIN deliveries d ON d.order_id = x.order_id WHERE x.offer_id = $1 ORDER BY x.seq`, o.OfferID)
	if err != nil {
		return Offer{}, fmt.Errorf("dispatch: read offer %s: %w", o.OfferID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st OfferStop
		var p geo.LatLng
		if err := rows.Scan(&st.OrderID, &p.Lat, &p.Lng); err != nil {
			return Offer{}, fmt.Errorf("dispatch: read offer %s: %w", o.OfferID, err)
		}
		cell, centre, err := geo.Area(p, geo.AreaResolution)
		if err != nil {
			return Offer{}, err
		}
		st.DropoffArea = Area{Cell: cell, Centre: point(centre)}
		o.Orders = append(o.Orders, st)
	}
	if err := rows.Err(); err != nil {
		return Offer{}, fmt.Errorf("dispatch: read offer %s: %w", o.OfferID, err)
	}
	if len(o.Orders) > 0 {
		o.OrderID = o.Orders[0].OrderID
	}
	return o, nil
}

// CurrentRoute returns the route courierID is on (some of its orders not yet delivered), or
// ErrNoRoute.
func (s *Service) CurrentRoute(ctx context.Context, courierID string) (Route, error) {
	var routeID string
	err := s.db.QueryRowContext(ctx, `SELECT route_id FROM deliveries WHERE courier_id = $1 AND status IN ('assigned', 'picked_up')
		AND route_id IS NOT NULL ORDER BY updated_at DESC LIMIT 1`, courierID).Scan(&routeID)
	if errors.Is(err, sql.ErrNoRows) {
		return Route{}, ErrNoRoute
	}
	if err != nil {
		return Route{}, fmt.Errorf("dispatch: read route of %s: %w", courierID, err)
	}
	return s.route(ctx, s.db, courierID, routeID)
}

// route reads courierID's route routeID (an accepted offer) with its stops in sequence.
func (s *Service) route(ctx context.Context, q store.Querier, courierID, routeID string) (Route, error) {
	r := Route{RouteID: routeID, CourierID: courierID}
	var pickupAt int64
	err := q.QueryRowContext(ctx, `SELECT restaurant_id, pickup_lat, pickup_lng, planned_pickup_at, pay, currency
		FROM offers WHERE id = $1 AND courier_id = $2 AND status = 'accepted'`, routeID, courierID).Scan(
		&r.RestaurantID, &r.Pickup.Lat, &r.Pickup.Lng, &pickupAt, &r.Pay.Amount, &r.Pay.Currency)
	if errors.Is(err, sql.ErrNoRows) {
		return Route{}, ErrNoRoute
	}
	if err != nil {
		return Route{}, fmt.Errorf("dispatch: read route %s: %w", routeID, err)
	}
	r.PickupAt = store.Time(pickupAt)
	rows, err := q.QueryContext(ctx, `SELECT order_id, status, dropoff_lat, dropoff_lng FROM deliveries
		WHERE route_id = $1 ORDER BY seq, order_id`, routeID)
	if err != nil {
		return Route{}, fmt.Errorf("dispatch: read route %s: %w", routeID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st Stop
		var at Point
		if err := rows.Scan(&st.OrderID, &st.Status, &at.Lat, &at.Lng); err != nil {
			return Route{}, fmt.Errorf("dispatch: read route %s: %w", routeID, err)
		}
		if st.Status == Assigned || st.Status == PickedUp {
			st.Dropoff = &at // the courier carries it: the address only then (docs/security.md, API3)
		}
		r.Stops = append(r.Stops, st)
	}
	return r, rows.Err()
}

// CurrentDelivery returns the next delivery of courierID's route (the first, in drop-off
// sequence, not yet delivered), or ErrNoDelivery.
func (s *Service) CurrentDelivery(ctx context.Context, courierID string) (Delivery, error) {
	d, err := getDelivery(ctx, s.db, `courier_id = $1 AND status IN ('assigned', 'picked_up') ORDER BY seq, order_id LIMIT 1`, courierID)
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, ErrNoDelivery
	}
	if err != nil {
		return Delivery{}, err
	}
	return d.public(), nil
}
