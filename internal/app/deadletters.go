package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tiffin-dev/tiffin/internal/dlq"
	"github.com/tiffin-dev/tiffin/internal/fulfil"
	"github.com/tiffin-dev/tiffin/internal/notify"
	"github.com/tiffin-dev/tiffin/internal/order"
	"github.com/tiffin-dev/tiffin/internal/store"
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

// shipmentDeadLetters shows failed shipments in the dead-letter view.
type shipmentDeadLetters struct{ f *fulfil.Service }

func (p shipmentDeadLetters) Name() string { return dlq.SourceShipment }

func (p shipmentDeadLetters) List(ctx context.Context, after string, limit int) ([]dlq.Entry, error) {
	list, err := p.f.FailedShipments(ctx, after, limit)
	out := make([]dlq.Entry, 0, len(list))
	for _, sh := range list {
		out = append(out, shipmentEntry(sh))
	}
	return out, err
}

func (p shipmentDeadLetters) Count(ctx context.Context) (int, error) { return p.f.FailedCount(ctx) }

func (p shipmentDeadLetters) Show(ctx context.Context, key string) (dlq.Detail, error) {
	sh, err := fulfil.Get(ctx, p.db(), key)
	if errors.Is(err, fulfil.ErrNoShipment) || (err == nil && sh.State != fulfil.Failed) {
		return dlq.Detail{}, dlq.ErrNotFound
	}
	if err != nil {
		return dlq.Detail{}, err
	}
	b, _ := json.Marshal(sh.Booking)
	return dlq.Detail{Entry: shipmentEntry(sh), Headers: map[string]string{}, Payload: string(b)}, nil
}

func (p shipmentDeadLetters) db() store.Querier { return p.f.DB() }

func (p shipmentDeadLetters) Redrive(ctx context.Context, keys []string) ([]string, error) {
	return p.f.RedriveFailed(ctx, keys, "ops:dlq")
}

func shipmentEntry(sh fulfil.Shipment) dlq.Entry {
	return dlq.Entry{
		ID: dlq.SourceShipment + "-" + sh.ID, Source: dlq.SourceShipment, Consumer: "fulfil",
		Subject: fmt.Sprintf("shipment of order %s with %s", sh.OrderID, sh.Carrier), Reason: sh.LastError, Tries: sh.Attempts,
		FirstFailedAt: sh.CreatedAt, LastFailedAt: sh.UpdatedAt, Preview: string(sh.State),
	}
}

// notificationDeadLetters shows dead notifications in the dead-letter view.
type notificationDeadLetters struct{ n *notify.Service }

func (p notificationDeadLetters) Name() string { return dlq.SourceNotification }

func (p notificationDeadLetters) List(ctx context.Context, after string, limit int) ([]dlq.Entry, error) {
	list, err := p.n.Dead(ctx, after, limit)
	out := make([]dlq.Entry, 0, len(list))
	for _, d := range list {
		out = append(out, notificationEntry(d))
	}
	return out, err
}

func (p notificationDeadLetters) Count(ctx context.Context) (int, error) { return p.n.DeadCount(ctx) }

func (p notificationDeadLetters) Show(ctx context.Context, key string) (dlq.Detail, error) {
	list, err := p.n.Dead(ctx, prevKey(key), 1)
	if err != nil {
		return dlq.Detail{}, err
	}
	if len(list) == 0 || list[0].ID != key {
		return dlq.Detail{}, dlq.ErrNotFound
	}
	return dlq.Detail{Entry: notificationEntry(list[0]), Headers: map[string]string{}, Payload: list[0].Payload}, nil
}

func (p notificationDeadLetters) Redrive(ctx context.Context, keys []string) ([]string, error) {
	return p.n.RedriveDead(ctx, keys)
}

func notificationEntry(d notify.DeadMessage) dlq.Entry {
	preview := d.Payload
	if len(preview) > 200 {
		preview = preview[:200] + "…"
	}
	return dlq.Entry{
		ID: dlq.SourceNotification + "-" + d.ID, Source: dlq.SourceNotification, Consumer: "notify",
		Subject: fmt.Sprintf("%s %s to %s (order %s)", d.Channel, d.Kind, d.Recipient, d.OrderID), Reason: d.LastError,
		Tries: d.Attempts, FirstFailedAt: d.CreatedAt, LastFailedAt: d.CreatedAt, Preview: preview,
	}
}

// prevKey is a key that sorts just before key, so that a list "after" it starts at key.
func prevKey(key string) string {
	if key == "" {
		return ""
	}
	return key[:len(key)-1] + string(key[len(key)-1]-1) + "\xff"
}
