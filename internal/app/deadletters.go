package app

import (
	"context"
	"fmt"

	"github.com/tiffin-dev/tiffin/internal/dlq"
	"github.com/tiffin-dev/tiffin/internal/order"
)

// paymentDeadLetters shows the payments the saga gave up on in the operators' dead-letter view
// (dlq.Source), so one view, one route and `tiffin dlq` cover them with the bus's.
type paymentDeadLetters struct{ orders *order.Service }

func (p paymentDeadLetters) Name() string { return dlq.SourcePayment }

func (p paymentDeadLetters) List(ctx context.Context, after string, limit int) ([]dlq.Entry, error) {
	dead, err := p.orders.DeadPayments(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]dlq.Entry, 0, len(dead))
	for _, d := range dead {
		out = append(out, entryOf(d))
	}
	return out, nil
}

func (p paymentDeadLetters) Count(ctx context.Context) (int, error) {
	return p.orders.DeadPaymentCount(ctx)
}

func (p paymentDeadLetters) Show(ctx context.Context, key string) (dlq.Detail, error) {
	d, ok, err := p.orders.DeadPaymentOf(ctx, key)
	if err != nil {
		return dlq.Detail{}, err
	}
	if !ok {
		return dlq.Detail{}, dlq.ErrNotFound
	}
	return dlq.Detail{Entry: entryOf(d), Headers: map[string]string{}}, nil
}

func (p paymentDeadLetters) Redrive(ctx context.Context, keys []string) ([]string, error) {
	return p.orders.RedrivePayments(ctx, keys)
}

func entryOf(d order.DeadPayment) dlq.Entry {
	op, _ := d.Status.InFlight()
	return dlq.Entry{
		ID: dlq.SourcePayment + "-" + d.OrderID, Source: dlq.SourcePayment, Consumer: "payment saga",
		Subject: fmt.Sprintf("%s of order %s", op, d.OrderID), Reason: d.LastError, Tries: d.Attempts,
		FirstFailedAt: d.FirstFailedAt, LastFailedAt: d.DeadAt, Preview: string(d.Status),
	}
}
