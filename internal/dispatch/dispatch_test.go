package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// forEachBackend runs test on every store backend, in parallel.
func forEachBackend(t *testing.T, test func(t *testing.T, d store.Dialect)) {
	t.Helper()
	for _, d := range tiffintest.Backends {
		t.Run(backendName(d), func(t *testing.T) {
			t.Parallel()
			test(t, d)
		})
	}
}

func TestOfferAndAccept(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "accepted", indiranagar)
		f.courierOn("near", hsrLayout)
		f.courierOn("far", whitefield)
		f.courierOn("away", mysuru) // outside the search radius

		f.sweep()

		var offer Offer
		if got := f.call("GET", "/v1/courier/offer", "near", nil, &offer); got != http.StatusOK {
			t.Fatalf("GET offer as near: status %d, want 200", got)
		}
		cell, centre, err := geo.Area(indiranagar, geo.AreaResolution)
		if err != nil {
			t.Fatal(err)
		}
		// The route: hsrLayout -> koramangala -> indiranagar, at street distance.
		dist := math.Round((geo.Distance(hsrLayout, koramangala) + geo.Distance(koramangala, indiranagar)) * geo.Circuity)
		want := Offer{
			OfferID: offer.OfferID, OrderID: "o1", RestaurantID: "rest1", Pickup: point(koramangala),
			Orders: []OfferStop{{OrderID: "o1", DropoffArea: Area{Cell: cell, Centre: point(centre)}}},
			// Planned: on arrival plus half the pickup service, the food being ready (15 min prep)
			// before the courier can get there.
			PickupAt:  f.clock.Now().Add(max(15*time.Minute, geo.TravelTime(hsrLayout, koramangala, geo.Bike)+90*time.Second)),
			DistanceM: dist, Pay: Money{Amount: 300 + int64(math.Round(50*dist/1000)), Currency: "INR"},
			ExpiresAt: f.clock.Now().Add(30 * time.Second),
		}
		if diff := cmp.Diff(want, offer, cmpopts.EquateApproxTime(5*time.Second)); diff != "" {
			t.Errorf("offer (-want +got):\n%s", diff)
		}
		if geo.Distance(centre, indiranagar) < 1 {
			t.Errorf("the offer shows the drop-off's exact position")
		}
		for _, c := range []string{"far", "away"} {
			if got := f.call("GET", "/v1/courier/offer", c, nil, nil); got != http.StatusNotFound {
				t.Errorf("GET offer as %s: status %d, want 404", c, got)
			}
		}

		accept := "/v1/courier/offers/" + offer.OfferID + "/accept"
		if got := f.call("POST", accept, "far", nil, nil); got != http.StatusForbidden {
			t.Errorf("accept someone else's offer: status %d, want 403", got)
		}
		if got := f.call("POST", "/v1/courier/offers/ofr_nope/accept", "near", nil, nil); got != http.StatusNotFound {
			t.Errorf("accept unknown offer: status %d, want 404", got)
		}
		var route Route
		if got := f.call("POST", accept, "near", nil, &route); got != http.StatusOK {
			t.Fatalf("accept: status %d, want 200", got)
		}
		wantRoute := Route{RouteID: offer.OfferID, CourierID: "near", RestaurantID: "rest1", Pickup: point(koramangala),
			PickupAt: want.PickupAt, Pay: want.Pay, Stops: []Stop{{OrderID: "o1", Status: Assigned, Dropoff: ptr(point(indiranagar))}}}
		if diff := cmp.Diff(wantRoute, route, cmpopts.EquateApproxTime(5*time.Second)); diff != "" {
			t.Errorf("accepted route (-want +got):\n%s", diff)
		}
		var cur Route
		if got := f.call("GET", "/v1/courier/route", "near", nil, &cur); got != http.StatusOK {
			t.Fatalf("GET route: status %d, want 200", got)
		}
		if diff := cmp.Diff(wantRoute, cur, cmpopts.EquateApproxTime(5*time.Second)); diff != "" {
			t.Errorf("current route (-want +got):\n%s", diff)
		}
		if got := f.call("GET", "/v1/courier/route", "far", nil, nil); got != http.StatusNotFound {
			t.Errorf("GET route as far: status %d, want 404", got)
		}
		wantDel := Delivery{OrderID: "o1", RestaurantID: "rest1", Status: Assigned,
			Pickup: point(koramangala), Dropoff: point(indiranagar), CourierID: "near", RouteID: offer.OfferID}
		if got := f.call("POST", accept, "near", nil, nil); got != http.StatusConflict {
			t.Errorf("accept twice: status %d, want 409", got)
		}
		if got := f.call("POST", "/v1/courier/offers/"+offer.OfferID+"/decline", "near", nil, nil); got != http.StatusConflict {
			t.Errorf("decline after accept: status %d, want 409", got)
		}
		var curDel Delivery
		if got := f.call("GET", "/v1/courier/delivery", "near", nil, &curDel); got != http.StatusOK {
			t.Fatalf("GET delivery: status %d, want 200", got)
		}
		if diff := cmp.Diff(wantDel, curDel); diff != "" {
			t.Errorf("current delivery (-want +got):\n%s", diff)
		}
		if got := f.call("GET", "/v1/courier/delivery", "far", nil, nil); got != http.StatusNotFound {
			t.Errorf("GET delivery as far: status %d, want 404", got)
		}
		for c, want := range map[string]string{"near": CourierBusy, "far": CourierAvailable, "away": CourierAvailable} {
			if got := f.courierStatus(c); got != want {
				t.Errorf("courier %s status %q, want %q", c, got, want)
			}
		}
		if diff := cmp.Diff([]string{"delivery.offered", "delivery.assigned"}, f.outboxTypes("o1")); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		// A busy courier gets no more offers.
		f.courierOn("spare", hsrLayout)
		f.order("o2", "rest1", "ready", indiranagar)
		f.sweep()
		if got := f.delivery("o2"); got.offeredCourierID != "spare" {
			t.Errorf("o2 offered to %q, want spare (near is busy)", got.offeredCourierID)
		}
		if got := f.counter("tiffin_dispatch_offers_total", "outcome", "accepted"); got != 1 {
			t.Errorf("accepted offers metric = %v, want 1", got)
		}
	})
}

func TestDeclineReoffers(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		ctx := context.Background()
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "preparing", indiranagar)
		f.courierOn("c1", hsrLayout)
		f.courierOn("c2", whitefield)
		f.sweep()

		first := f.delivery("o1")
		if first.status != Offered || first.offeredCourierID != "c1" {
			t.Fatalf("after sweep: status %q to %q, want offered to c1", first.status, first.offeredCourierID)
		}
		if got := f.call("POST", "/v1/courier/offers/"+first.offerID+"/decline", "c1", nil, nil); got != http.StatusNoContent {
			t.Fatalf("decline: status %d, want 204", got)
		}
		f.sweep() // the round the decline pokes
		second := f.delivery("o1")
		if second.status != Offered || second.offeredCourierID != "c2" || second.offerID == first.offerID {
			t.Fatalf("after decline: status %q to %q (offer %s), want a new offer to c2", second.status, second.offeredCourierID, second.offerID)
		}
		if got := f.courierStatus("c1"); got != CourierAvailable {
			t.Errorf("c1 status %q, want available", got)
		}
		if _, err := f.svc.Accept(ctx, "c1", first.offerID); !errors.Is(err, ErrOfferDeclined) {
			t.Errorf("accept the declined offer: %v, want %v", err, ErrOfferDeclined)
		}
		// c2 declines too: nobody is left who has not declined, so the delivery waits.
		if err := f.svc.Decline(ctx, "c2", second.offerID); err != nil {
			t.Fatalf("c2 decline: %v", err)
		}
		f.sweep()
		third := f.delivery("o1")
		if third.status != Pending {
			t.Errorf("after both declined: status %q, want pending", third.status)
		}
		if err := f.svc.Decline(ctx, "c2", second.offerID); !errors.Is(err, ErrOfferDeclined) || !errors.Is(err, fault.Conflict) {
			t.Errorf("decline twice: %v, want %v", err, ErrOfferDeclined)
		}
		// A new courier comes on shift and gets it.
		f.courierOn("c3", whitefield)
		f.sweep()
		if got := f.delivery("o1"); got.status != Offered || got.offeredCourierID != "c3" {
			t.Errorf("after c3 joined: status %q to %q, want offered to c3", got.status, got.offeredCourierID)
		}
		want := []string{"delivery.offered", "delivery.declined", "delivery.offered", "delivery.declined", "delivery.offered"}
		if diff := cmp.Diff(want, f.outboxTypes("o1")); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestOfferExpires(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{OfferTTL: 10 * time.Second})
		ctx := context.Background()
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "ready", indiranagar)
		f.courierOn("c1", hsrLayout)
		f.sweep()
		first := f.delivery("o1")
		if first.status != Offered {
			t.Fatalf("status %q, want offered", first.status)
		}

		f.clock.Advance(10 * time.Second)
		if _, err := f.svc.CurrentOffer(ctx, "c1"); !errors.Is(err, ErrNoOffer) {
			t.Errorf("current offer after expiry: %v, want %v", err, ErrNoOffer)
		}
		if got := f.call("POST", "/v1/courier/offers/"+first.offerID+"/accept", "c1", nil, nil); got != http.StatusGone {
			t.Errorf("accept an expired offer: status %d, want 410", got)
		}

		// Take c1 away so the sweep can only expire, not re-offer.
		f.exec(`UPDATE couriers SET lat = $1, lng = $2 WHERE id = 'c1'`, mysuru.Lat, mysuru.Lng)
		f.svc.mu.Lock()
		delete(f.svc.positions, "c1")
		f.svc.mu.Unlock()
		f.sweep()
		if got := f.delivery("o1"); got.status != Pending {
			t.Errorf("after sweep: status %q, want pending", got.status)
		}
		if got := f.courierStatus("c1"); got != CourierAvailable {
			t.Errorf("c1 status %q, want available", got)
		}
		if _, err := f.svc.Accept(ctx, "c1", first.offerID); !errors.Is(err, ErrOfferExpired) {
			t.Errorf("accept after the sweep: %v, want %v", err, ErrOfferExpired)
		}
		if got := f.counter("tiffin_dispatch_offers_total", "outcome", "expired"); got != 1 {
			t.Errorf("expired offers metric = %v, want 1", got)
		}
		if diff := cmp.Diff([]string{"delivery.offered", "delivery.expired"}, f.outboxTypes("o1")); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}

		// Back in range, c1 is not offered the order it let expire; another courier is.
		f.courierOn("c1", hsrLayout)
		f.sweep()
		if got := f.delivery("o1"); got.status != Pending {
			t.Errorf("after c1's return: status %q to %q, want pending (c1 let it expire)", got.status, got.offeredCourierID)
		}
		f.courierOn("c2", hsrLayout)
		f.sweep()
		if got := f.delivery("o1"); got.status != Offered || got.offeredCourierID != "c2" || got.offerID == first.offerID {
			t.Errorf("after c2 joined: status %q to %q offer %s, want a new offer to c2", got.status, got.offeredCourierID, got.offerID)
		}
		// The expired offer's id still answers 410, however many offers came after it.
		if got := f.call("POST", "/v1/courier/offers/"+first.offerID+"/accept", "c1", nil, nil); got != http.StatusGone {
			t.Errorf("accept the long-expired offer: status %d, want 410", got)
		}
	})
}

// TestAcceptRace has many requests accept the same offer at once, by its courier and by
// others: exactly one wins.
func TestAcceptRace(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "accepted", indiranagar)
		f.courierOn("c1", hsrLayout)
		f.courierOn("c2", whitefield)
		f.sweep()
		offer := f.delivery("o1").offerID

		const n = 16
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			courier := "c1"
			if i%4 == 3 {
				courier = "c2"
			}
			wg.Go(func() { codes[i] = f.call("POST", "/v1/courier/offers/"+offer+"/accept", courier, nil, nil) })
		}
		wg.Wait()
		count := map[int]int{}
		for _, c := range codes {
			count[c]++
		}
		want := map[int]int{http.StatusOK: 1, http.StatusConflict: n - n/4 - 1, http.StatusForbidden: n / 4}
		if diff := cmp.Diff(want, count); diff != "" {
			t.Errorf("status counts (-want +got):\n%s", diff)
		}
		if got := f.delivery("o1"); got.status != Assigned || got.courierID != "c1" {
			t.Errorf("delivery %q by %q, want assigned to c1", got.status, got.courierID)
		}
		if got := f.outboxTypes("o1"); countOf(got, "delivery.assigned") != 1 {
			t.Errorf("events %v, want exactly one delivery.assigned", got)
		}
	})
}

// TestOfferRace has many planning rounds offer the same deliveries at once, with fewer couriers
// than deliveries: every delivery gets at most one offer and every courier at most one.
func TestOfferRace(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{MaxBundle: 1})
		ctx := context.Background()
		f.restaurant("rest1", koramangala)
		var orders []string
		for i := range 5 {
			id := fmt.Sprintf("o%d", i)
			orders = append(orders, id)
			f.order(id, "rest1", "accepted", indiranagar)
		}
		for _, c := range []string{"c1", "c2", "c3"} {
			f.courierOn(c, hsrLayout)
		}
		if err := f.db.InTx(ctx, func(tx *store.Tx) error {
			_, err := createRegionDeliveries(ctx, tx, f.clock.Now(), "r1", 100)
			return err
		}); err != nil {
			t.Fatal(err)
		}

		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				// Concurrent rounds of one region, as two replicas would run during a lease
				// handover, each with its own planner.
				other := New(f.db, f.bus, Config{Now: f.clock.Now, MaxBundle: 1, Metrics: f.metrics, Logger: f.svc.log})
				if _, err := other.planRound(ctx, "r1"); err != nil {
					t.Errorf("round: %v", err)
				}
			})
		}
		wg.Wait()

		held := map[string][]string{}
		for _, o := range orders {
			d := f.delivery(o)
			if d.status == Offered {
				held[d.offeredCourierID] = append(held[d.offeredCourierID], o)
			}
		}
		for _, c := range []string{"c1", "c2", "c3"} {
			if len(held[c]) != 1 {
				t.Errorf("courier %s holds offers %v, want exactly one", c, held[c])
			}
			if got := f.courierStatus(c); got != CourierOffered {
				t.Errorf("courier %s status %q, want offered", c, got)
			}
		}
		var offers int
		if err := f.db.QueryRow(`SELECT COALESCE(SUM(offers), 0) FROM deliveries`).Scan(&offers); err != nil {
			t.Fatal(err)
		}
		if offers != 3 {
			t.Errorf("offers made = %d, want 3", offers)
		}
	})
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// TestOneOfferPerCourier checks that one courier never holds two offers even when it is
// the nearest for several deliveries swept together.
func TestOneOfferPerCourier(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{MaxBundle: 1})
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "accepted", indiranagar)
		f.order("o2", "rest1", "accepted", indiranagar)
		f.courierOn("c1", hsrLayout)
		f.sweep()
		got := []string{f.delivery("o1").status, f.delivery("o2").status}
		slices.Sort(got)
		if diff := cmp.Diff([]string{Offered, Pending}, got); diff != "" {
			t.Errorf("delivery statuses (-want +got):\n%s", diff)
		}
	})
}

func TestShift(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		f.restaurant("rest1", koramangala)

		on := map[string]any{"on_shift": true, "vehicle": "scooter", "lat": hsrLayout.Lat, "lng": hsrLayout.Lng}
		var c Courier
		if got := f.call("PUT", "/v1/courier/shift", "c1", on, &c); got != http.StatusOK {
			t.Fatalf("shift on: status %d, want 200", got)
		}
		region, _ := geo.Regioner{}.Region(hsrLayout)
		want := Courier{ID: "c1", Status: CourierAvailable, Vehicle: "scooter", OnShift: true, Position: &Point{hsrLayout.Lat, hsrLayout.Lng}, Region: region}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("courier (-want +got):\n%s", diff)
		}

		bad := []struct {
			name string
			body map[string]any
		}{
			{"lat without lng", map[string]any{"on_shift": true, "lat": 12.9}},
			{"lat out of range", map[string]any{"on_shift": true, "lat": 91.0, "lng": 77.0}},
			{"unknown vehicle", map[string]any{"on_shift": true, "vehicle": "rocket"}},
			{"missing on_shift", map[string]any{"vehicle": "bike"}},
		}
		for _, tt := range bad {
			if got := f.call("PUT", "/v1/courier/shift", "c1", tt.body, nil); got != http.StatusUnprocessableEntity {
				t.Errorf("%s: status %d, want 422", tt.name, got)
			}
		}

		// Holding an offer, the courier may leave: the delivery goes back to pending.
		f.order("o1", "rest1", "accepted", indiranagar)
		f.sweep()
		if got := f.delivery("o1"); got.offeredCourierID != "c1" {
			t.Fatalf("o1 offered to %q, want c1", got.offeredCourierID)
		}
		off := map[string]any{"on_shift": false}
		if got := f.call("PUT", "/v1/courier/shift", "c1", off, &c); got != http.StatusOK || c.Status != CourierOff || c.OnShift {
			t.Fatalf("shift off holding an offer: status %d, courier %+v; want 200, off", got, c)
		}
		withdrawn := f.delivery("o1")
		if withdrawn.status != Pending {
			t.Errorf("o1 status %q, want pending", withdrawn.status)
		}
		if _, err := f.svc.Accept(context.Background(), "c1", withdrawn.offerID); !errors.Is(err, ErrOfferWithdrawn) {
			t.Errorf("accept the offer withdrawn at shift end: %v, want %v", err, ErrOfferWithdrawn)
		}

		// Carrying a delivery, the courier may not leave.
		f.courierOn("c1", hsrLayout)
		f.sweep()
		dl := f.delivery("o1")
		if _, err := f.svc.Accept(context.Background(), "c1", dl.offerID); err != nil {
			t.Fatalf("accept: %v", err)
		}
		if got := f.call("PUT", "/v1/courier/shift", "c1", off, nil); got != http.StatusConflict {
			t.Errorf("shift off while busy: status %d, want 409", got)
		}
		if got := f.courierStatus("c1"); got != CourierBusy {
			t.Errorf("c1 status %q, want busy", got)
		}
		// Going on shift again while busy keeps it busy.
		if got := f.call("PUT", "/v1/courier/shift", "c1", on, &c); got != http.StatusOK || c.Status != CourierBusy {
			t.Errorf("shift on while busy: status %d, courier status %q; want 200, busy", got, c.Status)
		}
		if got := f.call("PUT", "/v1/courier/shift", "", on, nil); got != http.StatusUnauthorized {
			t.Errorf("shift without a token: status %d, want 401", got)
		}
	})
}

// TestFollowsOrders drives dispatch through the bus: order events relayed from the outbox
// create, cancel, pick up and deliver deliveries, and courier locations on core NATS place
// couriers.
func TestFollowsOrders(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{SweepInterval: time.Hour}) // events only: the sweep runs once at start
		ctx := context.Background()
		f.restaurant("rest1", koramangala)
		f.run("relay", bus.NewRelay(f.db, f.bus, nil).Run)
		f.run("dispatch", f.svc.Run)
		<-f.svc.ready

		// A courier on shift without a position is placed by the location stream.
		if _, err := f.svc.SetShift(ctx, "c1", Shift{OnShift: true}); err != nil {
			t.Fatal(err)
		}
		loc := fmt.Sprintf(`{"courier_id":"c1","lat":%v,"lng":%v,"at":%q}`, hsrLayout.Lat, hsrLayout.Lng, time.Now().UTC().Format(time.RFC3339Nano))
		if err := f.bus.PublishCore(event.Subject("r1", event.CourierLocation), []byte(loc)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "c1's position", func() bool { _, ok := f.svc.position("c1"); return ok })

		// order.accepted -> delivery created and offered.
		f.order("o1", "rest1", "accepted", indiranagar)
		f.emit(event.OrderAccepted, "o1", "accepted")
		var offer Offer
		eventually(t, "an offer to c1", func() bool {
			var err error
			offer, err = f.svc.CurrentOffer(ctx, "c1")
			return err == nil
		})
		if _, err := f.svc.Accept(ctx, "c1", offer.OfferID); err != nil {
			t.Fatalf("accept: %v", err)
		}

		f.exec(`UPDATE orders SET status = 'picked_up' WHERE id = 'o1'`)
		f.emit(event.OrderPickedUp, "o1", "picked_up")
		eventually(t, "o1 picked up", func() bool { return f.delivery("o1").status == PickedUp })
		if got := f.courierStatus("c1"); got != CourierBusy {
			t.Errorf("c1 after pickup: %q, want busy", got)
		}

		f.exec(`UPDATE orders SET status = 'delivered' WHERE id = 'o1'`)
		f.emit(event.OrderDelivered, "o1", "delivered")
		eventually(t, "o1 delivered", func() bool { return f.delivery("o1").status == Delivered })
		if got := f.courierStatus("c1"); got != CourierAvailable {
			t.Errorf("c1 after delivery: %q, want available", got)
		}

		// order.cancelled while offered frees the courier.
		f.order("o2", "rest1", "accepted", indiranagar)
		f.emit(event.OrderAccepted, "o2", "accepted")
		eventually(t, "o2 offered", func() bool { return f.courierStatus("c1") == CourierOffered })
		f.exec(`UPDATE orders SET status = 'cancelled' WHERE id = 'o2'`)
		f.emit(event.OrderCancelled, "o2", "cancelled")
		eventually(t, "o2 cancelled", func() bool { return f.delivery("o2").status == Cancelled })
		if got := f.courierStatus("c1"); got != CourierAvailable {
			t.Errorf("c1 after cancel: %q, want available", got)
		}
		eventually(t, "events consumed", func() bool {
			return f.counter("tiffin_events_consumed_total", "result", "ok") == 5
		})
	})
}

// TestSweepFollowsOrders covers lost events: the sweep alone creates, cancels and completes.
func TestSweepFollowsOrders(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		ctx := context.Background()
		f.restaurant("rest1", koramangala)
		f.courierOn("c1", hsrLayout)
		f.order("o1", "rest1", "placed", indiranagar)
		f.sweep()
		var n int
		if err := f.db.QueryRow(`SELECT COUNT(*) FROM deliveries`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("deliveries for a placed order: %d (%v), want 0", n, err)
		}

		f.exec(`UPDATE orders SET status = 'accepted' WHERE id = 'o1'`)
		f.sweep()
		dl := f.delivery("o1")
		if dl.status != Offered || dl.offeredCourierID != "c1" {
			t.Fatalf("o1: %q to %q, want offered to c1", dl.status, dl.offeredCourierID)
		}
		if _, err := f.svc.Accept(ctx, "c1", dl.offerID); err != nil {
			t.Fatal(err)
		}
		f.exec(`UPDATE orders SET status = 'delivered' WHERE id = 'o1'`)
		f.sweep()
		if got := f.delivery("o1").status; got != Delivered {
			t.Errorf("o1 after delivered: %q, want delivered", got)
		}
		if got := f.courierStatus("c1"); got != CourierAvailable {
			t.Errorf("c1: %q, want available", got)
		}

		f.order("o2", "rest1", "ready", indiranagar)
		f.sweep()
		f.exec(`UPDATE orders SET status = 'cancelled' WHERE id = 'o2'`)
		f.sweep()
		if got := f.delivery("o2").status; got != Cancelled {
			t.Errorf("o2 after cancel: %q, want cancelled", got)
		}
		if got := f.courierStatus("c1"); got != CourierAvailable {
			t.Errorf("c1: %q, want available", got)
		}
	})
}

// emit writes an order event to the outbox, as the order service would.
func (f *fixture) emit(t event.Type, orderID, status string) {
	f.t.Helper()
	err := f.db.InTx(context.Background(), func(tx *store.Tx) error {
		return tx.EmitNew(context.Background(), t, "r1", f.clock.Now(),
			event.Order{OrderID: orderID, CustomerID: "cust", RestaurantID: "rest1", Status: status, At: f.clock.Now()})
	})
	if err != nil {
		f.t.Fatalf("emit %s: %v", t, err)
	}
}
