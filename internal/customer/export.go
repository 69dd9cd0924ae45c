package customer

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Export is everything tiffin holds about one customer: GET /v1/customers/me/export.
type Export struct {
	Customer      Customer             `json:"customer"`
	ErasedAt      *time.Time           `json:"erased_at,omitempty" doc:"When the customer's personal data was erased; absent if never."`
	Orders        []ExportOrder        `json:"orders"`
	Notifications []ExportNotification `json:"notifications"`
}

// ExportOrder is one of the customer's orders as exported.
type ExportOrder struct {
	ID           string             `json:"id"`
	Status       string             `json:"status"`
	RestaurantID string             `json:"restaurant_id"`
	Items        []ExportItem       `json:"items"`
	Subtotal     int64              `json:"subtotal"`
	DeliveryFee  int64              `json:"delivery_fee"`
	Total        int64              `json:"total"`
	Currency     string             `json:"currency"`
	Fulfilment   string             `json:"fulfilment"`
	Delivery     *ExportPoint       `json:"delivery,omitempty" doc:"The drop-off point; absent once erased."`
	Address      json.RawMessage    `json:"address,omitempty" doc:"A carrier order's postal address; absent once erased."`
	Reason       string             `json:"reason,omitempty"`
	PlacedBy     string             `json:"placed_by" doc:"customer, or support when an operator placed it."`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
	History      []ExportTransition `json:"history"`
}

// ExportItem is one line of an exported order.
type ExportItem struct {
	MenuItemID string `json:"menu_item_id"`
	Name       string `json:"name"`
	UnitPrice  int64  `json:"unit_price"`
	Quantity   int    `json:"quantity"`
}

// ExportPoint is a position.
type ExportPoint struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// ExportTransition is one entry of an exported order's history.
type ExportTransition struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

// ExportNotification is one notice of the customer's in-app inbox.
type ExportNotification struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	OrderID   string    `json:"order_id,omitempty"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// Export returns everything held about the customer p: its profile, its orders (with items and
// history) and its in-app notifications. Only a customer exports, and only itself.
func (s *Service) Export(ctx context.Context, p auth.Principal) (Export, error) {
	if p.Role != auth.Customer {
		return Export{}, ErrNotFound
	}
	x := Export{Customer: Customer{ID: p.Subject}, Orders: []ExportOrder{}, Notifications: []ExportNotification{}}
	err := s.db.Do(ctx, func(ctx context.Context) error {
		c, err := get(ctx, s.db, p.Subject, false)
		switch {
		case err == nil:
			x.Customer = c
		case err != ErrNotFound:
			return err
		}
		var erased sql.NullInt64
		if err == nil {
			if err := s.db.QueryRowContext(ctx, `SELECT erased_at FROM customers WHERE id = $1`, p.Subject).Scan(&erased); err != nil {
				return fmt.Errorf("read erasure: %w", err)
			}
		}
		if erased.Valid {
			at := store.Time(erased.Int64)
			x.ErasedAt = &at
		}
		if x.Orders, err = exportOrders(ctx, s.db, p.Subject, erased.Valid); err != nil {
			return err
		}
		x.Notifications, err = exportNotifications(ctx, s.db, "customer:"+p.Subject)
		return err
	})
	if err != nil {
		return Export{}, fmt.Errorf("export customer %s: %w", p.Subject, err)
	}
	return x, nil
}

func exportOrders(ctx context.Context, q store.Querier, id string, erased bool) ([]ExportOrder, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, status, restaurant_id, subtotal, delivery_fee, total, currency,
		fulfilment, delivery_lat, delivery_lng, delivery_address, reason, placed_by, created_at, updated_at
		FROM orders WHERE customer_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("export orders: %w", err)
	}
	out := []ExportOrder{}
	for rows.Next() {
		var o ExportOrder
		var at ExportPoint
		var address string
		var created, updated int64
		if err := rows.Scan(&o.ID, &o.Status, &o.RestaurantID, &o.Subtotal, &o.DeliveryFee, &o.Total, &o.Currency,
			&o.Fulfilment, &at.Lat, &at.Lng, &address, &o.Reason, &o.PlacedBy, &created, &updated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("export orders: %w", err)
		}
		if !erased {
			o.Delivery = &at
			if address != "" {
				o.Address = json.RawMessage(address)
			}
		}
		if strings.HasPrefix(o.PlacedBy, string(auth.Ops)+":") {
			o.PlacedBy = "support" // which operator stays with ops
		} else {
			o.PlacedBy = "customer"
		}
		o.CreatedAt, o.UpdatedAt = store.Time(created), store.Time(updated)
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("export orders: %w", err)
	}
	for i := range out {
		o := &out[i]
		o.Items, o.History = []ExportItem{}, []ExportTransition{}
		rows, err := q.QueryContext(ctx, `SELECT menu_item_id, name, unit_price, quantity FROM order_items WHERE order_id = $1 ORDER BY line`, o.ID)
		if err != nil {
			return nil, fmt.Errorf("export order items: %w", err)
		}
		for rows.Next() {
			var it ExportItem
			if err := rows.Scan(&it.MenuItemID, &it.Name, &it.UnitPrice, &it.Quantity); err != nil {
				rows.Close()
				return nil, fmt.Errorf("export order items: %w", err)
			}
			o.Items = append(o.Items, it)
		}
		rows.Close()
		rows, err = q.QueryContext(ctx, `SELECT status, at FROM order_transitions WHERE order_id = $1 ORDER BY seq`, o.ID)
		if err != nil {
			return nil, fmt.Errorf("export order history: %w", err)
		}
		for rows.Next() {
			var t ExportTransition
			var at int64
			if err := rows.Scan(&t.Status, &at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("export order history: %w", err)
			}
			t.At = store.Time(at)
			o.History = append(o.History, t)
		}
		rows.Close()
	}
	return out, nil
}

func exportNotifications(ctx context.Context, q store.Querier, recipient string) ([]ExportNotification, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, kind, order_id, title, body, created_at FROM notifications
		WHERE recipient = $1 ORDER BY id`, recipient)
	if err != nil {
		return nil, fmt.Errorf("export notifications: %w", err)
	}
	defer rows.Close()
	out := []ExportNotification{}
	for rows.Next() {
		var n ExportNotification
		var created int64
		if err := rows.Scan(&n.ID, &n.Kind, &n.OrderID, &n.Title, &n.Body, &created); err != nil {
			return nil, fmt.Errorf("export notifications: %w", err)
		}
		n.CreatedAt = store.Time(created)
		out = append(out, n)
	}
	return out, rows.Err()
}
