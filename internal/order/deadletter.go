package order

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// DeadPayment is a payment the saga gave up on: the provider refused its call, or calls failed
// for PaymentDeadAfter. It stays where it stopped until ops redrive it.
type DeadPayment struct {
	OrderID string
	Status  payment.Status // the in-flight status it stopped in
	// Attempts is how many times the saga called the provider to do the operation it stopped
	// in (authorize, capture, void or refund), redrives included, counting calls whose failure
	// it recorded: not lookups, not earlier operations, not a call cut off by a crash.
	Attempts      int
	LastError     string
	FirstFailedAt time.Time
	DeadAt        time.Time
}

// DeadPayments returns up to limit dead-lettered payments whose order ID sorts after after
// ("" for the first), in order ID order.
func (s *Service) DeadPayments(ctx context.Context, after string, limit int) ([]DeadPayment, error) {
	if limit <= 0 {
		limit = 100
	}
	return s.deadPayments(ctx, `WHERE dead_at IS NOT NULL AND order_id > $1 ORDER BY order_id LIMIT $2`, after, limit)
}

// DeadPaymentOf returns order id's payment if it is a dead letter; false if it is not.
func (s *Service) DeadPaymentOf(ctx context.Context, id string) (DeadPayment, bool, error) {
	d, err := s.deadPayments(ctx, `WHERE dead_at IS NOT NULL AND order_id = $1`, id)
	if err != nil || len(d) == 0 {
		return DeadPayment{}, false, err
	}
	return d[0], true, nil
}

func (s *Service) deadPayments(ctx context.Context, where string, args ...any) ([]DeadPayment, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT order_id, status, attempts, last_error, first_failed_at, dead_at FROM payments `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read dead payments: %w", err)
	}
	defer rows.Close()
	var out []DeadPayment
	for rows.Next() {
		var d DeadPayment
		var st string
		var first sql.NullInt64
		var dead int64
		if err := rows.Scan(&d.OrderID, &st, &d.Attempts, &d.LastError, &first, &dead); err != nil {
			return nil, fmt.Errorf("scan dead payment: %w", err)
		}
		d.Status, d.DeadAt = payment.Status(st), store.Time(dead)
		if first.Valid {
			d.FirstFailedAt = store.Time(first.Int64)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeadPaymentCount is how many payments are dead letters.
func (s *Service) DeadPaymentCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM payments WHERE dead_at IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count dead payments: %w", err)
	}
	return n, nil
}

// RedrivePayments puts dead-lettered payments back to work: the named orders' payments, or
// every dead one when ids is empty. Each is due at once and resumes where it stopped, asking
// the provider first, with its failure history reset. It returns the order IDs it redrove; a
// payment redriven twice is settled once (the saga's claims see to that).
func (s *Service) RedrivePayments(ctx context.Context, ids []string) ([]string, error) {
	now := store.Now(s.cfg.Now())
	q := `UPDATE payments SET dead_at = NULL, first_failed_at = NULL, due_at = $1 WHERE dead_at IS NOT NULL`
	args := []any{now}
	if len(ids) > 0 {
		ph := make([]string, len(ids))
		for i, id := range ids {
			args = append(args, id)
			ph[i] = fmt.Sprintf("$%d", len(args))
		}
		q += ` AND order_id IN (` + strings.Join(ph, ", ") + `)`
	}
	var done []string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		done = nil
		rows, err := tx.QueryContext(ctx, q+` RETURNING order_id`, args...)
		if err != nil {
			return fmt.Errorf("redrive payments: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return fmt.Errorf("redrive payments: %w", err)
			}
			done = append(done, id)
		}
		return rows.Err()
	})
	if len(done) > 0 {
		s.logger.InfoContext(ctx, "dead payments redriven", "count", len(done))
	}
	return done, err
}
