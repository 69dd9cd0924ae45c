package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// LeasePrefix starts the name of each region's reconciler lease: the reconciler of region r
// runs under lease LeasePrefix + r.
const LeasePrefix = "dispatch-reconciler/"

// idleReads is how many region reads in a row (one per SweepInterval) may miss a region
// before its reconciler stops and releases the region's lease.
const idleReads = 60

// regionEnd reports that a region's reconciler stopped, and with what error.
type regionEnd struct {
	region string
	err    error
}

// reconcileRegions runs one reconciler per region with dispatch work, each under its own
// lease (LeasePrefix + region), so replicas share the regions out and a dead replica's regions
// move within the lease TTL. Every SweepInterval it reads the regions with work
// (activeRegions) and starts a reconciler, through Config.Lead, for each one not running; a
// reconciler whose region has been missing from idleReads reads in a row is stopped, which
// releases the lease. It returns nil once ctx ends and every reconciler has stopped, or the
// error of a region's Lead that failed for good.
func (s *Service) reconcileRegions(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type run struct {
		stop   context.CancelFunc
		missed int // region reads in a row without this region
	}
	running := map[string]*run{}
	ended := make(chan regionEnd)
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		active, err := s.activeRegions(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "read regions", "err", err)
		}
		if err == nil {
			seen := make(map[string]bool, len(active))
			for _, region := range active {
				seen[region] = true
				if r, ok := running[region]; ok {
					r.missed = 0
					continue
				}
				rctx, stop := context.WithCancel(ctx)
				running[region] = &run{stop: stop}
				wg.Go(func() {
					err := s.cfg.Lead(rctx, LeasePrefix+region, func(ctx context.Context) error {
						return s.reconcileRegion(ctx, region)
					})
					if rctx.Err() != nil {
						err = nil // stopped: ctx ended or the region went idle
					}
					select {
					case ended <- regionEnd{region, err}:
					case <-ctx.Done():
					}
				})
			}
			for region, r := range running {
				if !seen[region] {
					if r.missed++; r.missed == idleReads {
						s.log.DebugContext(ctx, "region idle: stopping its reconciler", "region", region)
						r.stop() // it leaves running when it reports its end
					}
				}
			}
		}
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return nil
			case e := <-ended:
				running[e.region].stop()
				delete(running, e.region)
				if e.err != nil {
					return fmt.Errorf("dispatch: reconciler of region %s: %w", e.region, e.err)
				}
			case <-t.C:
				wait = false
			}
		}
	}
}

// activeRegions returns the regions with dispatch work: those of the deliveries not yet ended
// (pending, offered, assigned, picked up) and those of the orders that need a delivery and have
// none yet. That is exactly where the four sweep steps can find rows, so a region outside the
// set has nothing to reconcile. It is chosen over the restaurants' regions because a restaurant
// may move to another region while its orders keep theirs. Both halves read only live rows,
// through the indexes the sweep itself uses (deliveries by status, orders by status).
func (s *Service) activeRegions(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT region FROM deliveries WHERE status IN ('pending', 'offered', 'assigned', 'picked_up')
		UNION
		SELECT o.region FROM orders o WHERE o.status IN `+dispatchable+`
		  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.order_id = o.id)
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("dispatch: read regions: %w", err)
	}
	defer rows.Close()
	var regions []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("dispatch: read regions: %w", err)
		}
		regions = append(regions, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dispatch: read regions: %w", err)
	}
	return regions, nil
}

// reconcileRegion sweeps region every SweepInterval until ctx ends. Events are prompts; the
// sweep is what guarantees progress when one is lost or a handler failed.
func (s *Service) reconcileRegion(ctx context.Context, region string) error {
	log := s.log.With("region", region)
	log.DebugContext(ctx, "reconciling region")
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		if err := s.sweep(ctx, region); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweep makes one reconciler pass over region: (a) create the deliveries its accepted orders
// lack, (b) bring its deliveries in line with orders that moved on without us hearing, (c)
// expire its unanswered offers, (d) offer its pending deliveries, oldest first.
func (s *Service) sweep(ctx context.Context, region string) error {
	var errs []error
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		n, err := createRegionDeliveries(ctx, tx, s.cfg.Now(), region, s.cfg.SweepBatch)
		if n > 0 {
			s.cfg.Metrics.Reconciled.WithLabelValues("delivery_created").Add(float64(n))
		}
		return err
	})
	errs = append(errs, err, s.syncWithOrders(ctx, region), s.expireOffers(ctx, region), s.fallBackToCarrier(ctx, region),
		s.offerPending(ctx, region))
	return errors.Join(errs...)
}

// fallBackToCarrier hands to the outside carrier, in region, every order no courier took
// within its restaurant's carrier_fallback_seconds (0: never) of its delivery's creation: the
// delivery, still pending (not on offer, so no courier can be accepting it), is cancelled and
// the order's fulfilment becomes carrier, in one transaction; the fulfil service requests its
// shipment (its sweep finds accepted carrier orders without one). The write to
// orders.fulfilment is dispatch's one write to the order service's table: the decision that
// couriers cannot serve an order is dispatch's.
func (s *Service) fallBackToCarrier(ctx context.Context, region string) error {
	now := s.cfg.Now()
	var ids []string
	rows, err := s.db.QueryContext(ctx, `SELECT d.order_id FROM deliveries d
		JOIN orders o ON o.id = d.order_id JOIN restaurants r ON r.id = o.restaurant_id
		WHERE d.region = $1 AND d.status = 'pending' AND o.fulfilment = 'courier' AND r.carrier_fallback_seconds > 0
		  AND d.created_at + r.carrier_fallback_seconds * 1000 <= $2
		ORDER BY d.created_at LIMIT $3`, region, store.Now(now), s.cfg.SweepBatch)
	if err != nil {
		return fmt.Errorf("dispatch: find orders to hand to the carrier: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			n, err := tx.Write(ctx, `UPDATE deliveries SET status = 'cancelled', updated_at = $1 WHERE order_id = $2 AND status = 'pending'`,
				store.Now(now), id)
			if err != nil || n == 0 {
				return err
			}
			// The parcel ships to the customer's postal address on record, if any (else to the
			// order's coordinates alone).
			_, err = tx.ExecContext(ctx, `UPDATE orders SET fulfilment = 'carrier',
				delivery_address = COALESCE((SELECT c.address FROM customers c WHERE c.id = orders.customer_id AND c.address <> ''), delivery_address)
				WHERE id = $1 AND fulfilment = 'courier'`, id)
			return err
		})
		if err != nil {
			return fmt.Errorf("dispatch: hand %s to the carrier: %w", id, err)
		}
		s.cfg.Metrics.Reconciled.WithLabelValues("carrier_fallback").Inc()
		s.log.InfoContext(ctx, "no courier took the order in time: it ships by carrier", "order", id)
	}
	return nil
}

// syncWithOrders applies, in region, order transitions whose events dispatch has not (yet)
// handled.
func (s *Service) syncWithOrders(ctx context.Context, region string) error {
	type lag struct{ orderID, orderStatus string }
	var lags []lag
	rows, err := s.db.QueryContext(ctx, `SELECT d.order_id, o.status FROM deliveries d JOIN orders o ON o.id = d.order_id
		WHERE d.region = $1
		  AND ((d.status IN ('pending', 'offered', 'assigned', 'picked_up') AND o.status IN ('cancelled', 'rejected', 'failed', 'delivered'))
		    OR (d.status = 'assigned' AND o.status = 'picked_up'))
		ORDER BY d.order_id LIMIT $2`, region, s.cfg.SweepBatch)
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

// expireOffers sends region's offers past their expiry back to pending and frees their
// couriers.
func (s *Service) expireOffers(ctx context.Context, region string) error {
	ids, err := s.orderIDs(ctx, `SELECT order_id FROM deliveries WHERE status = 'offered' AND offer_expires_at <= $1 AND region = $2
		ORDER BY offer_expires_at, order_id LIMIT $3`, store.Now(s.cfg.Now()), region, s.cfg.SweepBatch)
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
			n, err := tx.Write(ctx, `UPDATE deliveries SET status = 'pending', updated_at = $1
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

// offerPending offers region's pending deliveries, oldest first, while couriers are
// available. Couriers are not bound to a region (an offer goes to whoever is within
// SearchRadiusM of the pickup), so the count of available couriers is the whole city's, and
// reconcilers of neighbouring regions competing for one courier are settled by the courier's
// compare-and-set in offer.
func (s *Service) offerPending(ctx context.Context, region string) error {
	var available int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM couriers WHERE status = 'available'`).Scan(&available); err != nil {
		return fmt.Errorf("dispatch: count available couriers: %w", err)
	}
	if available == 0 {
		return nil
	}
	ids, err := s.orderIDs(ctx, `SELECT d.order_id FROM deliveries d JOIN orders o ON o.id = d.order_id
		WHERE d.status = 'pending' AND d.region = $1 AND o.status IN `+dispatchable+`
		ORDER BY d.created_at, d.order_id LIMIT $2`, region, s.cfg.SweepBatch)
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
