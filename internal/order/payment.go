package order

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// PaymentProvider charges and refunds. Charge is idempotent on key: charging the same key
// twice returns the first charge's reference. A decline is ErrDeclined; any other error is
// transient and retried.
type PaymentProvider interface {
	Charge(ctx context.Context, key string, amount int64, currency string) (ref string, err error)
	Refund(ctx context.Context, ref string, amount int64) error
}

// FakeConfig configures the built-in fake payment provider.
type FakeConfig struct {
	// DeclineRate is the share of charges declined, 0..1.
	DeclineRate float64
	// FailureRate is the share of calls that fail transiently, 0..1.
	FailureRate float64
	// Seed seeds the provider's randomness.
	Seed uint64
}

// FakeProvider is a payment provider in memory, with configurable declines and failures. It
// remembers charges by key, as a real provider's idempotency keys do.
type FakeProvider struct {
	cfg     FakeConfig
	mu      sync.Mutex
	rnd     *rand.Rand
	charges map[string]fakeCharge
}

type fakeCharge struct {
	ref      string
	declined bool
}

// NewFakeProvider returns a fake provider.
func NewFakeProvider(cfg FakeConfig) *FakeProvider {
	return &FakeProvider{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), charges: map[string]fakeCharge{}}
}

// ErrProviderUnavailable is the fake provider's transient failure.
var ErrProviderUnavailable = errors.New("payment provider unavailable")

// Charge implements PaymentProvider.
func (f *FakeProvider) Charge(ctx context.Context, key string, amount int64, currency string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.charges[key]; ok {
		if c.declined {
			return "", ErrDeclined
		}
		return c.ref, nil
	}
	if f.rnd.Float64() < f.cfg.FailureRate {
		return "", ErrProviderUnavailable
	}
	c := fakeCharge{ref: event.NewID("pay"), declined: f.rnd.Float64() < f.cfg.DeclineRate || amount <= 0}
	f.charges[key] = c
	if c.declined {
		return "", ErrDeclined
	}
	return c.ref, nil
}

// Refund implements PaymentProvider.
func (f *FakeProvider) Refund(ctx context.Context, ref string, amount int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rnd.Float64() < f.cfg.FailureRate {
		return ErrProviderUnavailable
	}
	return nil
}

// Payment statuses.
const (
	payPending       = "pending"
	payCaptured      = "captured"
	payDeclined      = "declined"
	payRefundPending = "refund_pending"
	payRefunded      = "refunded"
	payVoid          = "void"
)

// Pay charges order id if it is still waiting for its payment and records the outcome: paid,
// or failed on a decline. It is safe to call any number of times (the order's status is the
// guard, the provider's idempotency key the second one); a transient failure is returned so
// the caller retries.
func (s *Service) Pay(ctx context.Context, id string) error {
	var o Order
	var status string
	err := s.db.QueryRowContext(ctx, `SELECT id, status, total, currency FROM orders WHERE id = $1`, id).
		Scan(&o.ID, &status, &o.Total, &o.Currency)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("read order %s for payment: %w", id, err)
	}
	if Status(status) != Placed {
		return nil
	}
	ref, chargeErr := s.cfg.Payments.Charge(ctx, o.ID, o.Total, o.Currency)
	if chargeErr != nil && !errors.Is(chargeErr, ErrDeclined) {
		werr := s.db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx,
				`UPDATE payments SET attempts = attempts + 1, last_error = $1, updated_at = $2 WHERE order_id = $3`,
				chargeErr.Error(), store.Now(s.cfg.Now()), o.ID)
			return err
		})
		return errors.Join(fmt.Errorf("charge order %s: %w", o.ID, chargeErr), werr)
	}
	_, err = s.Update(ctx, id, "payments", func(tx *store.Tx, o *Order) error {
		if o.Status != Placed {
			return errNoChange
		}
		payStatus := payCaptured
		if chargeErr != nil {
			payStatus = payDeclined
			o.Status, o.Reason, o.DeadlineAt = Failed, "payment declined", timeZero
		} else {
			o.Status = Paid
			o.DeadlineAt = s.cfg.Now().Add(s.cfg.RestaurantTimeout)
		}
		_, err := tx.ExecContext(ctx,
			`UPDATE payments SET status = $1, provider_ref = $2, attempts = attempts + 1, last_error = '', updated_at = $3
			 WHERE order_id = $4`, payStatus, ref, store.Now(s.cfg.Now()), o.ID)
		if err != nil {
			return fmt.Errorf("record payment of %s: %w", o.ID, err)
		}
		return nil
	})
	return err
}

// startRefund marks the order's payment for refund in tx; refund (after commit) or the
// reconciler carries it out. An order never charged has its payment voided instead.
func (s *Service) startRefund(ctx context.Context, tx *store.Tx, id string) error {
	now := store.Now(s.cfg.Now())
	if _, err := tx.ExecContext(ctx,
		`UPDATE payments SET status = $1, updated_at = $2 WHERE order_id = $3 AND status = $4`,
		payRefundPending, now, id, payCaptured); err != nil {
		return fmt.Errorf("start refund of %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE payments SET status = $1, updated_at = $2 WHERE order_id = $3 AND status = $4`,
		payVoid, now, id, payPending); err != nil {
		return fmt.Errorf("void payment of %s: %w", id, err)
	}
	return nil
}

// refund carries out a pending refund of order id. Failures are logged and left for the
// reconciler.
func (s *Service) refund(ctx context.Context, id string) {
	var ref string
	var amount int64
	err := s.db.QueryRowContext(ctx,
		`SELECT provider_ref, amount FROM payments WHERE order_id = $1 AND status = $2`, id, payRefundPending).Scan(&ref, &amount)
	if errors.Is(err, sql.ErrNoRows) {
		return
	}
	if err == nil {
		err = s.cfg.Payments.Refund(ctx, ref, amount)
	}
	if err == nil {
		err = s.db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE payments SET status = $1, updated_at = $2 WHERE order_id = $3 AND status = $4`,
				payRefunded, store.Now(s.cfg.Now()), id, payRefundPending)
			return err
		})
	}
	if err != nil {
		s.logger.WarnContext(ctx, "refund failed; the reconciler retries", "order", id, "err", err)
		return
	}
	s.cfg.Metrics.Reconciled.WithLabelValues("refunded").Inc()
}
