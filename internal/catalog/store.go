package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// store.Querier is what reads need: the store's *sql.DB for plain reads, a *store.Tx inside writes.
const restaurantColumns = `id, owner_id, name, lat, lng, region, timezone, opens_minute, closes_minute, prep_minutes, menu_version, delivery_mode, carrier_fallback_seconds`

func scanRestaurant(sc interface{ Scan(...any) error }) (Restaurant, error) {
	var r Restaurant
	err := sc.Scan(&r.ID, &r.OwnerID, &r.Name, &r.Location.Lat, &r.Location.Lng, &r.Region, &r.Timezone,
		&r.OpensMinute, &r.ClosesMinute, &r.PrepMinutes, &r.MenuVersion, &r.DeliveryMode, &r.CarrierFallbackSeconds)
	return r, err
}

func getRestaurant(ctx context.Context, q store.Querier, id string) (Restaurant, error) {
	r, err := scanRestaurant(q.QueryRowContext(ctx,
		`SELECT `+restaurantColumns+` FROM restaurants WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Restaurant{}, ErrRestaurantNotFound
	}
	if err != nil {
		return Restaurant{}, fmt.Errorf("read restaurant: %w", err)
	}
	return r, nil
}

func queryRestaurants(ctx context.Context, q store.Querier, query string, args ...any) ([]Restaurant, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Restaurant
	for rows.Next() {
		r, err := scanRestaurant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// restaurantsAfter returns up to limit restaurants with IDs after after, in ID order.
func restaurantsAfter(ctx context.Context, q store.Querier, after string, limit int) ([]Restaurant, error) {
	return queryRestaurants(ctx, q,
		`SELECT `+restaurantColumns+` FROM restaurants WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// restaurantsInBox returns up to limit restaurants inside b (using index restaurants_lat_lng),
// roughly nearest to c first by an equirectangular estimate, so that a truncated result keeps
// the nearest ones. (The estimate ignores the antimeridian; it only matters past limit.)
func restaurantsInBox(ctx context.Context, q store.Querier, c geo.LatLng, b box, limit int) ([]Restaurant, error) {
	k := math.Cos(c.Lat * math.Pi / 180) // shrinks longitude differences to ground distance
	return queryRestaurants(ctx, q, `SELECT `+restaurantColumns+` FROM restaurants
		WHERE lat BETWEEN $1 AND $2 AND lng BETWEEN $3 AND $4
		ORDER BY (lat - $5) * (lat - $5) + (lng - $6) * (lng - $6) * $7, id
		LIMIT $8`, b.minLat, b.maxLat, b.minLng, b.maxLng, c.Lat, c.Lng, k*k, limit)
}

// restaurantOwner returns the owner and menu version of restaurant id, if it exists.
func restaurantOwner(ctx context.Context, tx *store.Tx, id string) (owner string, version int64, found bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT owner_id, menu_version FROM restaurants WHERE id = $1`, id).
		Scan(&owner, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("read restaurant owner: %w", err)
	}
	return owner, version, true, nil
}

// insertRestaurant creates r; it fails with ErrConcurrentWrite when r.ID appeared meanwhile.
func insertRestaurant(ctx context.Context, tx *store.Tx, r Restaurant, now int64) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO restaurants
		(id, owner_id, name, lat, lng, region, timezone, opens_minute, closes_minute, prep_minutes, menu_version, created_at, updated_at,
		 delivery_mode, carrier_fallback_seconds)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $11, $12, $13)
		ON CONFLICT (id) DO NOTHING`,
		r.ID, r.OwnerID, r.Name, r.Location.Lat, r.Location.Lng, r.Region, r.Timezone,
		r.OpensMinute, r.ClosesMinute, r.PrepMinutes, now, deliveryMode(r), r.CarrierFallbackSeconds)
	return oneRow(res, err, "insert restaurant")
}

// updateRestaurant replaces r's fields, provided its owner is still prevOwner.
func updateRestaurant(ctx context.Context, tx *store.Tx, r Restaurant, prevOwner string, now int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE restaurants SET owner_id = $2, name = $3, lat = $4, lng = $5,
		region = $6, timezone = $7, opens_minute = $8, closes_minute = $9, prep_minutes = $10, updated_at = $11,
		delivery_mode = $13, carrier_fallback_seconds = $14
		WHERE id = $1 AND owner_id = $12`,
		r.ID, r.OwnerID, r.Name, r.Location.Lat, r.Location.Lng, r.Region, r.Timezone,
		r.OpensMinute, r.ClosesMinute, r.PrepMinutes, now, prevOwner, deliveryMode(r), r.CarrierFallbackSeconds)
	return oneRow(res, err, "update restaurant")
}

func oneRow(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n != 1 {
		return ErrConcurrentWrite
	}
	return nil
}

// bumpMenuVersion increments restaurant id's menu version and returns its owner. On
// PostgreSQL the update holds the row lock, serialising menu writers per restaurant.
func bumpMenuVersion(ctx context.Context, tx *store.Tx, id string, now int64) (string, error) {
	var owner string
	err := tx.QueryRowContext(ctx, `UPDATE restaurants SET menu_version = menu_version + 1, updated_at = $2
		WHERE id = $1 RETURNING owner_id`, id, now).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrRestaurantNotFound
	}
	if err != nil {
		return "", fmt.Errorf("bump menu version: %w", err)
	}
	return owner, nil
}

// upsertItemSQL writes an item; its WHERE keeps an item ID that belongs to another restaurant
// from being taken over. (Run through the transaction's own methods, it is prepared once per
// connection: by the store's statement cache on SQLite, by pgx on PostgreSQL.)
const upsertItemSQL = `INSERT INTO menu_items
	(id, restaurant_id, name, description, price, available, stock, position, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
		price = excluded.price, available = excluded.available, stock = excluded.stock,
		position = excluded.position, updated_at = excluded.updated_at
	WHERE menu_items.restaurant_id = excluded.restaurant_id`

// upsertItem writes it, reporting false when its ID belongs to another restaurant's item.
func upsertItem(ctx context.Context, tx *store.Tx, it Item, now int64) (bool, error) {
	res, err := tx.ExecContext(ctx, upsertItemSQL, it.ID, it.RestaurantID, it.Name, it.Description, it.Price,
		it.Available, stockValue(it.Stock), it.Position, now)
	if err != nil {
		return false, fmt.Errorf("upsert item %s: %w", it.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("upsert item %s: %w", it.ID, err)
	}
	return n == 1, nil
}

func getItem(ctx context.Context, q store.Querier, restaurantID, itemID string) (Item, error) {
	it := Item{RestaurantID: restaurantID}
	var stock sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT id, name, description, price, available, stock, position
		FROM menu_items WHERE id = $1 AND restaurant_id = $2`, itemID, restaurantID).
		Scan(&it.ID, &it.Name, &it.Description, &it.Price, &it.Available, &stock, &it.Position)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, ErrItemNotFound
	}
	if err != nil {
		return Item{}, fmt.Errorf("read item: %w", err)
	}
	it.Stock = stockPtr(stock)
	return it, nil
}

func updateItemStock(ctx context.Context, tx *store.Tx, it Item, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE menu_items SET available = $3, stock = $4, updated_at = $5
		WHERE id = $1 AND restaurant_id = $2`, it.ID, it.RestaurantID, it.Available, stockValue(it.Stock), now)
	if err != nil {
		return fmt.Errorf("update item %s: %w", it.ID, err)
	}
	return nil
}

// readMenu reads a restaurant's version and items in one statement, so the two agree.
func readMenu(ctx context.Context, q store.Querier, restaurantID string) (Menu, error) {
	rows, err := q.QueryContext(ctx, `SELECT r.menu_version, i.id, i.name, i.description, i.price,
			i.available, i.stock, i.position
		FROM restaurants r LEFT JOIN menu_items i ON i.restaurant_id = r.id
		WHERE r.id = $1 ORDER BY i.position, i.id`, restaurantID)
	if err != nil {
		return Menu{}, fmt.Errorf("read menu: %w", err)
	}
	defer rows.Close()
	m := Menu{RestaurantID: restaurantID, Items: []Item{}}
	found := false
	for rows.Next() {
		found = true
		var (
			id, name, desc   sql.NullString
			price, stock, at sql.NullInt64
			available        sql.NullBool
		)
		if err := rows.Scan(&m.Version, &id, &name, &desc, &price, &available, &stock, &at); err != nil {
			return Menu{}, fmt.Errorf("read menu: %w", err)
		}
		if !id.Valid { // the restaurant has no items
			continue
		}
		m.Items = append(m.Items, Item{
			ID: id.String, RestaurantID: restaurantID, Name: name.String, Description: desc.String,
			Price: price.Int64, Available: available.Bool, Stock: stockPtr(stock), Position: int(at.Int64),
		})
	}
	if err := rows.Err(); err != nil {
		return Menu{}, fmt.Errorf("read menu: %w", err)
	}
	if !found {
		return Menu{}, ErrRestaurantNotFound
	}
	return m, nil
}

func stockValue(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

func stockPtr(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	n := int(v.Int64)
	return &n
}

// deliveryMode is r's delivery mode as stored: "courier" unless set.
func deliveryMode(r Restaurant) string {
	if r.DeliveryMode == "" {
		return "courier"
	}
	return r.DeliveryMode
}
