package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// reconcile sweeps every SweepInterval until ctx ends. Events are prompts; the sweep is what
// guarantees progress when one is lost or a handler failed.
func (s *Service) reconcile(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweep makes one reconciler pass: (a) create the deliveries accepted orders lack, (b) bring
// deliveries in line with orders that moved on without us hearing, (c) expire unanswered
// offers, (d) offer every pending delivery, oldest first.
func (s *Service) sweep(ctx context.Context) error {
	var errs []error
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		n, err := createDeliveries(ctx, tx, s.cfg.Now(), "", s.cfg.SweepBatch)
		if n > 0 {
			s.cfg.Metrics.Reconciled.WithLabelValues("delivery_created").Add(float64(n))
		}
		return err
	})
	errs = append(errs, err, s.syncWithOrders(ctx), s.expireOffers(ctx), s.offerPending(ctx))
	return errors.Join(errs...)
}

// syncWithOrders applies order transitions whose events dispatch has not (yet) handled.
func (s *Service) syncWithOrders(ctx context.Context) error {
	type lag struct{ orderID, orderStatus string }
	var lags []lag
	rows, err := s.db.QueryContext(ctx, `SELECT d.order_id, o.status FROM deliveries d JOIN orders o ON o.id = d.order_id
		WHERE (d.status IN ('pending', 'offered', 'assigned', 'picked_up') AND o.status IN ('cancelled', 'rejected', 'failed', 'delivered'))
		   OR (d.status = 'assigned' AND o.status = 'picked_up')
		ORDER BY d.order_id LIMIT $1`, s.cfg.SweepBatch)
	if err != nil {
		return fmt.Errorf("dispatch: find lagging deliveries: %w", err)
	}
	for rows.Next() {
		var l lag
		if err := rows.Scan(&l.orderID, &l.orderStatus); err != nil {
			rows.Close()
			return fmt.Errorf("dispatch: scan lagging delivery: %w", err)
		}
		lags = append(lags, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("dispatch: find lagging deliveries: %w", err)
	}
	var errs []error
	for _, l := range lags {
		var moved bool
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			moved, err = s.follow(ctx, tx, l.orderID, l.orderStatus)
			return err
		})
		if err != nil {
			errs = append(errs, err)
		} else if moved {
			s.cfg.Metrics.Reconciled.WithLabelValues("delivery_synced").Inc()
		}
	}
	return errors.Join(errs...)
}

// expireOffers sends offers past their expiry back to pending and frees their couriers.
func (s *Service) expireOffers(ctx context.Context) error {
	ids, err := s.orderIDs(ctx, `SELECT order_id FROM deliveries WHERE status = 'offered' AND offer_expires_at <= $1
		ORDER BY offer_expires_at, order_id LIMIT $2`, store.Now(s.cfg.Now()), s.cfg.SweepBatch)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		expired := false
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			now := s.cfg.Now()
			d, err := getDelivery(ctx, tx, `order_id = $1 AND status = 'offered' AND offer_expires_at <= $2`, id, store.Now(now))
			if err != nil {
				return errSkip // answered meanwhile, or a real error the next pass will meet again
			}
			if err := lockCourier(ctx, tx, d.offeredCourierID); err != nil {
				return err
			}
			n, err := exec(ctx, tx, `UPDATE deliveries SET status = 'pending', updated_at = $1
				WHERE order_id = $2 AND status = 'offered' AND offer_id = $3`, store.Now(now), id, d.offerID)
			if err != nil {
				return fmt.Errorf("dispatch: expire offer %s: %w", d.offerID, err)
			}
			if n != 1 {
				return errSkip
			}
			if _, err := setCourierStatus(ctx, tx, d.offeredCourierID, CourierAvailable, now, CourierOffered); err != nil {
				return err
			}
			expired = true
			return tx.EmitNew(ctx, event.DeliveryExpired, d.region, now,
				event.Delivery{OrderID: id, OfferID: d.offerID, CourierID: d.offeredCourierID, OfferExpiresAt: d.offerExpiresAt, At: now})
		})
		if err != nil && !errors.Is(err, errSkip) {
			errs = append(errs, err)
		}
		if expired {
			s.cfg.Metrics.Offers.WithLabelValues("expired").Inc()
			s.cfg.Metrics.Reconciled.WithLabelValues("offer_expired").Inc()
		}
	}
	return errors.Join(errs...)
}

// offerPending offers every pending delivery, oldest first, while couriers are available.
func (s *Service) offerPending(ctx context.Context) error {
	var available int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM couriers WHERE status = 'available'`).Scan(&available); err != nil {
		return fmt.Errorf("dispatch: count available couriers: %w", err)
	}
	if available == 0 {
		return nil
	}
	ids, err := s.orderIDs(ctx, `SELECT d.order_id FROM deliveries d JOIN orders o ON o.id = d.order_id
		WHERE d.status = 'pending' AND o.status IN `+dispatchable+`
		ORDER BY d.created_at, d.order_id LIMIT $1`, s.cfg.SweepBatch)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		ok, err := s.offer(ctx, id)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			s.cfg.Metrics.Reconciled.WithLabelValues("offered").Inc()
			if available--; available == 0 {
				break
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Service) orderIDs(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("dispatch: sweep query: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("dispatch: sweep scan: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
