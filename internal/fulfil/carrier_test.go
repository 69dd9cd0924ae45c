package fulfil_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tiffin-dev/tiffin/internal/fulfil"
	"github.com/tiffin-dev/tiffin/internal/fulfil/carrierfake"
)

type carrierFixture struct {
	fake     *carrierfake.Server
	requests atomic.Int64 // API requests that reached the fake
	carrier  *fulfil.HTTPCarrier
}

func newCarrier(t *testing.T, fc carrierfake.Config, cc fulfil.HTTPCarrierConfig) *carrierFixture {
	t.Helper()
	f := &carrierFixture{fake: carrierfake.New(fc)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { f.fake.Close(); srv.Close() })
	cc.Name, cc.BaseURL, cc.Key = "fake", srv.URL, f.fake.Key()
	if cc.Client == nil {
		cc.Client = &http.Client{Timeout: 2 * time.Second}
	}
	f.carrier = fulfil.NewHTTPCarrier(cc)
	return f
}

func TestHTTPCarrier(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	f := newCarrier(t, carrierfake.Config{Now: clock}, fulfil.HTTPCarrierConfig{})
	c := f.carrier
	b, err := c.Book(ctx, "shp_1", fulfil.BookingRequest{Reference: "shp_1"})
	if err != nil || b.State() != fulfil.Booked || b.ID == "" {
		t.Fatalf("book: %+v, %v", b, err)
	}
	if found, err := c.FindByReference(ctx, "shp_1"); err != nil || len(found) != 1 || found[0].ID != b.ID {
		t.Errorf("find: %+v, %v", found, err)
	}
	if _, err := c.Status(ctx, "bk_missing"); !errors.Is(err, fulfil.ErrNotFound) {
		t.Errorf("status of an unknown booking: %v, want ErrNotFound", err)
	}
	now = now.Add(5 * time.Minute)
	if got, err := c.Status(ctx, b.ID); err != nil || got.State() != fulfil.Shipped {
		t.Errorf("status after pickup: %+v, %v", got, err)
	}
	if _, err := c.Cancel(ctx, b.ID); !errors.Is(err, fulfil.ErrTooLate) {
		t.Errorf("cancel after pickup: %v, want ErrTooLate", err)
	}
	if _, err := c.Book(ctx, "k", fulfil.BookingRequest{}); !errors.Is(err, fulfil.ErrRejected) {
		t.Errorf("a booking without a reference: %v, want ErrRejected", err)
	}
	for _, m := range []carrierfake.Mode{carrierfake.Garbage, carrierfake.Down} {
		f.fake.SetMode(m)
		if _, err := c.FindByReference(ctx, "shp_1"); !errors.Is(err, fulfil.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", m, err)
		}
		f.fake.SetMode(carrierfake.Up)
	}
}

// While the breaker is open nothing reaches the carrier; once its time is up exactly one
// probe does, and an answer closes it again.
func TestBreakerLetsOneProbeThrough(t *testing.T) {
	ctx := context.Background()
	var changes []string
	f := newCarrier(t, carrierfake.Config{}, fulfil.HTTPCarrierConfig{
		BreakerTrips: 3, BreakerOpenFor: 300 * time.Millisecond,
		OnBreakerChange: func(_ string, from, to gobreaker.State) { changes = append(changes, from.String()+">"+to.String()) },
	})
	f.fake.SetMode(carrierfake.Down)
	for range 10 {
		if _, err := f.carrier.FindByReference(ctx, "x"); !errors.Is(err, fulfil.ErrUnavailable) {
			t.Fatalf("down: %v", err)
		}
	}
	if got := f.requests.Load(); got != 3 {
		t.Errorf("requests that reached the carrier: %d, want 3 (then the breaker opened)", got)
	}
	if st := f.carrier.BreakerState(); st != gobreaker.StateOpen {
		t.Fatalf("breaker: %s, want open", st)
	}
	time.Sleep(350 * time.Millisecond)
	for range 5 { // the probe fails (still down): open again at once
		f.carrier.FindByReference(ctx, "x")
	}
	if got := f.requests.Load(); got != 4 {
		t.Errorf("requests after the open time: %d, want 4 (one probe)", got)
	}
	f.fake.SetMode(carrierfake.Up)
	time.Sleep(350 * time.Millisecond)
	if _, err := f.carrier.FindByReference(ctx, "x"); err != nil {
		t.Fatalf("probe with the carrier back: %v", err)
	}
	if st := f.carrier.BreakerState(); st != gobreaker.StateClosed {
		t.Errorf("breaker after a good probe: %s, want closed", st)
	}
	want := "closed>open open>half-open half-open>open open>half-open half-open>closed"
	if got := fmt.Sprint(changes); got != "["+want+"]" {
		t.Errorf("breaker changes: %s, want [%s]", got, want)
	}
}

// The carrier's issue's mix: bookings made and never answered (30%) and bookings answered and
// forgotten (10%), at a carrier that ignores idempotency keys. Every shipment is retried until
// booked, looking up its reference before booking again, and a forgotten booking (its poll
// finds nothing) is booked again: every reference ends with exactly one booking and none is
// booked twice.
func TestBookOnceUnderTimeoutsAndLostBookings(t *testing.T) {
	ctx := context.Background()
	f := newCarrier(t, carrierfake.Config{HangLimit: 2 * time.Second, IgnoreKeys: true},
		fulfil.HTTPCarrierConfig{Client: &http.Client{Timeout: 100 * time.Millisecond}, BreakerTrips: 1 << 20})
	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func() carrierfake.Mode {
		switch x := rnd.Float64(); {
		case x < 0.3:
			return carrierfake.TimeoutAfterBooking
		case x < 0.4:
			return carrierfake.LoseBookings
		}
		return carrierfake.Up
	}
	const shipments = 120
	ids := map[string]string{}
	for i := range shipments {
		ref := fmt.Sprintf("shp_%03d", i)
		resumed := false
		for try := 0; ; try++ {
			if try > 20 {
				t.Fatalf("%s: not booked after 20 tries", ref)
			}
			f.fake.SetMode(pick())
			b, err := fulfil.BookOnce(ctx, f.carrier, ref, fulfil.BookingRequest{Reference: ref}, resumed)
			if err == nil {
				ids[ref] = b.ID
				break
			}
			if !errors.Is(err, fulfil.ErrUnavailable) {
				t.Fatalf("%s: %v", ref, err)
			}
			resumed = true
		}
	}
	f.fake.SetMode(carrierfake.Up)
	// The polls: a booking the carrier forgot is booked again.
	rebooked := 0
	for ref, id := range ids {
		if _, err := f.carrier.Status(ctx, id); errors.Is(err, fulfil.ErrNotFound) {
			if _, err := fulfil.BookOnce(ctx, f.carrier, ref, fulfil.BookingRequest{Reference: ref}, true); err != nil {
				t.Fatalf("rebook %s: %v", ref, err)
			}
			rebooked++
		}
	}
	if rebooked == 0 {
		t.Error("no booking was forgotten: the mix did not include lose-bookings")
	}
	for ref := range ids {
		found, err := f.carrier.FindByReference(ctx, ref)
		if err != nil || len(found) != 1 {
			t.Errorf("%s: %d bookings at the carrier (%v), want 1", ref, len(found), err)
		}
	}
	if st := f.fake.Stats(); st.DuplicateBookings != 0 || st.Bookings != shipments {
		t.Errorf("carrier: %+v, want %d bookings and no duplicate", st, shipments)
	}
}
