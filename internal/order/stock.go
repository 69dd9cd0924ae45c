package order

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// Stock is taken at placement and given back, exactly once, when the order ends before pickup.
// What an order took is recorded in stock_reservations, one row per (order, menu item), so what
// goes back is what was taken, whatever the owner did to the item's stock in between: an item
// that was unlimited when the order was placed (even if limited a moment later) took nothing
// and gives nothing back, and an item made unlimited since stays unlimited. Locks are taken in
// one order: the restaurant's row first, as catalog's menu writes do, then items in ID order,
// so PostgreSQL sees no deadlocks between checkouts, releases and menu edits.

// take is what one order takes from one item's stock.
type take struct {
	itemID   string
	line     int // first line naming the item, for error locations
	quantity int
}

// takeStock takes each of takes from menu_items, refusing the order if any item has too little
// left. The restaurant's menu version is bumped first: stock is part of the menu clients cache,
// and the bump takes the restaurant's row lock before any item's.
func takeStock(ctx context.Context, tx *store.Tx, restaurantID string, takes []take, menu map[string]menuItem, now time.Time) error {
	if len(takes) == 0 {
		return nil
	}
	if err := bumpMenuVersion(ctx, tx, restaurantID, now); err != nil {
		return err
	}
	for _, t := range takes {
		res, err := tx.ExecContext(ctx,
			`UPDATE menu_items SET stock = stock - $1, updated_at = $2 WHERE id = $3 AND stock >= $4`,
			t.quantity, store.Now(now), t.itemID, t.quantity)
		if err != nil {
			return fmt.Errorf("take stock of %s: %w", t.itemID, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fault.Field(fmt.Sprintf("body.items[%d].quantity", t.line), nil, "not enough %s left", menu[t.itemID].name)
		}
	}
	return nil
}

// stockTakes sums o's lines per item whose stock is limited, in item ID order.
func stockTakes(o Order, menu map[string]menuItem) []take {
	var takes []take
	at := map[string]int{}
	for i, it := range o.Items {
		if !menu[it.MenuItemID].stock.Valid {
			continue
		}
		if j, ok := at[it.MenuItemID]; ok {
			takes[j].quantity += it.Quantity
			continue
		}
		at[it.MenuItemID] = len(takes)
		takes = append(takes, take{itemID: it.MenuItemID, line: i, quantity: it.Quantity})
	}
	slices.SortFunc(takes, byItem)
	return takes
}

func byItem(a, b take) int { return strings.Compare(a.itemID, b.itemID) }

// reserve records what order id took, so that exactly that can be given back.
func reserve(ctx context.Context, tx *store.Tx, id string, takes []take, now time.Time) error {
	for _, t := range takes {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO stock_reservations (order_id, menu_item_id, quantity, taken_at) VALUES ($1, $2, $3, $4)`,
			id, t.itemID, t.quantity, store.Now(now)); err != nil {
			return fmt.Errorf("record stock taken by %s: %w", id, err)
		}
	}
	return nil
}

// releasesStock reports whether an order moving from -> to gives its stock back: it ends
// (cancelled, rejected, failed) before a courier picked it up.
func releasesStock(from, to Status) bool {
	switch from {
	case PickedUp, Delivered:
		return false
	}
	return to == Cancelled || to == Rejected || to == Failed
}

// releaseStock gives back what order id took and has not given back yet. Marking the
// reservations released is the guard: the UPDATE claims only unreleased rows (on PostgreSQL a
// concurrent release waits for the row lock and then finds them released), and only what it
// claimed is added back, in the same transaction. Retries, redelivered events and concurrent
// cancels therefore give stock back once. An item whose stock was made unlimited since gets
// nothing added (NULL stays NULL), but its reservation is released all the same.
func releaseStock(ctx context.Context, tx *store.Tx, id, restaurantID string, at time.Time) error {
	rows, err := tx.QueryContext(ctx,
		`UPDATE stock_reservations SET released_at = $1 WHERE order_id = $2 AND released_at IS NULL
		 RETURNING menu_item_id, quantity`, store.Now(at), id)
	if err != nil {
		return fmt.Errorf("release stock of %s: %w", id, err)
	}
	var takes []take
	for rows.Next() {
		var t take
		if err := rows.Scan(&t.itemID, &t.quantity); err != nil {
			rows.Close()
			return fmt.Errorf("scan stock reservation: %w", err)
		}
		takes = append(takes, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("release stock of %s: %w", id, err)
	}
	if len(takes) == 0 {
		return nil
	}
	slices.SortFunc(takes, byItem)
	if err := bumpMenuVersion(ctx, tx, restaurantID, at); err != nil {
		return err
	}
	for _, t := range takes {
		if _, err := tx.ExecContext(ctx,
			`UPDATE menu_items SET stock = stock + $1, updated_at = $2 WHERE id = $3 AND stock IS NOT NULL`,
			t.quantity, store.Now(at), t.itemID); err != nil {
			return fmt.Errorf("give back stock of %s: %w", t.itemID, err)
		}
	}
	return nil
}

// bumpMenuVersion invalidates cached menus of restaurant id (see the catalog package).
func bumpMenuVersion(ctx context.Context, tx *store.Tx, id string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE restaurants SET menu_version = menu_version + 1, updated_at = $1 WHERE id = $2`,
		store.Now(at), id); err != nil {
		return fmt.Errorf("bump menu version: %w", err)
	}
	return nil
}
