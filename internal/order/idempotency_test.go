package order_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/order"
	"github.com/tiffin-dev/tiffin/internal/payment"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// TestIdempotencyTakeover: a pending Idempotency-Key claim whose instance holds no live lease
// (expired, or never written) was left by a process that died, and a retry takes it over at
// once; a live instance's claim answers ErrInProgress (a fault.Busy) until it is older than
// IdempotencyStale, and then it is taken over too. A claim naming no instance (written before
// instances, or by a process without one) waits for IdempotencyStale as before.
func TestIdempotencyTakeover(t *testing.T) {
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		f := newFixture(t, d, payment.FakeConfig{})
		const stale = 30 * time.Second
		retrier := order.New(f.db, nil, order.Config{Now: f.clock.Now, IdempotencyStale: stale, Instance: "retrier"})
		req := order.PlaceRequest{RestaurantID: "r-1", Items: []order.LineInput{{MenuItemID: "dosa", Quantity: 1}}, Delivery: geo.LatLng{Lat: 12.95, Lng: 77.6}}
		enc := func(o order.Order) ([]byte, error) { return []byte(o.ID), nil }
		now := f.clock.Now()
		lease := func(instance string, expires time.Time) {
			mustExec(t, f.db, ctx, `INSERT INTO leases (name, holder, token, expires_at) VALUES ($1, 'host', 1, $2)`,
				order.InstanceLease(instance), store.Now(expires))
		}
		lease("live", now.Add(5*time.Second))
		lease("expired", now.Add(-time.Millisecond))
		lease("released", time.UnixMilli(0)) // a clean stop releases to 0
		// leave makes key's claim look like one whose request died before it committed: placed
		// once (for a real request hash), then put back to pending, held by instance since at.
		leave := func(key, instance string, at time.Time) int64 {
			t.Helper()
			if _, err := f.svc.Place(ctx, customer, key, req, enc); err != nil {
				t.Fatal(err)
			}
			mustExec(t, f.db, ctx, `UPDATE idempotency_keys SET state = 'pending', response_body = '', instance = $1, created_at = $2
				WHERE key = $3`, instance, store.Now(at), key)
			return store.Now(at)
		}
		holder := func(key string) (instance string, token int64, state string) {
			t.Helper()
			if err := f.db.QueryRow(`SELECT instance, created_at, state FROM idempotency_keys WHERE key = $1`, key).
				Scan(&instance, &token, &state); err != nil {
				t.Fatal(err)
			}
			return instance, token, state
		}
		for _, tt := range []struct {
			name, instance string
			age            time.Duration
			takenOver      bool
		}{
			{"expired lease", "expired", 0, true},
			{"released lease", "released", 0, true},
			{"no lease row", "gone", 0, true},
			{"live lease", "live", 0, false},
			{"live lease, just fresh", "live", stale - time.Millisecond, false},
			{"live lease, stale", "live", stale + time.Millisecond, true},
			{"no instance", "", 0, false},
			{"no instance, stale", "", stale + time.Millisecond, true},
		} {
			key := "k-" + tt.name
			old := leave(key, tt.instance, now.Add(-tt.age))
			res, err := retrier.Place(ctx, customer, key, req, enc)
			if !tt.takenOver {
				if !errors.Is(err, order.ErrInProgress) || !errors.Is(err, fault.Busy) || !errors.Is(err, fault.Conflict) {
					t.Errorf("%s: retry got %v, want ErrInProgress (a fault.Busy conflict)", tt.name, err)
				}
				if inst, token, state := holder(key); inst != tt.instance || token != old || state != "pending" {
					t.Errorf("%s: claim now %q@%d %s, want it left to %q@%d", tt.name, inst, token, state, tt.instance, old)
				}
				continue
			}
			if err != nil || res.Replayed || string(res.Body) != res.Order.ID {
				t.Errorf("%s: retry got %q replayed=%v err=%v, want a new order placed", tt.name, res.Body, res.Replayed, err)
				continue
			}
			// The claim is the retrier's now, under a token the dead request's never equals,
			// even though this clock has not moved since the claim was written.
			if inst, token, state := holder(key); inst != "retrier" || token <= old || state != "done" {
				t.Errorf("%s: claim now %q@%d %s, want the retrier's, done, with a token above %d", tt.name, inst, token, state, old)
			}
			again, err := retrier.Place(ctx, customer, key, req, enc)
			if err != nil || !again.Replayed || string(again.Body) != res.Order.ID {
				t.Errorf("%s: second retry got %q replayed=%v err=%v, want the replay of %s", tt.name, again.Body, again.Replayed, err, res.Order.ID)
			}
		}
	})
}
