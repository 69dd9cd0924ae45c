package order

import (
	"context"
	"errors"
	"fmt"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// ShipmentConsumer is the durable consumer that moves carrier orders as their shipments move.
const ShipmentConsumer = "orders-shipments"

// shipmentSubjects are the shipment events that move an order shipped by carrier.
var shipmentSubjects = []string{
	event.SubjectAll(event.ShipmentShipped), event.SubjectAll(event.ShipmentDelivered),
	event.SubjectAll(event.ShipmentCancelled),
}

// handleShipment moves a carrier order as its shipment moved (the fulfil service's events):
// shipped is the carrier's pickup (the order is ready, then picked up), delivered its
// delivery, and a shipment cancelled while its order still runs (ops cancelled it) cancels
// the order, which gives the money back. Each event is applied once (processed-event record
// in the same transaction); steps the order already made are skipped, so the order converges
// whichever of a late or a duplicate event comes.
func (s *Service) handleShipment(ctx context.Context, e event.Envelope) error {
	var sh event.Shipment
	if err := e.Payload(&sh); err != nil {
		return err
	}
	actor := "carrier:" + sh.Carrier
	err := s.inTxRetrying(ctx, func(tx *store.Tx) error {
		first, err := tx.Processed(ctx, ShipmentConsumer, e.ID)
		if err != nil || !first {
			return err
		}
		var path []Status
		switch e.Type {
		case event.ShipmentShipped:
			path = []Status{Ready, PickedUp}
		case event.ShipmentDelivered:
			path = []Status{Ready, PickedUp, Delivered}
		case event.ShipmentCancelled:
			path = []Status{Cancelled}
		}
		for _, to := range path {
			_, err := s.updateTx(ctx, tx, sh.OrderID, actor, func(_ *store.Tx, o *Order) error {
				if o.Status == to || !CanMove(o.Status, to) {
					return errNoChange // already there, or past it
				}
				if to == Cancelled {
					o.Reason = "the shipment was cancelled"
				}
				return moveTo(o, to)
			})
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	result := "ok"
	if err != nil {
		result = "error"
	}
	s.cfg.Metrics.Consumed.WithLabelValues(ShipmentConsumer, result).Inc()
	if err != nil {
		return fmt.Errorf("orders: shipment %s of %s: %w", e.Type, sh.OrderID, err)
	}
	return nil
}

// inTxRetrying runs fn in a transaction, again on a fresh read when a concurrent writer moved
// the order first (PostgreSQL), as Update does.
func (s *Service) inTxRetrying(ctx context.Context, fn func(tx *store.Tx) error) error {
	var err error
	for range 5 {
		if err = s.db.InTx(ctx, fn); !errors.Is(err, errChangedConcurrently) {
			return err
		}
	}
	return err
}
