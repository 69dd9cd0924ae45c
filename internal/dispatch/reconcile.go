package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
			case <-s.newWork:
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

// reconcileRegion runs region's loop until ctx ends: every SweepInterval it sweeps (creates
// missing deliveries, follows orders, expires offers, hands overdue orders to the carrier), and
// every Round, when poked (an order accepted, a courier on shift or free, an offer declined)
// or when an offer expired, it runs a planning round. Events are prompts; the sweep and the
// rounds are what guarantee progress when one is lost or a handler failed.
func (s *Service) reconcileRegion(ctx context.Context, region string) error {
	log := s.log.With("region", region)
	log.DebugContext(ctx, "reconciling region")
	poke := s.pokeChan(region)
	defer s.dropPokeChan(region, poke)
	sweeps := time.NewTicker(s.cfg.SweepInterval)
	defer sweeps.Stop()
	rounds := time.NewTicker(s.cfg.Round)
	defer rounds.Stop()
	replan := true
	for {
		expired, err := s.housekeep(ctx, region)
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "reconcile", "err", err)
		}
		if replan || expired > 0 {
			if _, err := s.planRound(ctx, region); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "planning round", "err", err)
			}
		}
		replan = false
		select {
		case <-ctx.Done():
			return nil
		case <-sweeps.C:
		case <-rounds.C:
			replan = true
		case <-poke:
			replan = true
		}
	}
}

// pokeChan returns the channel that wakes region's loop, made for it.
func (s *Service) pokeChan(region string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(chan struct{}, 1)
	s.pokes[region] = c
	return c
}

func (s *Service) dropPokeChan(region string, c chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pokes[region] == c {
		delete(s.pokes, region)
	}
}

// poke asks region's loop for a planning round soon: at once when it runs in this process
// (pokes coalesce: a loop busy with a round runs one more after it), else the regions are read
// again now, which starts the loop where this process can take the region's lease.
func (s *Service) poke(region string) {
	s.mu.Lock()
	c := s.pokes[region]
	s.mu.Unlock()
	if c == nil {
		c = s.newWork
	}
	select {
	case c <- struct{}{}:
	default:
	}
}

// pokeAll pokes every region's loop running here: a courier came on shift or became free, and
// couriers are not bound to a region.
func (s *Service) pokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.pokes {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// sweep makes one full pass over region, as its loop does on a round: housekeeping, then a
// planning round.
func (s *Service) sweep(ctx context.Context, region string) error {
	_, err := s.housekeep(ctx, region)
	_, perr := s.planRound(ctx, region)
	return errors.Join(err, perr)
}

// housekeep makes one reconciler pass over region: (a) create the deliveries its accepted
// orders lack, (b) bring its deliveries in line with orders that moved on without us
// hearing, (c) expire its unanswered offers, (d) hand orders no courier took in time to the
// carrier. It returns how many offers it expired.
func (s *Service) housekeep(ctx context.Context, region string) (int, error) {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		n, err := createRegionDeliveries(ctx, tx, s.cfg.Now(), region, s.cfg.SweepBatch)
		if n > 0 {
			s.cfg.Metrics.Reconciled.WithLabelValues("delivery_created").Add(float64(n))
		}
		return err
	})
	expired, eerr := s.expireOffers(ctx, region)
	return expired, errors.Join(err, s.syncWithOrders(ctx, region), eerr, s.fallBackToCarrier(ctx, region))
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
		    OR (d.status IN ('pending', 'offered', 'assigned') AND o.status = 'picked_up'))
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
