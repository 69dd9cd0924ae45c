package dispatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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

// offer offers the pending delivery of orderID to the courier the Matcher picks among the
// available couriers within SearchRadiusM of the pickup who have not declined it. It reports
// whether an offer was made; losing a race to another writer is not an error.
func (s *Service) offer(ctx context.Context, orderID string) (bool, error) {
	var made event.Delivery
	var region string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := s.cfg.Now()
		d, err := getDelivery(ctx, tx, `order_id = $1 AND status = 'pending'
			AND EXISTS (SELECT 1 FROM orders o WHERE o.id = deliveries.order_id AND o.status IN `+dispatchable+`)`, orderID)
		if errors.Is(err, sql.ErrNoRows) {
			return errSkip
		}
		if err != nil {
			return err
		}
		cands, err := s.candidates(ctx, tx, d)
		if err != nil {
			return err
		}
		job := Job{OrderID: d.orderID, Pickup: d.pickup, Dropoff: d.dropoff}
		var courierID string
		for courierID == "" {
			id, ok := s.cfg.Matcher.Match(job, cands)
			i := slices.IndexFunc(cands, func(c Candidate) bool { return c.CourierID == id })
			if !ok || i < 0 {
				return errSkip
			}
			// The compare-and-set is also the courier's row lock (taken only when it matches), so
			// a transaction never holds more than one courier while it looks for another.
			took, err := setCourierStatus(ctx, tx, id, CourierOffered, now, CourierAvailable)
			if err != nil {
				return err
			}
			if took {
				courierID = id
			} else {
				cands = slices.Delete(cands, i, i+1) // taken meanwhile: ask again without it
			}
		}
		offerID := event.NewID("ofr")
		expires := now.Add(s.cfg.OfferTTL)
		n, err := tx.Write(ctx, `UPDATE deliveries SET status = 'offered', offer_id = $1, offered_courier_id = $2,
			offer_expires_at = $3, offers = offers + 1, updated_at = $4 WHERE order_id = $5 AND status = 'pending'`,
			offerID, courierID, store.Now(expires), store.Now(now), orderID)
		if err != nil {
			return fmt.Errorf("dispatch: offer %s: %w", orderID, err)
		}
		if n != 1 {
			return errSkip
		}
		made = event.Delivery{OrderID: orderID, OfferID: offerID, CourierID: courierID, OfferExpiresAt: expires, At: now}
		region = d.region
		return tx.EmitNew(ctx, event.DeliveryOffered, d.region, now, made)
	})
	if errors.Is(err, errSkip) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.cfg.Metrics.Offers.WithLabelValues("offered").Inc()
	s.log.DebugContext(ctx, "offered", "region", region, "order_id", orderID, "courier_id", made.CourierID, "offer_id", made.OfferID)
	return true, nil
}

// offerLogged offers orderID and logs a failure: the reconciler will try again.
func (s *Service) offerLogged(ctx context.Context, orderID string) {
	if _, err := s.offer(ctx, orderID); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "offer failed", "order_id", orderID, "err", err)
	}
}

// candidates returns the available couriers within SearchRadiusM of d's pickup that hold no
// offer or delivery and have not declined d. A courier's position is its last fix from the
// location stream, else the one stored with its shift.
func (s *Service) candidates(ctx context.Context, tx *store.Tx, d delivery) ([]Candidate, error) {
	rows, err := tx.QueryContext(ctx, `SELECT c.id, c.vehicle, c.lat, c.lng FROM couriers c
		WHERE c.status = 'available'
		  AND NOT EXISTS (SELECT 1 FROM delivery_declines x WHERE x.order_id = $1 AND x.courier_id = c.id)
		  AND NOT EXISTS (SELECT 1 FROM deliveries h WHERE
		        (h.status = 'offered' AND h.offered_courier_id = c.id)
		     OR (h.status IN ('assigned', 'picked_up') AND h.courier_id = c.id))
		ORDER BY c.id`, d.orderID)
	if err != nil {
		return nil, fmt.Errorf("dispatch: candidates for %s: %w", d.orderID, err)
	}
	defer rows.Close()
	var out []Candidate
	for rows.Next() {
		var c Candidate
		var lat, lng sql.NullFloat64
		if err := rows.Scan(&c.CourierID, &c.Vehicle, &lat, &lng); err != nil {
			return nil, fmt.Errorf("dispatch: scan candidate: %w", err)
		}
		if p, ok := s.position(c.CourierID); ok {
			c.Position = p
		} else if lat.Valid && lng.Valid {
			c.Position = geo.LatLng{Lat: lat.Float64, Lng: lng.Float64}
		} else {
			continue
		}
		if geo.Distance(c.Position, d.pickup) <= s.cfg.SearchRadiusM {
			out = append(out, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dispatch: candidates for %s: %w", d.orderID, err)
	}
	return out, nil
}

// Accept assigns the delivery offered as offerID to courierID. Exactly one accept of an offer
// succeeds: the assignment is a compare-and-set on the offer, its courier, its status and its
// expiry. The errors say why an accept failed: ErrOfferNotFound, ErrNotYourOffer,
// ErrOfferExpired, ErrOfferWithdrawn, ErrOfferAccepted or ErrOfferDeclined.
func (s *Service) Accept(ctx context.Context, courierID, offerID string) (Delivery, error) {
	var out Delivery
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := s.cfg.Now()
		if err := lockCourier(ctx, tx, courierID); err != nil {
			return err
		}
		n, err := tx.Write(ctx, `UPDATE deliveries SET status = 'assigned', courier_id = $1, updated_at = $2
			WHERE offer_id = $3 AND offered_courier_id = $4 AND status = 'offered' AND offer_expires_at > $5`,
			courierID, store.Now(now), offerID, courierID, store.Now(now))
		if err != nil {
			return fmt.Errorf("dispatch: accept %s: %w", offerID, err)
		}
		if n == 0 {
			return whyNot(ctx, tx, courierID, offerID, now)
		}
		if _, err := tx.Write(ctx, `UPDATE couriers SET status = 'busy', updated_at = $1 WHERE id = $2`,
			store.Now(now), courierID); err != nil {
			return fmt.Errorf("dispatch: accept %s: courier busy: %w", offerID, err)
		}
		d, err := getDelivery(ctx, tx, `offer_id = $1`, offerID)
		if err != nil {
			return err
		}
		out = d.public()
		return tx.EmitNew(ctx, event.DeliveryAssigned, d.region, now,
			event.Delivery{OrderID: d.orderID, OfferID: offerID, CourierID: courierID, At: now})
	})
	if err != nil {
		return Delivery{}, err
	}
	s.cfg.Metrics.Offers.WithLabelValues("accepted").Inc()
	return out, nil
}

// Decline hands the offer back: the delivery returns to pending, the courier to available and
// is never offered this order again, and the delivery is offered to someone else at once.
// Declining an offer that has expired but not yet been swept is allowed.
func (s *Service) Decline(ctx context.Context, courierID, offerID string) error {
	var orderID string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := s.cfg.Now()
		if err := lockCourier(ctx, tx, courierID); err != nil {
			return err
		}
		n, err := tx.Write(ctx, `UPDATE deliveries SET status = 'pending', updated_at = $1
			WHERE offer_id = $2 AND offered_courier_id = $3 AND status = 'offered'`,
			store.Now(now), offerID, courierID)
		if err != nil {
			return fmt.Errorf("dispatch: decline %s: %w", offerID, err)
		}
		if n == 0 {
			return whyNot(ctx, tx, courierID, offerID, now)
		}
		d, err := getDelivery(ctx, tx, `offer_id = $1`, offerID)
		if err != nil {
			return err
		}
		orderID = d.orderID
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_declines (order_id, courier_id, at) VALUES ($1, $2, $3)
			ON CONFLICT (order_id, courier_id) DO NOTHING`, d.orderID, courierID, store.Now(now)); err != nil {
			return fmt.Errorf("dispatch: decline %s: %w", offerID, err)
		}
		if _, err := setCourierStatus(ctx, tx, courierID, CourierAvailable, now, CourierOffered); err != nil {
			return err
		}
		return tx.EmitNew(ctx, event.DeliveryDeclined, d.region, now,
			event.Delivery{OrderID: d.orderID, OfferID: offerID, CourierID: courierID, At: now})
	})
	if err != nil {
		return err
	}
	s.cfg.Metrics.Offers.WithLabelValues("declined").Inc()
	s.offerLogged(ctx, orderID)
	return nil
}

// whyNot explains why the offer could not be answered by courierID.
func whyNot(ctx context.Context, tx *store.Tx, courierID, offerID string, now time.Time) error {
	d, err := getDelivery(ctx, tx, `offer_id = $1`, offerID)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrOfferNotFound
	}
	if err != nil {
		return err
	}
	if d.offeredCourierID != courierID {
		return ErrNotYourOffer
	}
	switch d.status {
	case Offered:
		return ErrOfferExpired
	case Assigned, PickedUp, Delivered:
		return ErrOfferAccepted
	case Cancelled:
		return ErrOfferWithdrawn
	}
	var declined int
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM delivery_declines WHERE order_id = $1 AND courier_id = $2`,
		d.orderID, courierID).Scan(&declined)
	if err != nil {
		return fmt.Errorf("dispatch: read declines: %w", err)
	}
	if declined > 0 {
		return ErrOfferDeclined
	}
	return ErrOfferExpired
}

// CurrentOffer returns the unexpired offer courierID holds, or ErrNoOffer.
func (s *Service) CurrentOffer(ctx context.Context, courierID string) (Offer, error) {
	d, err := getDelivery(ctx, s.db, `status = 'offered' AND offered_courier_id = $1 AND offer_expires_at > $2`,
		courierID, store.Now(s.cfg.Now()))
	if errors.Is(err, sql.ErrNoRows) {
		return Offer{}, ErrNoOffer
	}
	if err != nil {
		return Offer{}, err
	}
	return d.offer(), nil
}

// CurrentDelivery returns the delivery courierID carries (assigned or picked up), or
// ErrNoDelivery.
func (s *Service) CurrentDelivery(ctx context.Context, courierID string) (Delivery, error) {
	d, err := getDelivery(ctx, s.db, `courier_id = $1 AND status IN ('assigned', 'picked_up')`, courierID)
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, ErrNoDelivery
	}
	if err != nil {
		return Delivery{}, err
	}
	return d.public(), nil
}
