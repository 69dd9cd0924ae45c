package order

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/cache"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// store.Querier is what both *store.DB (reads) and *store.Tx (reads inside a write) offer.
const orderColumns = `o.id, o.customer_id, o.restaurant_id, o.region, o.status, o.subtotal, o.delivery_fee,
	o.total, o.currency, o.delivery_lat, o.delivery_lng, o.placed_by, o.reason, o.version, o.created_at,
	o.updated_at, o.deadline_at, d.courier_id, r.owner_id, o.fulfilment, o.delivery_address, d.planned_pickup_at`

const orderFrom = ` FROM orders o LEFT JOIN deliveries d ON d.order_id = o.id
	AND d.status IN ('assigned', 'at_restaurant', 'picked_up', 'at_customer', 'delivered')
	LEFT JOIN restaurants r ON r.id = o.restaurant_id`

type rowScanner interface{ Scan(dest ...any) error }

func scanOrder(r rowScanner) (Order, error) {
	var o Order
	var created, updated int64
	var deadline, pickup sql.NullInt64
	var courier, owner sql.NullString
	var status, address string
	err := r.Scan(&o.ID, &o.CustomerID, &o.RestaurantID, &o.Region, &status, &o.Subtotal, &o.DeliveryFee,
		&o.Total, &o.Currency, &o.Delivery.Lat, &o.Delivery.Lng, &o.PlacedBy, &o.Reason, &o.Version, &created,
		&updated, &deadline, &courier, &owner, &o.Fulfilment, &address, &pickup)
	if err != nil {
		return Order{}, err
	}
	if address != "" {
		o.Address = new(Address)
		if err := json.Unmarshal([]byte(address), o.Address); err != nil {
			return Order{}, fmt.Errorf("order %s: delivery address: %w", o.ID, err)
		}
	}
	o.Status, o.CreatedAt, o.UpdatedAt, o.CourierID = Status(status), store.Time(created), store.Time(updated), courier.String
	o.owner = owner.String
	if deadline.Valid {
		o.DeadlineAt = store.Time(deadline.Int64)
	}
	if pickup.Valid {
		o.PickupAt = store.Time(pickup.Int64)
	}
	return o, nil
}

// load reads one order with its items and history.
func load(ctx context.Context, q store.Querier, id string) (Order, error) {
	o, err := scanOrder(q.QueryRowContext(ctx, `SELECT `+orderColumns+orderFrom+` WHERE o.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, ErrNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("load order %s: %w", id, err)
	}
	rows, err := q.QueryContext(ctx,
		`SELECT menu_item_id, name, unit_price, quantity FROM order_items WHERE order_id = $1 ORDER BY line`, id)
	if err != nil {
		return Order{}, fmt.Errorf("load order %s items: %w", id, err)
	}
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.MenuItemID, &it.Name, &it.UnitPrice, &it.Quantity); err != nil {
			rows.Close()
			return Order{}, fmt.Errorf("scan order item: %w", err)
		}
		o.Items = append(o.Items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Order{}, fmt.Errorf("load order %s items: %w", id, err)
	}
	rows, err = q.QueryContext(ctx, `SELECT status, actor, at FROM order_transitions WHERE order_id = $1 ORDER BY seq`, id)
	if err != nil {
		return Order{}, fmt.Errorf("load order %s history: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t Transition
		var status string
		var at int64
		if err := rows.Scan(&status, &t.Actor, &at); err != nil {
			return Order{}, fmt.Errorf("scan order transition: %w", err)
		}
		t.Status, t.At = Status(status), store.Time(at)
		o.History = append(o.History, t)
	}
	return o, rows.Err()
}

// visible reports whether p may see o, as read by load (or kept as a copy of that): its
// customer, the owner of its restaurant, its courier, or ops.
func visible(p auth.Principal, o Order) bool {
	switch p.Role {
	case auth.Ops:
		return true
	case auth.Customer:
		return o.CustomerID == p.Subject
	case auth.Courier:
		return o.CourierID != "" && o.CourierID == p.Subject
	case auth.Restaurant:
		return o.owner != "" && o.owner == p.Subject
	}
	return false
}

func ownsRestaurant(ctx context.Context, q store.Querier, owner, restaurantID string) (bool, error) {
	var got string
	err := q.QueryRowContext(ctx, `SELECT owner_id FROM restaurants WHERE id = $1`, restaurantID).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read restaurant owner: %w", err)
	}
	return got == owner, nil
}

// ListQuery selects a page of orders visible to a principal.
type ListQuery struct {
	Status       Status
	RestaurantID string
	Cursor       string
	Limit        int
}

// List returns a page of orders visible to p, newest first, and the cursor of the next page.
func (s *Service) List(ctx context.Context, p auth.Principal, q ListQuery) ([]Order, string, error) {
	if q.Limit <= 0 || q.Limit > 100 {
		q.Limit = 20
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	switch p.Role {
	case auth.Customer:
		where = append(where, "o.customer_id = "+arg(p.Subject))
	case auth.Restaurant:
		where = append(where, "o.restaurant_id IN (SELECT id FROM restaurants WHERE owner_id = "+arg(p.Subject)+")")
	case auth.Courier:
		where = append(where, "d.courier_id = "+arg(p.Subject))
	case auth.Ops:
	default:
		return nil, "", ErrForbidden
	}
	if q.Status != "" {
		where = append(where, "o.status = "+arg(string(q.Status)))
	}
	if q.RestaurantID != "" {
		where = append(where, "o.restaurant_id = "+arg(q.RestaurantID))
	}
	if q.Cursor != "" {
		where = append(where, "o.id < "+arg(q.Cursor))
	}
	query := `SELECT ` + orderColumns + orderFrom
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY o.id DESC LIMIT " + arg(q.Limit+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()
	var out []Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, "", fmt.Errorf("scan order: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list orders: %w", err)
	}
	next := ""
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// Get returns order id if p may see it; otherwise ErrNotFound, so existence doesn't leak.
// When the store can't be reached it answers from the last copy of the order read (marked
// Stale), checking who may see it on that copy; without a copy it fails with a fault.Down.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (Order, error) {
	c, stale, err := cache.Read(ctx, s.copies, orderKey(id), func(ctx context.Context) (orderCopy, int64, error) {
		var o Order
		err := s.db.Do(ctx, func(ctx context.Context) error {
			var err error
			o, err = load(ctx, s.db, id)
			return err
		})
		return orderCopy{Order: o, Owner: o.owner}, int64(o.Version), err
	})
	if err != nil {
		return Order{}, err
	}
	o := c.Order
	o.owner, o.Stale = c.Owner, stale
	if !visible(p, o) {
		return Order{}, ErrNotFound
	}
	return o, nil
}

// orderCopy is what is kept of an order read, to answer from while the store can't be
// reached: the order and its restaurant's owner, so visibility is checked on the copy too.
type orderCopy struct {
	Order Order
	Owner string
}

func orderKey(id string) string { return "order:" + id }

// errChangedConcurrently is save finding the order's version moved since it was read.
var errChangedConcurrently = fault.New(fault.Conflict, "the order changed concurrently, retry")

// save writes o's new status (and reason and deadline) after a legal transition, checks the
// version it was read at, gives back the stock the order took if it ended before pickup,
// appends the history row and emits the status event, all in tx. Every transition goes
// through here, so every path that ends an order releases its stock.
func (s *Service) save(ctx context.Context, tx *store.Tx, o *Order, from Status, actor string, at time.Time) error {
	var deadline any
	if !o.DeadlineAt.IsZero() {
		deadline = store.Now(o.DeadlineAt)
	}
	res, err := tx.ExecContext(ctx,
		`UPDATE orders SET status = $1, reason = $2, deadline_at = $3, updated_at = $4, version = version + 1
		 WHERE id = $5 AND version = $6`,
		string(o.Status), o.Reason, deadline, store.Now(at), o.ID, o.Version)
	if err != nil {
		return fmt.Errorf("update order %s: %w", o.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("update order %s: %w", o.ID, errChangedConcurrently)
	}
	o.Version++
	o.UpdatedAt = at
	if releasesStock(from, o.Status) {
		if err := releaseStock(ctx, tx, o.ID, o.RestaurantID, at); err != nil {
			return err
		}
	}
	if s.paymentTrigger(o.Status) {
		if err := markPaymentDue(ctx, tx, o.ID, at); err != nil {
			return err
		}
	}
	if err := appendHistory(ctx, tx, o.ID, o.Status, actor, at); err != nil {
		return err
	}
	payload := event.Order{
		OrderID: o.ID, CustomerID: o.CustomerID, RestaurantID: o.RestaurantID, Status: string(o.Status),
		PrevStatus: string(from), Total: o.Total, Currency: o.Currency, Reason: o.Reason, At: at,
		OrderVersion: int64(o.Version),
	}
	if err := tx.EmitNew(ctx, event.Type("order."+string(o.Status)), o.Region, at, payload); err != nil {
		return err
	}
	status, created := o.Status, o.CreatedAt
	tx.AfterCommit(func() {
		s.cfg.Metrics.Orders.WithLabelValues(string(status)).Inc()
		if status == Delivered {
			s.cfg.Metrics.ClickToDoor.Observe(at.Sub(created).Seconds())
		}
	})
	return nil
}

func appendHistory(ctx context.Context, tx *store.Tx, id string, st Status, actor string, at time.Time) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO order_transitions (order_id, seq, status, actor, at)
		 VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM order_transitions WHERE order_id = $2), $3, $4, $5)`,
		id, id, string(st), actor, store.Now(at))
	if err != nil {
		return fmt.Errorf("append order %s history: %w", id, err)
	}
	return nil
}
