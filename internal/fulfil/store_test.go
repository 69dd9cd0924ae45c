package fulfil_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fulfil"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// The shipment store on both backends: a request per order (idempotent), moves fenced by the
// state they were decided from, attempts counted per operation, the due list, history.
func TestShipmentStore(t *testing.T) {
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := tiffintest.NewStoreOn(t, d)
			now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
			var s fulfil.Shipment
			for range 2 {
				err := db.InTx(ctx, func(tx *store.Tx) error {
					var err error
					s, err = fulfil.Request(ctx, tx, fulfil.NewShipment{OrderID: "ord_1", Carrier: "fake"}, now)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if s.State != fulfil.Requested || s.OrderID != "ord_1" || !s.NextAttemptAt.Equal(now) {
				t.Fatalf("requested: %+v", s)
			}
			if due, err := fulfil.Due(ctx, db, now, 10); err != nil || len(due) != 1 || due[0].ID != s.ID {
				t.Fatalf("due: %+v, %v (one shipment per order)", due, err)
			}
			// Two failed booking calls, then the booking.
			for i := range 2 {
				if err := fulfil.Move(ctx, db, s.ID, fulfil.Requested, fulfil.Requested,
					fulfil.Change{Failed: true, LastError: "carrier down", Next: now.Add(time.Duration(i+1) * time.Minute)}, now); err != nil {
					t.Fatal(err)
				}
			}
			got, _ := fulfil.Get(ctx, db, s.ID)
			if got.Attempts != 2 || got.LastError != "carrier down" || !got.NextAttemptAt.Equal(now.Add(2*time.Minute)) {
				t.Errorf("after two failures: %+v", got)
			}
			if due, _ := fulfil.Due(ctx, db, now.Add(time.Minute), 10); len(due) != 0 {
				t.Errorf("due before its next attempt: %+v", due)
			}
			if err := fulfil.Move(ctx, db, s.ID, fulfil.Requested, fulfil.Booked, fulfil.Change{CarrierRef: "bk_1", Detail: "booked"}, now); err != nil {
				t.Fatal(err)
			}
			got, _ = fulfil.Get(ctx, db, s.ID)
			if got.State != fulfil.Booked || got.CarrierRef != "bk_1" || got.Attempts != 0 || got.LastError != "" || !got.NextAttemptAt.IsZero() {
				t.Errorf("booked: %+v", got)
			}
			// A late decision made from requested is fenced off; an illegal move is refused.
			if err := fulfil.Move(ctx, db, s.ID, fulfil.Requested, fulfil.Cancelled, fulfil.Change{}, now); !errors.Is(err, fulfil.ErrMoved) {
				t.Errorf("a move from a state the shipment left: %v, want ErrMoved", err)
			}
			if err := fulfil.Move(ctx, db, s.ID, fulfil.Booked, fulfil.Cancelled, fulfil.Change{}, now); err == nil || errors.Is(err, fulfil.ErrMoved) {
				t.Errorf("booked -> requested: %v, want an illegal move", err)
			}
			if err := fulfil.Move(ctx, db, s.ID, fulfil.Booked, fulfil.Shipped, fulfil.Change{}, now); err != nil {
				t.Fatal(err)
			}
			if in, err := fulfil.InState(ctx, db, fulfil.Shipped, 10); err != nil || len(in) != 1 || in[0].CarrierRef != "bk_1" {
				t.Errorf("shipped list: %+v, %v", in, err)
			}
			h, err := fulfil.HistoryOf(ctx, db, s.ID)
			if err != nil || len(h) != 3 || h[0].State != fulfil.Requested || h[1].State != fulfil.Booked || h[2].State != fulfil.Shipped {
				t.Errorf("history: %+v, %v", h, err)
			}
			if _, err := fulfil.Get(ctx, db, "shp_none"); !errors.Is(err, fulfil.ErrNoShipment) {
				t.Errorf("unknown shipment: %v", err)
			}
		})
	}
}
