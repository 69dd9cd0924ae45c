package order

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Update loads order id in a write transaction, lets change move it (through checkMove) and
// saves the result with its history row and event. change returns errNoChange when the order
// is already where the caller wanted it, which makes retried requests harmless.
//
// On PostgreSQL two requests can read the same version at once; the loser's write finds the
// version moved (errChangedConcurrently) and is retried on a fresh read, so concurrent
// identical requests (eight cancels of one order) all answer with the moved order.
func (s *Service) Update(ctx context.Context, id, actor string, change func(tx *store.Tx, o *Order) error) (Order, error) {
	var out Order
	var err error
	for range 5 {
		err = s.db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			out, err = s.updateTx(ctx, tx, id, actor, change)
			return err
		})
		if !errors.Is(err, errChangedConcurrently) {
			break
		}
	}
	return out, err
}

// updateTx is Update inside a transaction the caller owns.
func (s *Service) updateTx(ctx context.Context, tx *store.Tx, id, actor string, change func(tx *store.Tx, o *Order) error) (Order, error) {
	o, err := load(ctx, tx, id)
	if err != nil {
		return Order{}, err
	}
	from := o.Status
	if err := change(tx, &o); err != nil {
		if errors.Is(err, errNoChange) {
			return o, nil
		}
		return Order{}, err
	}
	if err := checkMove(from, o.Status); err != nil {
		return Order{}, err
	}
	if err := s.save(ctx, tx, &o, from, actor, s.cfg.Now()); err != nil {
		return Order{}, err
	}
	if strings.HasPrefix(actor, string(auth.Ops)+":") {
		// An operator moved someone else's order: the audit log says who, what and when.
		if err := audit.Record(ctx, tx, actor, "order."+string(o.Status), "order:"+o.ID,
			map[string]string{"from": string(from)}, o.UpdatedAt); err != nil {
			return Order{}, err
		}
	}
	o.History = append(o.History, Transition{Status: o.Status, Actor: actor, At: o.UpdatedAt})
	return o, nil
}

var errNoChange = errors.New("order already in the wanted status")

// moveTo is a change that moves to status to, or is a no-op if the order is already there.
func moveTo(o *Order, to Status) error {
	if o.Status == to {
		return errNoChange
	}
	o.Status = to
	o.DeadlineAt = timeZero
	return nil
}

// RestaurantAction is what a restaurant does to an order.
type RestaurantAction string

// The restaurant's actions.
const (
	Accept        RestaurantAction = "accept"
	Reject        RestaurantAction = "reject"
	MarkPreparing RestaurantAction = "preparing"
	MarkReady     RestaurantAction = "ready"
)

var restaurantTarget = map[RestaurantAction]Status{
	Accept: Accepted, Reject: Rejected, MarkPreparing: Preparing, MarkReady: Ready,
}

// Restaurant applies a restaurant's action to order id. Only the owner of the order's
// restaurant (or ops) may act. A rejection gives the customer's money back (the payment saga
// voids or refunds it).
func (s *Service) Restaurant(ctx context.Context, p auth.Principal, id string, action RestaurantAction, reason string) (Order, error) {
	to, ok := restaurantTarget[action]
	if !ok {
		return Order{}, fault.Errorf(ErrInvalidTransition, "unknown restaurant action %q", action)
	}
	return s.Update(ctx, id, actorOf(p), func(tx *store.Tx, o *Order) error {
		if err := s.authorizeRestaurant(ctx, tx, p, *o); err != nil {
			return err
		}
		if err := moveTo(o, to); err != nil {
			return err
		}
		if to == Rejected {
			o.Reason = reasonOr(reason, "rejected by the restaurant")
		}
		return nil
	})
}

func (s *Service) authorizeRestaurant(ctx context.Context, q store.Querier, p auth.Principal, o Order) error {
	if p.Role == auth.Ops {
		return nil
	}
	if p.Role == auth.Restaurant {
		ok, err := ownsRestaurant(ctx, q, p.Subject, o.RestaurantID)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return ErrNotFound
}

// CourierAction is what a courier does to the order it carries.
type CourierAction string

// The courier's actions.
const (
	PickUp  CourierAction = "picked-up"
	Deliver CourierAction = "delivered"
)

// Courier applies the assigned courier's action to order id.
func (s *Service) Courier(ctx context.Context, p auth.Principal, id string, action CourierAction) (Order, error) {
	to := PickedUp
	if action == Deliver {
		to = Delivered
	}
	return s.Update(ctx, id, actorOf(p), func(tx *store.Tx, o *Order) error {
		if p.Role != auth.Ops {
			var courier sql.NullString
			var status string
			err := tx.QueryRowContext(ctx, `SELECT courier_id, status FROM deliveries WHERE order_id = $1`, o.ID).Scan(&courier, &status)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && courier.String != p.Subject) {
				return ErrNotFound
			}
			if err != nil {
				return fmt.Errorf("read delivery of %s: %w", o.ID, err)
			}
			if status == "cancelled" {
				return fault.New(ErrInvalidTransition, "the delivery was cancelled")
			}
		}
		return moveTo(o, to)
	})
}

// Cancel cancels order id for its customer or ops, before pickup. The payment saga gives the
// money back: it voids an authorization, refunds a capture, and voids a charge still in flight
// once it lands. Cancelling a cancelled order answers with the order unchanged.
func (s *Service) Cancel(ctx context.Context, p auth.Principal, id, reason string) (Order, error) {
	return s.Update(ctx, id, actorOf(p), func(tx *store.Tx, o *Order) error {
		if !(p.Role == auth.Ops || (p.Role == auth.Customer && o.CustomerID == p.Subject)) {
			return ErrNotFound
		}
		if err := moveTo(o, Cancelled); err != nil {
			return err
		}
		o.Reason = reasonOr(reason, "cancelled by "+string(p.Role))
		return nil
	})
}

func actorOf(p auth.Principal) string { return string(p.Role) + ":" + p.Subject }

func reasonOr(reason, fallback string) string {
	if reason == "" {
		return fallback
	}
	return reason
}
