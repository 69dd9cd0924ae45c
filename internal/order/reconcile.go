package order

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Run consumes the order events that move payments and the shipment events that move carrier
// orders, and runs the reconciler (under the
// "order-reconciler" lease, through Config.Lead) until ctx ends.
// It returns once both have stopped: nil when ctx ended, the consumer's error if it failed for
// good (which stops the reconciler too).
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The consumer's result is read once, after it has stopped: a select that might take it
	// while the loop still runs would leave nothing for the wait at the end.
	var consumeErr, shipmentErr error
	var wg sync.WaitGroup
	if s.bus != nil {
		wg.Go(func() {
			defer cancel()
			consumeErr = s.bus.Consume(ctx, "orders-payments", paymentSubjects, s.handlePayment,
				bus.WithConcurrency(s.cfg.PaymentConcurrency))
		})
		wg.Go(func() {
			defer cancel()
			shipmentErr = s.bus.Consume(ctx, ShipmentConsumer, shipmentSubjects, s.handleShipment)
		})
	}
	if err := s.cfg.Lead(ctx, "order-reconciler", s.sweep); err != nil && ctx.Err() == nil {
		s.logger.ErrorContext(ctx, "order reconciler stopped", "err", err)
	}
	cancel()
	wg.Wait()
	if err := errors.Join(consumeErr, shipmentErr); err != nil {
		return fmt.Errorf("orders consumer: %w", err)
	}
	return nil
}

// sweep runs Reconcile every SweepInterval until ctx ends (or, under a lease, until the
// lease is lost).
func (s *Service) sweep(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	defer s.settlers.Wait() // due payments still settling stop with ctx
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if ctx.Err() != nil {
				return nil // both were ready and select took the tick: a pass would only delay shutdown
			}
			if s.db.Down() != nil {
				continue // the store has logged the outage; the sweep resumes when it ends
			}
			s.releaseClaims(ctx)
			s.releaseDeadPaymentClaims(ctx)
			if err := s.reconcile(ctx, false); err != nil && ctx.Err() == nil {
				s.logger.WarnContext(ctx, "reconcile", "err", err)
			}
		}
	}
}

// releaseDeadPaymentClaims makes due at once every payment whose provider call was claimed by
// a process that has since died (its instance lease expired or is gone), rather than after
// PaymentClaimTimeout: the saga takes the claim over and resumes the call under its key. A
// process that is only slow, not dead, is fenced off by the takeover's claim attempt as
// after a timeout; its call and the resumed one share the idempotency key, so the provider
// acts at most once.
func (s *Service) releaseDeadPaymentClaims(ctx context.Context) {
	now := store.Now(s.cfg.Now())
	n, err := s.db.Write(ctx,
		`UPDATE payments SET claimed_at = NULL, due_at = $1
		 WHERE claimed_at IS NOT NULL AND claimed_by <> '' AND claimed_by <> $2
		   AND NOT EXISTS (SELECT 1 FROM leases WHERE leases.name = 'instance/' || payments.claimed_by AND leases.expires_at > $3)`,
		now, s.cfg.Instance, now)
	switch {
	case err != nil && ctx.Err() == nil:
		s.logger.WarnContext(ctx, "release payment claims of dead processes", "err", err)
	case n > 0:
		s.cfg.Metrics.Reconciled.WithLabelValues("payment_claim_released").Add(float64(n))
		s.logger.InfoContext(ctx, "released payment claims of processes that died", "payments", n)
	}
}

// paymentSubjects are the order events that give a payment work to do: placement
// (authorize), the ends (void or refund), and the capture points.
var paymentSubjects = []string{
	event.SubjectAll(event.OrderPlaced), event.SubjectAll(event.OrderCancelled), event.SubjectAll(event.OrderRejected),
	event.SubjectAll(event.OrderFailed), event.SubjectAll(event.OrderAccepted), event.SubjectAll(event.OrderDelivered),
}

func (s *Service) handlePayment(ctx context.Context, e event.Envelope) error {
	var p event.Order
	if err := e.Payload(&p); err != nil {
		return err
	}
	err := s.SettlePayment(ctx, p.OrderID)
	if errors.Is(err, errPaymentRetryKept) {
		// The provider call failed and the saga recorded when to try again: the sweep of
		// due payments retries it on the payment's own backoff. Keeping the event for the
		// bus to redeliver as well would hold one of the consumer's unacknowledged slots per
		// failing payment, and a provider outage would stall every new payment behind them.
		s.logger.DebugContext(ctx, "payment call failed; the sweep retries it", "order", p.OrderID, "err", err)
		err = nil
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	s.cfg.Metrics.Consumed.WithLabelValues("orders-payments", result).Inc()
	return err
}

// Reconcile moves on every order and payment whose state outlived its deadline: it fails
// orders still unpaid after PaymentGiveUp (the payment saga then asks the provider what became
// of the authorization and voids it if it went through), escalates and then cancels paid
// orders no restaurant accepted, and settles every payment that is due (a lost event, a call
// with an unknown outcome whose backoff ended, a claim whose process died). It is what makes
// a lost event or a crash cost seconds instead of an order. It returns once everything it
// started has finished.
func (s *Service) Reconcile(ctx context.Context) error { return s.reconcile(ctx, true) }

// reconcile is one reconcile pass; the sweep's passes (wait false) leave the due payments
// they start settling in the background (see settleDuePayments).
func (s *Service) reconcile(ctx context.Context, wait bool) error {
	now := s.cfg.Now()
	due, err := s.due(ctx, now)
	if err != nil {
		return err
	}
	// Each is its own short transaction; run several at once so a backlog (a restaurant that
	// went quiet at lunch, a provider outage failing payments) clears in seconds.
	errs := []error{atMost(ctx, reconcileConcurrency, due, func(d dueOrder) error { return s.expire(ctx, d) })}
	s.escalate(ctx, now)
	errs = append(errs, s.settleDuePayments(ctx, now, wait))
	return errors.Join(errs...)
}

// reconcileConcurrency is how many overdue orders a reconcile pass moves at once.
const reconcileConcurrency = 8

// expiry is what the reconciler does to an order still in a status past its deadline.
type expiry struct {
	to     Status
	reason string
	action string // the reconciled_total label
}

// expiries: a placed order whose payment never came fails, a paid one no restaurant accepted
// is cancelled.
var expiries = map[Status]expiry{
	Placed: {Failed, "payment timed out", "payment_timeout"},
	Paid:   {Cancelled, "the restaurant did not respond in time", "restaurant_timeout"},
}

// expire moves one overdue order as expiries says, unless it moved on meanwhile (paid, or
// answered by its restaurant).
func (s *Service) expire(ctx context.Context, d dueOrder) error {
	from := Status(d.status)
	e, ok := expiries[from]
	if !ok {
		return nil
	}
	moved := false
	_, err := s.Update(ctx, d.id, "reconciler", func(tx *store.Tx, o *Order) error {
		if o.Status != from {
			return errNoChange
		}
		moved = true
		if err := moveTo(o, e.to); err != nil {
			return err
		}
		o.Reason = e.reason
		return nil
	})
	if moved {
		s.count(e.action, err)
		if from == Paid {
			s.forgetEscalation(d.id)
		}
	}
	return err
}

type dueOrder struct {
	id, status string
	created    time.Time
}

func (s *Service) due(ctx context.Context, now time.Time) ([]dueOrder, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, status, created_at FROM orders WHERE status IN ($1, $2) AND deadline_at < $3 ORDER BY deadline_at LIMIT 500`,
		string(Placed), string(Paid), store.Now(now))
	if err != nil {
		return nil, fmt.Errorf("find due orders: %w", err)
	}
	defer rows.Close()
	var out []dueOrder
	for rows.Next() {
		var d dueOrder
		var created int64
		if err := rows.Scan(&d.id, &d.status, &created); err != nil {
			return nil, fmt.Errorf("scan due order: %w", err)
		}
		d.created = store.Time(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// escalate logs and counts, once, each paid order that has waited half the restaurant timeout.
func (s *Service) escalate(ctx context.Context, now time.Time) {
	half := s.cfg.RestaurantTimeout / 2
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, restaurant_id FROM orders WHERE status = $1 AND deadline_at < $2 LIMIT 500`,
		string(Paid), store.Now(now.Add(half)))
	if err != nil {
		if ctx.Err() == nil {
			s.logger.WarnContext(ctx, "find orders to escalate", "err", err)
		}
		return
	}
	defer rows.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for rows.Next() {
		var id, restaurant string
		if rows.Scan(&id, &restaurant) != nil || s.escalated[id] {
			continue
		}
		s.escalated[id] = true
		s.cfg.Metrics.Reconciled.WithLabelValues("restaurant_escalated").Inc()
		s.logger.WarnContext(ctx, "restaurant has not answered a paid order", "order", id, "restaurant", restaurant)
	}
	if len(s.escalated) > 10000 {
		clear(s.escalated)
	}
}

func (s *Service) forgetEscalation(id string) {
	s.mu.Lock()
	delete(s.escalated, id)
	s.mu.Unlock()
}

// settleDuePayments starts the payment saga on payments due by now, keeping at most
// PaymentConcurrency of them settling at once across passes. Provider calls wait on the
// network, and one may hang until PaymentCallTimeout: a pass only tops the running set up,
// oldest due first, so a slow call holds its own slot and not the whole backlog (a pass that
// waited for its slowest call settled a few hundred payments per PaymentCallTimeout, fewer
// than a failing provider leaves due). wait returns only once the payments this pass started
// are settled. A payment whose call fails stays due after a backoff.
func (s *Service) settleDuePayments(ctx context.Context, now time.Time, wait bool) error {
	s.mu.Lock()
	running := len(s.settling)
	s.mu.Unlock()
	free := s.cfg.PaymentConcurrency - running
	if free <= 0 {
		return nil
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT order_id FROM payments WHERE due_at <= $1 ORDER BY due_at LIMIT $2`, store.Now(now), free+running)
	if err != nil {
		return fmt.Errorf("find due payments: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find due payments: %w", err)
	}
	var start []string
	s.mu.Lock()
	for _, id := range ids {
		if len(start) == free {
			break
		}
		if !s.settling[id] { // else still settling since an earlier pass
			s.settling[id] = true
			start = append(start, id)
		}
	}
	s.mu.Unlock()
	var started sync.WaitGroup
	for _, id := range start {
		s.settlers.Add(1)
		started.Go(func() {
			defer s.settlers.Done()
			defer func() {
				s.mu.Lock()
				delete(s.settling, id)
				s.mu.Unlock()
			}()
			if err := s.SettlePayment(ctx, id); err != nil {
				s.logger.DebugContext(ctx, "payment not settled yet", "order", id, "err", err)
				return
			}
			s.count("payment_settled", nil)
		})
	}
	if wait {
		started.Wait()
	}
	return nil
}

// atMost runs fn on every item, at most n at once, starting no more once ctx has ended, and
// returns their errors joined.
func atMost[T any](ctx context.Context, n int, items []T, fn func(T) error) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, max(n, 1))
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(it); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Service) count(action string, err error) {
	if err == nil {
		s.cfg.Metrics.Reconciled.WithLabelValues(action).Inc()
	}
}
