package store_test

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestStockReservationsBackfill migrates a store with orders in flight from the first schema:
// every open order gets a reservation for the lines whose item's stock is limited (summed per
// item), so it can give that stock back; ended orders and unlimited items get none.
func TestStockReservationsBackfill(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := tiffintest.DSN(t, d)
			raw, gd := openRaw(t, d, dsn)
			p, err := goose.NewProvider(gd, raw, os.DirFS("migrations/"+string(d)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, 1); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at)
				 VALUES ('r-1', 'owner-1', 'Dosa Corner', 12.97, 77.59, 'reg', 0, 0)`,
				`INSERT INTO menu_items (id, restaurant_id, name, price, stock, updated_at)
				 VALUES ('laddu', 'r-1', 'Laddu', 2000, 6, 0), ('thali', 'r-1', 'Thali', 25000, NULL, 0)`,
				`INSERT INTO orders (id, customer_id, restaurant_id, region, status, subtotal, delivery_fee, total,
				  currency, delivery_lat, delivery_lng, placed_by, created_at, updated_at)
				 VALUES ('o-placed', 'c', 'r-1', 'reg', 'placed', 0, 0, 0, 'INR', 12.95, 77.6, 'test', 5, 5),
				        ('o-ready', 'c', 'r-1', 'reg', 'ready', 0, 0, 0, 'INR', 12.95, 77.6, 'test', 6, 6),
				        ('o-delivered', 'c', 'r-1', 'reg', 'delivered', 0, 0, 0, 'INR', 12.95, 77.6, 'test', 7, 7),
				        ('o-cancelled', 'c', 'r-1', 'reg', 'cancelled', 0, 0, 0, 'INR', 12.95, 77.6, 'test', 8, 8)`,
				`INSERT INTO order_items (order_id, line, menu_item_id, name, unit_price, quantity)
				 VALUES ('o-placed', 1, 'laddu', 'Laddu', 2000, 2), ('o-placed', 2, 'thali', 'Thali', 25000, 1),
				        ('o-placed', 3, 'laddu', 'Laddu', 2000, 3), ('o-ready', 1, 'laddu', 'Laddu', 2000, 1),
				        ('o-delivered', 1, 'laddu', 'Laddu', 2000, 4), ('o-cancelled', 1, 'laddu', 'Laddu', 2000, 4)`,
			} {
				if _, err := raw.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			raw.Close()

			db, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatalf("migrate a store with orders in flight: %v", err)
			}
			defer db.Close()
			rows, err := db.QueryContext(ctx, `SELECT order_id, menu_item_id, quantity, taken_at, released_at IS NULL
				FROM stock_reservations ORDER BY order_id, menu_item_id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			type reservation struct {
				Order, Item     string
				Quantity, Taken int64
				Held            bool
			}
			var got []reservation
			for rows.Next() {
				var r reservation
				if err := rows.Scan(&r.Order, &r.Item, &r.Quantity, &r.Taken, &r.Held); err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			want := []reservation{{"o-placed", "laddu", 5, 5, true}, {"o-ready", "laddu", 1, 6, true}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("reservations after migrating (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMigrationOutOfOrder applies the migrations with one numbered in a gap left out (as a
// store migrated on a branch before another branch's lower-numbered migration lands), then
// opens the store, which must apply the one left out instead of refusing it.
func TestMigrationOutOfOrder(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := tiffintest.DSN(t, d)
			raw, gd := openRaw(t, d, dsn)
			defer raw.Close()
			// Every migration but 00013, the last one below 00015 on this branch.
			all := os.DirFS("migrations/" + string(d))
			entries, err := fs.ReadDir(all, ".")
			if err != nil {
				t.Fatal(err)
			}
			without := fstest.MapFS{}
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), "00013_") {
					continue
				}
				b, err := fs.ReadFile(all, e.Name())
				if err != nil {
					t.Fatal(err)
				}
				without[e.Name()] = &fstest.MapFile{Data: b}
			}
			p, err := goose.NewProvider(gd, raw, without)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Up(ctx); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatalf("open a store missing a lower migration: %v", err)
			}
			defer db.Close()
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM offers`).Scan(&n); err != nil {
				t.Errorf("the migration left out was not applied: %v", err)
			}
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n); err != nil {
				t.Errorf("accounts: %v", err)
			}
		})
	}
}

// openRaw opens dsn without migrating it, and names the goose dialect of d.
func openRaw(t *testing.T, d store.Dialect, dsn string) (*sql.DB, goose.Dialect) {
	t.Helper()
	driver, gd := "pgx", goose.DialectPostgres
	if d == store.SQLite {
		driver, gd = "sqlite", goose.DialectSQLite3
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return raw, gd
}
