package order_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/order"
	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

var (
	customer = auth.Principal{Subject: "cust-1", Role: auth.Customer}
	owner    = auth.Principal{Subject: "owner-1", Role: auth.Restaurant}
	ops      = auth.Principal{Subject: "ops-1", Role: auth.Ops}
)

type fixture struct {
	dsn   string
	db    *store.DB
	svc   *order.Service
	clock *tiffintest.Clock
	pay   *payment.Fake
}

func newFixture(t testing.TB, d store.Dialect, fake payment.FakeConfig) *fixture {
	t.Helper()
	dsn := tiffintest.DSN(t, d)
	db := tiffintest.OpenStore(t, dsn)
	c := tiffintest.NewClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	pay := payment.NewFake(db, fake)
	svc := order.New(db, nil, order.Config{Now: c.Now, Payments: pay, RestaurantTimeout: 5 * time.Minute})
	ctx := context.Background()
	mustExec(t, db, ctx, `INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at)
		VALUES ('r-1', 'owner-1', 'Dosa Corner', 12.9716, 77.5946, 'reg', 0, 0)`)
	mustExec(t, db, ctx, `INSERT INTO menu_items (id, restaurant_id, name, price, available, stock, updated_at)
		VALUES ('dosa', 'r-1', 'Masala dosa', 12000, $1, NULL, 0), ('coffee', 'r-1', 'Filter coffee', 4000, $2, 2, 0)`, true, true)
	return &fixture{dsn: dsn, db: db, svc: svc, clock: c, pay: pay}
}

func mustExec(t testing.TB, db *store.DB, ctx context.Context, q string, args ...any) {
	t.Helper()
	if err := db.InTx(ctx, func(tx *store.Tx) error { _, err := tx.ExecContext(ctx, q, args...); return err }); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) place(t testing.TB, key string, items ...order.LineInput) order.Order {
	t.Helper()
	if len(items) == 0 {
		items = []order.LineInput{{MenuItemID: "dosa", Quantity: 1}}
	}
	res, err := f.svc.Place(context.Background(), customer, key, order.PlaceRequest{
		RestaurantID: "r-1", Items: items, Delivery: geo.LatLng{Lat: 12.95, Lng: 77.6},
	}, func(o order.Order) ([]byte, error) { return []byte(o.ID), nil })
	if err != nil {
		t.Fatalf("place: %v", err)
	}
	return res.Order
}

func (f *fixture) status(t *testing.T, id string) order.Status {
	t.Helper()
	o, err := f.svc.Get(context.Background(), ops, id)
	if err != nil {
		t.Fatal(err)
	}
	return o.Status
}

func (f *fixture) paymentStatus(t *testing.T, id string) string {
	t.Helper()
	var s string
	if err := f.db.QueryRow(`SELECT status FROM payments WHERE order_id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func forEachBackend(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

func TestPaymentOutcomes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ok := newFixture(t, d, payment.FakeConfig{})
		o := ok.place(t, "k1")
		if err := ok.svc.SettlePayment(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if err := ok.svc.SettlePayment(ctx, o.ID); err != nil { // a redelivered order.placed is a no-op
			t.Fatal(err)
		}
		if got := ok.status(t, o.ID); got != order.Paid {
			t.Errorf("after payment: got %s, want paid", got)
		}
		if got := ok.paymentStatus(t, o.ID); got != "authorized" {
			t.Errorf("payment: got %s, want authorized", got)
		}

		declined := newFixture(t, d, payment.FakeConfig{DeclineRate: 1})
		o = declined.place(t, "k1")
		if err := declined.svc.SettlePayment(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if got := declined.status(t, o.ID); got != order.Failed {
			t.Errorf("declined: got %s, want failed", got)
		}

	})
}

// TestReconcilerChargesLostPlacements is the "lost event" case: nobody consumed order.placed,
// and the reconciler charges the order once its deadline passes.
func TestReconcilerChargesLostPlacements(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, payment.FakeConfig{})
		o := f.place(t, "k1")
		f.svc.Reconcile(context.Background())
		if got := f.status(t, o.ID); got != order.Placed {
			t.Fatalf("before the deadline: got %s, want placed", got)
		}
		f.clock.Advance(11 * time.Second)
		if err := f.svc.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := f.status(t, o.ID); got != order.Paid {
			t.Errorf("after the deadline: got %s, want paid", got)
		}
	})
}

func TestRestaurantTimeoutRefunds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		o := f.place(t, "k1")
		f.svc.SettlePayment(ctx, o.ID)
		f.clock.Advance(4 * time.Minute)
		f.svc.Reconcile(ctx)
		if got := f.status(t, o.ID); got != order.Paid {
			t.Fatalf("before the restaurant timeout: got %s, want paid", got)
		}
		f.clock.Advance(2 * time.Minute)
		if err := f.svc.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if got := f.status(t, o.ID); got != order.Cancelled {
			t.Errorf("after the restaurant timeout: got %s, want cancelled", got)
		}
		if got := f.paymentStatus(t, o.ID); got != "voided" {
			t.Errorf("payment: got %s, want voided", got)
		}
	})
}

func TestWhoMayMoveAnOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		o := f.place(t, "k1")
		stranger := auth.Principal{Subject: "owner-2", Role: auth.Restaurant}
		if _, err := f.svc.Restaurant(ctx, owner, o.ID, order.Accept, ""); !errors.Is(err, order.ErrInvalidTransition) {
			t.Errorf("accept before payment: got %v, want ErrInvalidTransition", err)
		}
		f.svc.SettlePayment(ctx, o.ID)
		if _, err := f.svc.Restaurant(ctx, stranger, o.ID, order.Accept, ""); !errors.Is(err, fault.NotFound) {
			t.Errorf("another restaurant accepts: got %v, want not found", err)
		}
		other := auth.Principal{Subject: "cust-2", Role: auth.Customer}
		if _, err := f.svc.Get(ctx, other, o.ID); !errors.Is(err, order.ErrNotFound) {
			t.Errorf("another customer reads: got %v, want ErrNotFound", err)
		}
		if _, err := f.svc.Cancel(ctx, other, o.ID, ""); !errors.Is(err, order.ErrNotFound) {
			t.Errorf("another customer cancels: got %v, want ErrNotFound", err)
		}
		courier := auth.Principal{Subject: "courier-1", Role: auth.Courier}
		for _, a := range []order.RestaurantAction{order.Accept, order.Accept, order.MarkReady} { // a repeat is harmless
			if _, err := f.svc.Restaurant(ctx, owner, o.ID, a, ""); err != nil {
				t.Fatalf("%s: %v", a, err)
			}
		}
		if _, err := f.svc.Courier(ctx, courier, o.ID, order.PickUp); !errors.Is(err, order.ErrNotFound) {
			t.Errorf("unassigned courier picks up: got %v, want ErrNotFound", err)
		}
		if _, err := f.svc.Courier(ctx, ops, o.ID, order.PickUp); err != nil {
			t.Fatalf("ops picks up: %v", err)
		}
		if _, err := f.svc.Cancel(ctx, customer, o.ID, ""); !errors.Is(err, order.ErrInvalidTransition) {
			t.Errorf("cancel after pickup: got %v, want ErrInvalidTransition", err)
		}
		got, err := f.svc.Courier(ctx, ops, o.ID, order.Deliver)
		if err != nil || got.Status != order.Delivered {
			t.Fatalf("deliver: %v, %s", err, got.Status)
		}
		var h []order.Status
		for _, x := range got.History {
			h = append(h, x.Status)
		}
		want := []order.Status{order.Placed, order.Paid, order.Accepted, order.Ready, order.PickedUp, order.Delivered}
		if diff := cmp.Diff(want, h); diff != "" {
			t.Errorf("history (-want +got), a repeated accept must add nothing:\n%s", diff)
		}
	})
}

func TestCancelRefundsAndRestocks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		o := f.place(t, "k1", order.LineInput{MenuItemID: "coffee", Quantity: 2})
		_, err := f.svc.Place(ctx, customer, "k2", order.PlaceRequest{RestaurantID: "r-1",
			Items: []order.LineInput{{MenuItemID: "coffee", Quantity: 1}}, Delivery: geo.LatLng{Lat: 12.95, Lng: 77.6}},
			func(o order.Order) ([]byte, error) { return nil, nil })
		var fe *fault.FieldError
		if !errors.As(err, &fe) || fe.Location != "body.items[0].quantity" {
			t.Errorf("sold out: got %v, want a field error at body.items[0].quantity", err)
		}
		f.svc.SettlePayment(ctx, o.ID)
		c, err := f.svc.Cancel(ctx, customer, o.ID, "changed my mind")
		if err != nil || c.Status != order.Cancelled || c.Reason != "changed my mind" {
			t.Fatalf("cancel: %v %s %q", err, c.Status, c.Reason)
		}
		if err := f.svc.SettlePayment(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if got := f.paymentStatus(t, o.ID); got != "voided" {
			t.Errorf("payment: got %s, want voided", got)
		}
		var stock int
		f.db.QueryRow(`SELECT stock FROM menu_items WHERE id = 'coffee'`).Scan(&stock)
		if stock != 2 {
			t.Errorf("stock after cancel: got %d, want 2 (restocked)", stock)
		}
	})
}

func TestIdempotentPlacement(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		req := order.PlaceRequest{RestaurantID: "r-1", Items: []order.LineInput{{MenuItemID: "dosa", Quantity: 1}}, Delivery: geo.LatLng{Lat: 12.95, Lng: 77.6}}
		enc := func(o order.Order) ([]byte, error) { return []byte(o.ID), nil }
		first, err := f.svc.Place(ctx, customer, "k", req, enc)
		if err != nil {
			t.Fatal(err)
		}
		again, err := f.svc.Place(ctx, customer, "k", req, enc)
		if err != nil || !again.Replayed || string(again.Body) != first.Order.ID {
			t.Errorf("replay: got %q replayed=%v err=%v, want %q", again.Body, again.Replayed, err, first.Order.ID)
		}
		req.Items[0].Quantity = 2
		if _, err := f.svc.Place(ctx, customer, "k", req, enc); !errors.Is(err, order.ErrIdempotencyMismatch) {
			t.Errorf("other body: got %v, want ErrIdempotencyMismatch", err)
		}
		// Keys are per principal: another customer may use the same key.
		other := auth.Principal{Subject: "cust-2", Role: auth.Customer}
		if res, err := f.svc.Place(ctx, other, "k", req, enc); err != nil || res.Replayed {
			t.Errorf("another customer's key: got replayed=%v err=%v, want a new order", res.Replayed, err)
		}
	})
}

var orderFakeOK = payment.FakeConfig{}
