package order_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/catalog"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/order"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// stockFixture is a restaurant (owner-1's r-1) with an unlimited thali and two dishes whose
// stock is limited: 10 laddus and 10 vadas. Payments are left to the service's default
// provider; the tests move orders with Service.Update where the payment path would.
type stockFixture struct {
	db  *store.DB
	svc *order.Service
}

func newStockFixture(t testing.TB, d store.Dialect, cfg order.Config) *stockFixture {
	t.Helper()
	db := tiffintest.NewStoreOn(t, d)
	if cfg.Now == nil {
		cfg.Now = tiffintest.NewClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)).Now
	}
	ctx := context.Background()
	mustExec(t, db, ctx, `INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at)
		VALUES ('r-1', 'owner-1', 'Dosa Corner', 12.9716, 77.5946, 'reg', 0, 0)`)
	mustExec(t, db, ctx, `INSERT INTO menu_items (id, restaurant_id, name, price, available, stock, updated_at)
		VALUES ('thali', 'r-1', 'Thali', 25000, $1, NULL, 0), ('laddu', 'r-1', 'Laddu', 2000, $2, 10, 0),
		       ('vada', 'r-1', 'Vada', 3500, $3, 10, 0)`, true, true, true)
	return &stockFixture{db: db, svc: order.New(db, nil, cfg)}
}

func (f *stockFixture) place(ctx context.Context, p auth.Principal, key string, items ...order.LineInput) (order.Order, error) {
	res, err := f.svc.Place(ctx, p, key, order.PlaceRequest{
		RestaurantID: "r-1", Items: items, Delivery: geo.LatLng{Lat: 12.95, Lng: 77.6},
	}, func(o order.Order) ([]byte, error) { return []byte(o.ID), nil })
	return res.Order, err
}

func (f *stockFixture) mustPlace(t testing.TB, key string, items ...order.LineInput) order.Order {
	t.Helper()
	o, err := f.place(context.Background(), customer, key, items...)
	if err != nil {
		t.Fatalf("place: %v", err)
	}
	return o
}

// stock returns item's stock, "unlimited" for NULL.
func (f *stockFixture) stock(t testing.TB, item string) string {
	t.Helper()
	var n sql.NullInt64
	if err := f.db.QueryRow(`SELECT stock FROM menu_items WHERE id = $1`, item).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if !n.Valid {
		return "unlimited"
	}
	return fmt.Sprint(n.Int64)
}

// move makes the transition the payment consumer or the reconciler makes, through Update.
func (f *stockFixture) move(ctx context.Context, id, actor string, to order.Status, reason string) error {
	_, err := f.svc.Update(ctx, id, actor, func(_ *store.Tx, o *order.Order) error {
		if o.Status == to {
			return nil // a redelivery: unchanged, which checkMove refuses as an invalid transition
		}
		o.Status, o.Reason = to, reason
		return nil
	})
	return err
}

func (f *stockFixture) mustMove(t testing.TB, id string, to ...order.Status) {
	t.Helper()
	for _, s := range to {
		if err := f.move(context.Background(), id, "test", s, ""); err != nil {
			t.Fatalf("move %s to %s: %v", id, s, err)
		}
	}
}

func line(item string, q int) order.LineInput { return order.LineInput{MenuItemID: item, Quantity: q} }

// TestStockGivenBackIsStockTaken is failure 4: an order gives back what it took, not what its
// lines say, whatever the owner did to the item's stock meanwhile.
func TestStockGivenBackIsStockTaken(t *testing.T) {
	stock := func(v int) *int { return &v }
	cases := []struct {
		name   string
		before string // laddu's stock when the order is placed
		put    bool   // the owner PUTs the item without stock (unlimited) afterwards
		sets   []*int // or PATCHes its stock, in turn, to each of these; nil is "stock": null (unlimited)
		want   string // after the cancel
	}{
		{"unlimited, then 10", "unlimited", false, []*int{stock(10)}, "10"},
		{"10, then restocked to 20", "10", false, []*int{stock(20)}, "24"},
		{"10, then unlimited", "10", true, nil, "unlimited"},
		{"10, then unlimited by a PATCH", "10", false, []*int{nil}, "unlimited"},
		{"10, then unlimited by a PATCH, then 5", "10", false, []*int{nil, stock(5)}, "9"},
	}
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				f := newStockFixture(t, d, order.Config{})
				if c.before == "unlimited" {
					mustExec(t, f.db, ctx, `UPDATE menu_items SET stock = NULL WHERE id = 'laddu'`)
				}
				o := f.mustPlace(t, "k", line("laddu", 4))
				menu := catalog.New(f.db, catalog.Config{})
				for _, v := range c.sets {
					if _, err := menu.PatchItem(ctx, owner, "r-1", "laddu", catalog.ItemPatch{SetStock: true, Stock: v}); err != nil {
						t.Fatal(err)
					}
				}
				if c.put {
					if _, err := menu.PutMenu(ctx, owner, "r-1", []catalog.ItemInput{{ID: "laddu", Name: "Laddu", Price: 2000}}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := f.svc.Cancel(ctx, customer, o.ID, ""); err != nil {
					t.Fatal(err)
				}
				if got := f.stock(t, "laddu"); got != c.want {
					t.Errorf("stock after the cancel: got %s, want %s", got, c.want)
				}
			})
		}
	})
}

// TestEveryEndBeforePickupReleasesStockOnce drives an order down each path that ends it before
// pickup, then repeats the end and tries the other ends, as retries and redelivered events
// would: the stock comes back exactly once. A delivered order keeps its stock.
func TestEveryEndBeforePickupReleasesStockOnce(t *testing.T) {
	type step func(ctx context.Context, f *stockFixture, id string) error
	cancelBy := func(p auth.Principal) step {
		return func(ctx context.Context, f *stockFixture, id string) error {
			_, err := f.svc.Cancel(ctx, p, id, "")
			return err
		}
	}
	reject := func(ctx context.Context, f *stockFixture, id string) error {
		_, err := f.svc.Restaurant(ctx, owner, id, order.Reject, "out of rice")
		return err
	}
	to := func(actor string, s order.Status, reason string) step {
		return func(ctx context.Context, f *stockFixture, id string) error { return f.move(ctx, id, actor, s, reason) }
	}
	deliver := func(ctx context.Context, f *stockFixture, id string) error {
		for _, a := range []order.CourierAction{order.PickUp, order.Deliver} {
			if _, err := f.svc.Courier(ctx, ops, id, a); err != nil {
				return err
			}
		}
		return nil
	}
	cases := []struct {
		name      string
		before    []order.Status
		end       step
		wantLaddu string
		wantVada  string
	}{
		{"customer cancels a placed order", nil, cancelBy(customer), "10", "10"},
		{"payment declined", nil, to("payments", order.Failed, "payment declined"), "10", "10"},
		{"payment given up", nil, to("reconciler", order.Failed, "payment timed out"), "10", "10"},
		{"restaurant rejects", []order.Status{order.Paid}, reject, "10", "10"},
		{"restaurant timeout", []order.Status{order.Paid}, to("reconciler", order.Cancelled, "the restaurant did not respond in time"), "10", "10"},
		{"ops cancels an accepted order", []order.Status{order.Paid, order.Accepted}, cancelBy(ops), "10", "10"},
		{"ops cancels while preparing", []order.Status{order.Paid, order.Accepted, order.Preparing}, cancelBy(ops), "10", "10"},
		{"customer cancels a ready order", []order.Status{order.Paid, order.Accepted, order.Ready}, cancelBy(customer), "10", "10"},
		{"delivered keeps its stock", []order.Status{order.Paid, order.Accepted, order.Ready}, deliver, "3", "8"},
	}
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				f := newStockFixture(t, d, order.Config{})
				// Two lines of laddu count as one take of 7.
				o := f.mustPlace(t, "k", line("laddu", 3), line("thali", 1), line("vada", 2), line("laddu", 4))
				if l, v := f.stock(t, "laddu"), f.stock(t, "vada"); l != "3" || v != "8" {
					t.Fatalf("after placement: got laddu %s vada %s, want 3 and 8", l, v)
				}
				f.mustMove(t, o.ID, c.before...)
				if err := c.end(ctx, f, o.ID); err != nil {
					t.Fatalf("end: %v", err)
				}
				// Retries, redeliveries and every other end: each is a no-op or refused.
				_ = c.end(ctx, f, o.ID)
				for _, again := range []step{cancelBy(customer), cancelBy(ops), reject,
					to("payments", order.Failed, ""), to("reconciler", order.Cancelled, "")} {
					if err := again(ctx, f, o.ID); err != nil && !errors.Is(err, order.ErrInvalidTransition) {
						t.Errorf("repeated end: got %v, want nil or ErrInvalidTransition", err)
					}
				}
				if l, v := f.stock(t, "laddu"), f.stock(t, "vada"); l != c.wantLaddu || v != c.wantVada {
					t.Errorf("stock: got laddu %s vada %s, want %s and %s", l, v, c.wantLaddu, c.wantVada)
				}
				if l := f.stock(t, "thali"); l != "unlimited" {
					t.Errorf("thali: got %s, want unlimited", l)
				}
			})
		}
	})
}

// TestConcurrentEndsReleaseOnce races 8 customer cancels, 8 ops cancels and 8 reconciler
// timeouts on one paid order: one wins, and the stock comes back once.
func TestConcurrentEndsReleaseOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newStockFixture(t, d, order.Config{})
		o := f.mustPlace(t, "k", line("laddu", 4))
		f.mustMove(t, o.ID, order.Paid)
		var wg sync.WaitGroup
		errs := make(chan error, 24)
		for range 8 {
			wg.Go(func() { _, err := f.svc.Cancel(ctx, customer, o.ID, ""); errs <- err })
			wg.Go(func() { _, err := f.svc.Cancel(ctx, ops, o.ID, ""); errs <- err })
			wg.Go(func() { errs <- f.move(ctx, o.ID, "reconciler", order.Cancelled, "timeout") })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !errors.Is(err, fault.Conflict) {
				t.Errorf("concurrent end: got %v, want nil or a conflict", err)
			}
		}
		if got := f.stock(t, "laddu"); got != "10" {
			t.Errorf("stock: got %s, want 10", got)
		}
	})
}

// TestLastUnitsConcurrentCheckouts is the target: 100 concurrent checkouts for the last 10
// units, exactly 10 succeed and the stock ends at 0; cancelling the 10 (each twice, at once)
// gives back exactly 10.
func TestLastUnitsConcurrentCheckouts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newStockFixture(t, d, order.Config{})
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			placed []string
			other  []error
		)
		for i := range 100 {
			wg.Go(func() {
				p := auth.Principal{Subject: fmt.Sprintf("cust-%d", i), Role: auth.Customer}
				o, err := f.place(ctx, p, "last-units", line("laddu", 1), line("thali", 1))
				mu.Lock()
				defer mu.Unlock()
				var fe *fault.FieldError
				switch {
				case err == nil:
					placed = append(placed, o.ID)
				case errors.As(err, &fe) && fe.Location == "body.items[0].quantity":
				default:
					other = append(other, err)
				}
			})
		}
		wg.Wait()
		for _, err := range other {
			t.Errorf("checkout: got %v, want success or not enough at body.items[0].quantity", err)
		}
		if len(placed) != 10 {
			t.Fatalf("checkouts placed: got %d, want 10", len(placed))
		}
		if got := f.stock(t, "laddu"); got != "0" {
			t.Fatalf("stock after the rush: got %s, want 0", got)
		}
		for _, id := range placed {
			for range 2 {
				wg.Go(func() {
					if _, err := f.svc.Cancel(ctx, ops, id, ""); err != nil && !errors.Is(err, fault.Conflict) {
						t.Errorf("cancel %s: %v", id, err)
					}
				})
			}
		}
		wg.Wait()
		if got := f.stock(t, "laddu"); got != "10" {
			t.Errorf("stock after cancelling the 10: got %s, want 10", got)
		}
	})
}
