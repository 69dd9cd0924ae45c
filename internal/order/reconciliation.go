package order

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/payment"
)

// Reconciliation compares the payment provider's ledger with the store.
type Reconciliation struct {
	// Checked is how many payments were compared.
	Checked int `json:"checked"`
	// Unsettled is how many of them the saga is still working on (a call in flight or due):
	// they are not judged.
	Unsettled int `json:"unsettled"`
	// Dead is how many of the unsettled are dead letters waiting for ops (GET /v1/ops/dlq).
	Dead int `json:"dead"`
	// Unverified lists (up to 100 of) the payments the provider could not account for now
	// (its lookup failed or could not see far enough); a later reconciliation checks them.
	Unverified []string `json:"unverified"`
	// Next, when set, is the order ID to pass as before for the next (older) page: this page
	// stopped at its limit, or at the request's deadline.
	Next string `json:"next,omitempty"`
	// Mismatches lists every payment whose provider account contradicts the store, or whose
	// settled state contradicts its order (money kept for an order that ended, a delivered
	// order not captured).
	Mismatches []Mismatch `json:"mismatches"`
}

// Mismatch is one payment the provider and the store disagree on.
type Mismatch struct {
	OrderID       string           `json:"order_id"`
	OrderStatus   Status           `json:"order_status"`
	PaymentStatus payment.Status   `json:"payment_status"`
	Amount        int64            `json:"amount"`
	Provider      *payment.Account `json:"provider,omitempty"`
	Problem       string           `json:"problem"`
}

// Reconcile limits.
const (
	DefaultReconcileLimit = 1000
	MaxReconcileLimit     = 100000
)

// ReconcilePayments checks up to limit payments (DefaultReconcileLimit when limit <= 0) whose
// order IDs sort before before ("" for the newest), newest first, against the provider, one
// Account call each. When ctx is about to end it stops early and returns the page so far,
// with Next set to continue from. A before that is not an order ID (as Next gives) is a
// fault.FieldError on query.before.
func (s *Service) ReconcilePayments(ctx context.Context, before string, limit int) (Reconciliation, error) {
	if before != "" && !event.IsID("ord", before) {
		return Reconciliation{}, fault.Field("query.before", before, "is not an order ID (the next of a previous page)")
	}
	if limit <= 0 {
		limit = DefaultReconcileLimit
	}
	limit = min(limit, MaxReconcileLimit)
	rows, err := s.db.QueryContext(ctx,
		`SELECT p.order_id, o.status, p.status, p.amount, p.provider_ref, p.due_at IS NOT NULL, p.dead_at IS NOT NULL,
		   p.claim_attempt
		 FROM payments p JOIN orders o ON o.id = p.order_id WHERE $1 = '' OR p.order_id < $2
		 ORDER BY p.order_id DESC LIMIT $3`, before, before, limit+1)
	if err != nil {
		return Reconciliation{}, fmt.Errorf("read payments to reconcile: %w", err)
	}
	type row struct {
		id      string
		order   Status
		status  payment.Status
		amount  int64
		ref     string
		pending bool
		dead    bool
		claims  int // provider calls ever claimed: 0 means the provider was never asked
	}
	var all []row
	for rows.Next() {
		var r row
		var ostatus, pstatus string
		if err := rows.Scan(&r.id, &ostatus, &pstatus, &r.amount, &r.ref, &r.pending, &r.dead, &r.claims); err != nil {
			rows.Close()
			return Reconciliation{}, fmt.Errorf("scan payment: %w", err)
		}
		r.order, r.status = Status(ostatus), payment.Status(pstatus)
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Reconciliation{}, fmt.Errorf("read payments to reconcile: %w", err)
	}
	rep := Reconciliation{Mismatches: []Mismatch{}, Unverified: []string{}}
	if len(all) > limit {
		all = all[:limit]
		rep.Next = all[limit-1].id
	}
	deadline, bounded := ctx.Deadline()
	for i, r := range all {
		if i > 0 && bounded && time.Until(deadline) < time.Second {
			rep.Next = all[i-1].id // leave time to answer; continue after the last one checked
			break
		}
		rep.Checked++
		if _, inFlight := r.status.InFlight(); inFlight || r.pending || r.dead {
			rep.Unsettled++
			if r.dead {
				rep.Dead++
			}
			continue
		}
		var acc payment.Account
		var err error
		if r.claims == 0 {
			// Never sent to the provider (cancelled before its authorization was claimed):
			// there is nothing there to ask about, and a provider whose search lags would
			// have to list every recent payment to say so.
			err = payment.ErrUnknownKey
		} else {
			acc, err = s.cfg.Payments.Account(ctx, r.id)
		}
		known := err == nil
		if err != nil && !errors.Is(err, payment.ErrUnknownKey) {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			if len(rep.Unverified) < 100 {
				rep.Unverified = append(rep.Unverified, r.id)
			}
			s.logger.WarnContext(ctx, "reconciliation: the provider could not account for a payment", "order", r.id, "err", err)
			continue
		}
		problem := accountProblem(r.status, r.amount, acc, known)
		if problem == "" {
			// Only a delivered order must have been captured. Before delivery an authorization
			// agrees with either capture point: --capture-at may have changed since the order
			// was accepted (or differ between replicas), and the money is held, not lost; the
			// saga captures it at delivery in both modes.
			problem = settledProblem(r.order, r.status, r.order == Delivered)
		}
		if problem == "" {
			continue
		}
		m := Mismatch{OrderID: r.id, OrderStatus: r.order, PaymentStatus: r.status, Amount: r.amount, Problem: problem}
		if known {
			m.Provider = &acc
		}
		rep.Mismatches = append(rep.Mismatches, m)
	}
	return rep, nil
}

// accountProblem says how the provider's account contradicts a settled payment status, or "".
func accountProblem(st payment.Status, amount int64, acc payment.Account, known bool) string {
	switch st {
	case payment.Pending, payment.Cancelled:
		if known && acc.Holding() {
			return "the provider holds money for a payment the store never made"
		}
	case payment.Declined:
		if known && !acc.Declined {
			return "the store says declined, the provider did not decline"
		}
	case payment.Authorized:
		if !known || acc.Authorized != amount || acc.Captured != 0 || acc.Voided {
			return "the store says authorized, the provider holds no open authorization of the amount"
		}
	case payment.Captured:
		if !known || acc.Captured != amount || acc.Refunded != 0 {
			return "the store says captured, the provider did not capture the amount (or refunded it)"
		}
	case payment.Voided:
		if !known || !acc.Voided || acc.Captured != 0 {
			return "the store says voided, the provider did not void"
		}
	case payment.Refunded:
		if !known || acc.Refunded != acc.Captured || acc.Captured != amount {
			return "the store says refunded, the provider did not refund what it captured"
		}
	}
	return ""
}

// settledProblem says how a settled payment contradicts its order's status, or "".
func settledProblem(o Status, st payment.Status, wantCapture bool) string {
	switch {
	case ended(o) && (st == payment.Authorized || st == payment.Captured):
		return "the order ended but the customer's money was kept"
	case wantCapture && st != payment.Captured:
		return "the order was delivered but not captured"
	}
	return ""
}
