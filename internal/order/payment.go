package order

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// CaptureAt says when an order's authorized payment is captured.
type CaptureAt string

// The capture points.
const (
	CaptureOnDelivery   CaptureAt = "delivery"
	CaptureOnAcceptance CaptureAt = "acceptance"
)

// payState is an order's payment row with the order's status: what the saga decides from.
type payState struct {
	orderID     string
	orderStatus Status
	amount      int64
	currency    string
	status      payment.Status
	ref         string
	attempt     int       // claim_attempt: the fencing token of the current (or last) claim
	claimedAt   time.Time // zero when no call is running
	dueAt       time.Time // zero when nothing is due
	firstFailed time.Time // when the current run of failed attempts began; zero if none
	tries       int       // attempts: provider calls of the current operation that failed
	opStarted   time.Time // when the in-flight operation was first claimed: its idempotency key's age
	dead        bool      // the saga gave up: a dead letter until redriven
}

func readPayState(ctx context.Context, q store.Querier, id string) (payState, error) {
	var p payState
	var ostatus, pstatus string
	var claimed, due, firstFailed, dead, opStarted sql.NullInt64
	err := q.QueryRowContext(ctx,
		`SELECT o.status, p.amount, p.currency, p.status, p.provider_ref, p.claim_attempt, p.claimed_at, p.due_at,
		   p.first_failed_at, p.dead_at, p.op_started_at, p.attempts
		 FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.order_id = $1`, id).
		Scan(&ostatus, &p.amount, &p.currency, &pstatus, &p.ref, &p.attempt, &claimed, &due, &firstFailed, &dead, &opStarted, &p.tries)
	if errors.Is(err, sql.ErrNoRows) {
		return payState{}, ErrNotFound
	}
	if err != nil {
		return payState{}, fmt.Errorf("read payment of %s: %w", id, err)
	}
	p.orderID, p.orderStatus, p.status = id, Status(ostatus), payment.Status(pstatus)
	if claimed.Valid {
		p.claimedAt = store.Time(claimed.Int64)
	}
	if due.Valid {
		p.dueAt = store.Time(due.Int64)
	}
	if firstFailed.Valid {
		p.firstFailed = store.Time(firstFailed.Int64)
	}
	if opStarted.Valid {
		p.opStarted = store.Time(opStarted.Int64)
	}
	p.dead = dead.Valid
	return p, nil
}

// errPaymentRetryKept marks a failed provider call whose outcome the saga has recorded: the
// payment is due again after its backoff (or is a dead letter), and the reconciler's sweep
// will take it up, so whoever asked need not retry it.
var errPaymentRetryKept = errors.New("the payment is due again later")

// errKeyMayHaveExpired is an unknown outcome the saga will not resolve by repeating the call:
// the provider's lookup cannot tell, and the call's idempotency key is older than
// Config.PaymentKeyTTL.
var errKeyMayHaveExpired = errors.New("payment outcome unknown and its idempotency key may have expired at the provider")

// ended reports whether the order finished without being delivered: its money goes back.
func ended(s Status) bool { return s == Cancelled || s == Rejected || s == Failed }

// payStep is what the saga does next with a payment.
type payStep struct {
	op     payment.Op // the provider call to make; "" for none
	resume bool       // op was claimed before and its outcome is unknown: look it up first
	cancel bool       // the order ended before the provider was asked: pending -> cancelled
	wait   time.Time  // nothing to do before then (a call is running, or a retry backs off)
}

// nextPayStep decides from p alone, so it is the saga's whole policy: authorize a placed
// order; void an authorization, or refund a capture, once the order ended; capture when the
// order is delivered (or accepted, with CaptureOnAcceptance); resolve an unknown outcome
// before anything else.
func (s *Service) nextPayStep(p payState, now time.Time) payStep {
	if p.dead {
		return payStep{} // a dead letter waits for ops to redrive it
	}
	if op, ok := p.status.InFlight(); ok {
		switch {
		case !p.claimedAt.IsZero() && now.Before(p.claimedAt.Add(s.cfg.PaymentClaimTimeout)):
			return payStep{wait: p.claimedAt.Add(s.cfg.PaymentClaimTimeout)}
		case p.claimedAt.IsZero() && now.Before(p.dueAt):
			return payStep{wait: p.dueAt}
		}
		return payStep{op: op, resume: true}
	}
	switch p.status {
	case payment.Pending:
		if ended(p.orderStatus) {
			return payStep{cancel: true}
		}
		return payStep{op: payment.Authorize}
	case payment.Authorized:
		if ended(p.orderStatus) {
			return payStep{op: payment.Void}
		}
		if s.wantCapture(p.orderStatus) {
			return payStep{op: payment.Capture}
		}
	case payment.Captured:
		if ended(p.orderStatus) {
			return payStep{op: payment.Refund}
		}
	}
	return payStep{}
}

func (s *Service) wantCapture(st Status) bool {
	if st == Delivered {
		return true
	}
	if s.cfg.CaptureAt == CaptureOnAcceptance {
		switch st {
		case Accepted, Preparing, Ready, PickedUp:
			return true
		}
	}
	return false
}

// paymentTrigger reports whether an order entering status to gives its payment work to do.
func (s *Service) paymentTrigger(to Status) bool { return ended(to) || s.wantCapture(to) }

// markPaymentDue asks the saga to look at order id's payment now; it runs in the transaction
// that moved the order, so the sweep finds the payment even if the event announcing the move
// is lost.
func markPaymentDue(ctx context.Context, tx *store.Tx, id string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE payments SET due_at = $1 WHERE order_id = $2`, store.Now(now), id); err != nil {
		return fmt.Errorf("mark payment of %s due: %w", id, err)
	}
	return nil
}

// SettlePayment moves order id's payment along the saga until it needs nothing more, waits
// for a call another process is making, or a call fails with an unknown outcome (returned,
// and retried later with the same idempotency key). It is safe to call any number of times,
// from any number of processes at once: every provider call is claimed first by a
// compare-and-set on (status, claim_attempt), and every outcome is recorded only if the claim
// it was made under is still the latest.
func (s *Service) SettlePayment(ctx context.Context, id string) error {
	for range 8 { // a payment takes at most authorize, then capture or void, then refund
		p, err := readPayState(ctx, s.db, id)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		step := s.nextPayStep(p, now)
		switch {
		case step.cancel:
			if err := s.recordPayment(ctx, p, p.attempt, payment.Pending, payment.Cancelled, "", "order ended before payment"); err != nil {
				return err
			}
			continue
		case step.op == "":
			return s.parkPayment(ctx, p, step.wait)
		}
		attempt, ok, err := s.claimPayment(ctx, p, step.op, now)
		if err != nil {
			return err
		}
		if !ok {
			continue // another process moved it first: look again
		}
		if err := s.callProvider(ctx, p, step, attempt); err != nil {
			return err
		}
	}
	return nil
}

// claimPayment moves p into op's in-flight status under a new claim attempt, if nobody else
// did since p was read. A first claim is one statement (it shows in history with its outcome,
// recorded under the same attempt); a takeover of an earlier claim also gets a history row.
func (s *Service) claimPayment(ctx context.Context, p payState, op payment.Op, now time.Time) (attempt int, ok bool, err error) {
	attempt = p.attempt + 1
	claim := func(ctx context.Context, exec func(ctx context.Context, q string, args ...any) (int64, error)) error {
		n, err := exec(ctx,
			`UPDATE payments SET status = $1, claim_attempt = $2, claimed_at = $3, due_at = $4, updated_at = $5,
			   op_started_at = CASE WHEN status = $1 THEN COALESCE(op_started_at, $3) ELSE $3 END, claimed_by = $6
			 WHERE order_id = $7 AND status = $8 AND claim_attempt = $9`,
			string(op.InFlight()), attempt, store.Now(now), store.Now(now.Add(s.cfg.PaymentClaimTimeout)), store.Now(now),
			s.cfg.Instance, p.orderID, string(p.status), p.attempt)
		if err != nil {
			return fmt.Errorf("claim %s of %s: %w", op, p.orderID, err)
		}
		ok = n == 1
		return nil
	}
	if p.status != op.InFlight() {
		return attempt, ok, claim(ctx, s.db.Write)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := claim(ctx, tx.Write); err != nil || !ok {
			return err
		}
		detail := "claim taken over" // from a process that stopped answering, or died
		if p.claimedAt.IsZero() {
			detail = "retry after an unknown outcome" // the last attempt failed and released it
		}
		return appendPaymentHistory(ctx, tx, p.orderID, op.InFlight(), attempt, detail, now)
	})
	return attempt, ok, err
}

// callProvider makes the claimed call (first asking the provider what became of an earlier
// attempt, when there was one) and records its outcome under the claim.
func (s *Service) callProvider(ctx context.Context, p payState, step payStep, attempt int) error {
	op, key := step.op, payment.Key(p.orderID, step.op)
	cctx, cancel := context.WithTimeout(ctx, s.cfg.PaymentCallTimeout)
	defer cancel()
	var ref string
	var err error
	looked, called := false, false
	lookFirst := step.resume && s.lookFirst(p, op)
	if lookFirst {
		var out payment.Outcome
		out, err = s.cfg.Payments.Lookup(payment.WithFirstTried(cctx, p.opStarted), key, p.ref)
		switch {
		case err == nil:
			looked, ref = true, out.Ref
			if out.Declined {
				err = payment.ErrDeclined
			}
		case errors.Is(err, payment.ErrUnknownKey) && op == payment.Authorize && ended(p.orderStatus):
			// The provider never saw the authorization, and the order is over: nothing to ask for.
			s.countPayment(op, "never_made")
			return s.recordPayment(ctx, p, attempt, op.InFlight(), payment.Cancelled, "", "authorization never reached the provider; order ended")
		case errors.Is(err, payment.ErrUnknownKey):
			err = nil // never reached the provider: make the call
		case s.keyMayHaveExpired(p):
			// The provider cannot tell, and it may have forgotten the key: a repeat could act
			// a second time. Ops must look at the provider.
			err = fmt.Errorf("%w (first claimed %s): %w", errKeyMayHaveExpired, p.opStarted.UTC().Format(time.RFC3339), err)
		default:
			// The provider cannot tell now (a lookup that failed, or a search that cannot see
			// far enough): ask by repeating the call under the same key, which the provider
			// answers with the first call's outcome if there was one, acting at most once.
			s.logger.DebugContext(ctx, "payment lookup inconclusive: repeating the call under its key", "order", p.orderID, "op", op, "err", err)
			err = nil
		}
	}
	if !looked && err == nil {
		called = true
		switch op {
		case payment.Authorize:
			ref, err = s.cfg.Payments.Authorize(cctx, key, payment.Amount{OrderID: p.orderID, Value: p.amount, Currency: p.currency})
		case payment.Capture:
			err = s.cfg.Payments.Capture(cctx, key, p.ref, p.amount)
		case payment.Void:
			err = s.cfg.Payments.Void(cctx, key, p.ref)
		case payment.Refund:
			err = s.cfg.Payments.Refund(cctx, key, p.ref, p.amount)
		}
		if step.resume && !lookFirst && unknownOutcome(err) {
			// The repeat went unanswered too. A provider keeps what an endpoint that began
			// answered under the key, a failure included (Stripe keeps a 500), so further
			// repeats may only ever get that: ask what it did instead.
			if out, lerr := s.cfg.Payments.Lookup(payment.WithFirstTried(cctx, p.opStarted), key, p.ref); lerr == nil {
				looked, ref, err = true, out.Ref, nil
				if out.Declined {
					err = payment.ErrDeclined
				}
			}
		}
	}
	switch {
	case op == payment.Authorize && errors.Is(err, payment.ErrDeclined):
		s.countPayment(op, "declined")
		return s.recordPayment(ctx, p, attempt, op.InFlight(), payment.Declined, "", "declined")
	case err != nil:
		result := "unknown"
		switch {
		case errors.Is(err, payment.ErrRefused):
			result = "refused"
			s.logger.ErrorContext(ctx, "payment provider refused a call", "order", p.orderID, "op", op, "err", err)
		case errors.Is(err, errKeyMayHaveExpired):
			result = "key_expired"
		}
		s.countPayment(op, result)
		now := s.cfg.Now()
		dead := result != "unknown" || (!p.firstFailed.IsZero() && now.Sub(p.firstFailed) > s.cfg.PaymentDeadAfter)
		if dead {
			since := p.firstFailed // the first failure of this run, or this one
			if since.IsZero() {
				since = now
			}
			s.logger.ErrorContext(ctx, "payment dead-lettered: ops must look at it and redrive it",
				"order", p.orderID, "op", op, "tries", p.tries+boolInt(called), "failing_since", since, "err", err)
		}
		if rerr := s.releasePayment(ctx, p.orderID, attempt, err, dead, called); rerr != nil {
			return errors.Join(err, rerr)
		}
		return fmt.Errorf("%s payment of order %s (attempt %d): %w: %w", op, p.orderID, attempt, errPaymentRetryKept, err)
	}
	s.countPayment(op, "ok")
	if ref == "" {
		ref = p.ref
	}
	return s.recordPayment(ctx, p, attempt, op.InFlight(), op.Done(), ref, "")
}

// lookFirst reports whether the saga, resuming op after an unknown outcome, asks the provider
// what became of it before calling again. Mostly it need not: the call is repeated under its
// idempotency key, and the provider answers with the first call's outcome if it kept one, or
// acts now if it never did; that is one request, where a lookup may be several (a search,
// then a list of recent objects: at hundreds of orders a second, dozens of pages). Only a
// repeat that fails as well is followed by a lookup. It looks first
//   - for an authorization of an order that has ended: a repeat would place a hold only to
//     release it;
//   - when the key may have expired at the provider (Config.PaymentKeyTTL): a repeat could
//     act a second time.
func (s *Service) lookFirst(p payState, op payment.Op) bool {
	return (op == payment.Authorize && ended(p.orderStatus)) || s.keyMayHaveExpired(p)
}

// unknownOutcome reports whether err leaves a provider call's outcome unknown.
func unknownOutcome(err error) bool {
	return err != nil && !errors.Is(err, payment.ErrDeclined) && !errors.Is(err, payment.ErrRefused)
}

// keyMayHaveExpired reports whether the idempotency key of p's in-flight call is older than
// the provider keeps keys.
func (s *Service) keyMayHaveExpired(p payState) bool {
	return !p.opStarted.IsZero() && s.cfg.Now().Sub(p.opStarted) > s.cfg.PaymentKeyTTL
}

// recordPayment moves the payment from -> to, fenced by the claim attempt it was decided
// under: an outcome from a claim that was since taken over is dropped (the newer claim
// carries the same idempotency key and records the same outcome). The operation is over, so
// its count of failed calls (attempts) starts again at 0 for the next. Reaching authorized or
// declined moves a still-placed order to paid or failed in the same transaction.
func (s *Service) recordPayment(ctx context.Context, p payState, attempt int, from, to payment.Status, ref, detail string) error {
	if !payment.CanMove(from, to) {
		return fmt.Errorf("payment of %s: %s -> %s is not a legal move", p.orderID, from, to)
	}
	now := s.cfg.Now()
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		// The order's status, locked so a concurrent end of the order waits for this
		// transaction and then marks the payment due itself: with it the payment is left due
		// only if it has more to do, and a settled one costs no further write. (Moving a placed
		// order to paid or failed below changes nothing in that verdict.)
		q := `SELECT status FROM orders WHERE id = $1`
		if tx.Dialect() == store.Postgres {
			q += ` FOR UPDATE`
		}
		var st string
		if err := tx.QueryRowContext(ctx, q, p.orderID).Scan(&st); err != nil {
			return fmt.Errorf("read order of payment %s: %w", p.orderID, err)
		}
		var due any
		if next := s.nextPayStep(payState{status: to, orderStatus: Status(st)}, now); next != (payStep{}) {
			due = store.Now(now)
		}
		res, err := tx.ExecContext(ctx,
			`UPDATE payments SET status = $1, provider_ref = $2, claimed_at = NULL, due_at = $3, attempts = 0,
			   last_error = '', updated_at = $4, first_failed_at = NULL, dead_at = NULL
			 WHERE order_id = $5 AND status = $6 AND claim_attempt = $7`,
			string(to), ref, due, store.Now(now), p.orderID, string(from), attempt)
		if err != nil {
			return fmt.Errorf("record payment of %s: %w", p.orderID, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil // fenced off: a newer claim owns the payment
		}
		if err := appendPaymentHistory(ctx, tx, p.orderID, to, attempt, detail, now); err != nil {
			return err
		}
		if to == payment.Refunded {
			// The customer is told (notify): once, as the event is written once.
			var region string
			var amount int64
			var currency string
			if err := tx.QueryRowContext(ctx, `SELECT o.region, p.amount, p.currency FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.id = $1`,
				p.orderID).Scan(&region, &amount, &currency); err != nil {
				return fmt.Errorf("read refunded order %s: %w", p.orderID, err)
			}
			return tx.EmitNew(ctx, event.PaymentRefunded, region, now, event.Payment{OrderID: p.orderID, Amount: amount, Currency: currency, At: now})
		}
		if to != payment.Authorized && to != payment.Declined {
			return nil
		}
		_, err = s.updateTx(ctx, tx, p.orderID, "payments", func(tx *store.Tx, o *Order) error {
			if o.Status != Placed {
				return errNoChange // ended meanwhile: the saga voids what it got
			}
			if to == payment.Declined {
				o.Status, o.Reason, o.DeadlineAt = Failed, "payment declined", timeZero
				return nil
			}
			o.Status, o.DeadlineAt = Paid, now.Add(s.cfg.RestaurantTimeout)
			return nil
		})
		return err
	})
}

// releasePayment gives up claim attempt after a call with an unknown outcome: the payment
// stays in its in-flight status and is due again after a backoff, when the saga resumes it
// by asking the provider. A dead payment (the provider refused the call, or calls have failed
// for PaymentDeadAfter) is due never: it waits, as a dead letter, for ops to redrive it.
// called says whether this attempt called the provider to do the operation (not only looked
// it up): such a call counts in attempts, the dead letter's tries.
func (s *Service) releasePayment(ctx context.Context, id string, attempt int, cause error, dead, called bool) error {
	now := s.cfg.Now()
	msg := cause.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	var due, deadAt any = store.Now(now.Add(s.retryDelay(attempt))), nil
	if dead {
		due, deadAt = nil, store.Now(now)
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx,
			`UPDATE payments SET claimed_at = NULL, due_at = $1, attempts = attempts + $2, last_error = $3, updated_at = $4,
			   first_failed_at = COALESCE(first_failed_at, $5), dead_at = $6
			 WHERE order_id = $7 AND claim_attempt = $8`,
			due, boolInt(called), msg, store.Now(now), store.Now(now), deadAt, id, attempt)
		if err != nil {
			return fmt.Errorf("release payment claim of %s: %w", id, err)
		}
		return nil
	})
}

// parkPayment records when the payment next needs looking at (wait, or never when zero),
// unless the payment or its order moved since p was read.
func (s *Service) parkPayment(ctx context.Context, p payState, wait time.Time) error {
	if p.dueAt.Equal(wait) {
		return nil
	}
	var due any
	if !wait.IsZero() {
		due = store.Now(wait)
	}
	_, err := s.db.Write(ctx,
		`UPDATE payments SET due_at = $1 WHERE order_id = $2 AND status = $3 AND claim_attempt = $4
		   AND (SELECT status FROM orders WHERE id = $5) = $6`,
		due, p.orderID, string(p.status), p.attempt, p.orderID, string(p.orderStatus))
	if err != nil {
		return fmt.Errorf("park payment of %s: %w", p.orderID, err)
	}
	return nil
}

// retryDelay is the backoff before a payment call that failed on its attempt-th claim is
// tried again: PaymentRetryBase doubling per attempt, capped at PaymentRetryMax.
func (s *Service) retryDelay(attempt int) time.Duration {
	d := s.cfg.PaymentRetryBase
	for i := 1; i < attempt && d < s.cfg.PaymentRetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.PaymentRetryMax)
}

func appendPaymentHistory(ctx context.Context, tx *store.Tx, id string, st payment.Status, attempt int, detail string, at time.Time) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO payment_transitions (order_id, seq, status, attempt, detail, at)
		 VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM payment_transitions WHERE order_id = $2), $3, $4, $5, $6)`,
		id, id, string(st), attempt, detail, store.Now(at))
	if err != nil {
		return fmt.Errorf("append payment history of %s: %w", id, err)
	}
	return nil
}

func (s *Service) countPayment(op payment.Op, result string) {
	s.cfg.Metrics.PaymentCalls.WithLabelValues(string(op), result).Inc()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
