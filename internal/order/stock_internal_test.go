package order

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// TestReleaseStockOnce races releases of one order's reservations in separate transactions,
// without the order's version check that normally serialises them: the conditional update
// alone lets exactly one give the stock back.
func TestReleaseStockOnce(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := tiffintest.NewStoreOn(t, d)
			err := db.InTx(ctx, func(tx *store.Tx) error {
				for _, q := range []string{
					`INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at)
					 VALUES ('r-1', 'owner-1', 'Dosa Corner', 12.97, 77.59, 'reg', 0, 0)`,
					`INSERT INTO menu_items (id, restaurant_id, name, price, stock, updated_at)
					 VALUES ('laddu', 'r-1', 'Laddu', 2000, 6, 0), ('vada', 'r-1', 'Vada', 3500, 0, 0)`,
					`INSERT INTO orders (id, customer_id, restaurant_id, region, status, subtotal, delivery_fee, total,
					  currency, delivery_lat, delivery_lng, placed_by, created_at, updated_at)
					 VALUES ('ord-1', 'cust-1', 'r-1', 'reg', 'cancelled', 0, 0, 0, 'INR', 12.95, 77.6, 'test', 0, 0)`,
				} {
					if _, err := tx.ExecContext(ctx, q); err != nil {
						return err
					}
				}
				return reserve(ctx, tx, "ord-1", []take{{itemID: "laddu", quantity: 4}, {itemID: "vada", quantity: 10}}, time.Unix(0, 0))
			})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					err := db.InTx(ctx, func(tx *store.Tx) error {
						return releaseStock(ctx, tx, "ord-1", "r-1", time.Unix(1, 0))
					})
					if err != nil {
						t.Errorf("release: %v", err)
					}
				})
			}
			wg.Wait()
			for item, want := range map[string]int{"laddu": 10, "vada": 10} {
				var got int
				if err := db.QueryRow(`SELECT stock FROM menu_items WHERE id = $1`, item).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s: got stock %d, want %d", item, got, want)
				}
			}
		})
	}
}
