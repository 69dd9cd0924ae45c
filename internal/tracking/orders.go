package tracking

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/store"
)

// errNoOrder is returned by readOrder for an order that does not exist.
var errNoOrder = errors.New("tracking: no such order")

// orderView is what a watcher needs of an order's row: the store's truth the stream converges
// on.
type orderView struct {
	customerID string
	status     string
	version    int64 // orders.version: 1 at placement, one more per transition
	updatedAt  time.Time
	courierID  string // courier carrying the order, or ""
}

// readOrder reads one order and the courier carrying it, in one single-row query. The orders
// and deliveries tables belong to other services; tracking only reads them.
func (s *Service) readOrder(ctx context.Context, orderID string) (orderView, error) {
	var v orderView
	var updated int64
	var courier sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT o.customer_id, o.status, o.version, o.updated_at, d.courier_id
		FROM orders o LEFT JOIN deliveries d ON d.order_id = o.id AND d.status IN ('assigned', 'picked_up')
		WHERE o.id = $1`, orderID).Scan(&v.customerID, &v.status, &v.version, &updated, &courier)
	if errors.Is(err, sql.ErrNoRows) {
		return orderView{}, errNoOrder
	}
	if err != nil {
		return orderView{}, fmt.Errorf("tracking: read order %s: %w", orderID, err)
	}
	v.updatedAt, v.courierID = store.Time(updated), courier.String
	return v, nil
}
