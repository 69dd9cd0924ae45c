package fulfil_test

import (
	"context"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fulfil"
	"github.com/tiffin-dev/tiffin/internal/jobs"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// reusingCarrier answers every status poll with a booking of another reference: a carrier
// that lost our booking and gave its ID to someone else's.
type reusingCarrier struct{ fulfil.Carrier }

func (reusingCarrier) Status(_ context.Context, id string) (fulfil.Booking, error) {
	return fulfil.Booking{ID: id, Reference: "shp_someone_else", Status: "delivered"}, nil
}

// TestPollOfAnotherReferenceIsNotOurs: a poll answered with another shipment's booking does
// not deliver ours; ours counts as lost and is booked again.
func TestPollOfAnotherReferenceIsNotOurs(t *testing.T) {
	t.Parallel()
	db := tiffintest.NewStoreOn(t, store.SQLite)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO shipments (id, order_id, carrier, state, carrier_ref, claim, calling, created_at, updated_at)
		VALUES ('shp_1', 'ord_1', 'carrier', 'booked', 'bk_3', 1, 1, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	svc := fulfil.New(db, nil, jobs.New(db, jobs.Config{}), reusingCarrier{}, fulfil.Config{Now: func() time.Time { return time.UnixMilli(1000) }})
	if err := svc.Step(ctx, fulfil.StepArgs{ShipmentID: "shp_1", Claim: 1}); err != nil {
		t.Fatal(err)
	}
	s, err := fulfil.Get(ctx, db, "shp_1")
	if err != nil {
		t.Fatal(err)
	}
	if s.State != fulfil.Requested {
		t.Errorf("shipment after a poll answered for another reference: %s, want requested (booked again)", s.State)
	}
}
