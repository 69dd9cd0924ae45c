package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
	"github.com/tiffin-dev/tiffin/internal/geo"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// TestBundleRoute: two ready orders of one restaurant and one courier are offered as one route;
// accepted, the route lists both drop-offs in sequence; each order is picked up and delivered
// on its own, and the courier is free only once the last one is.
func TestBundleRoute(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		ctx := context.Background()
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "ready", indiranagar)
		f.order("o2", "rest1", "ready", indiranagar)
		f.courierOn("c1", hsrLayout)
		f.sweep()

		offer, err := f.svc.CurrentOffer(ctx, "c1")
		if err != nil {
			t.Fatalf("current offer: %v", err)
		}
		if len(offer.Orders) != 2 {
			t.Fatalf("offer holds %d orders, want the bundle of 2: %+v", len(offer.Orders), offer)
		}
		if offer.Pay.Amount <= 2*300 {
			t.Errorf("pay %d for two orders, want more than 2 x 300 (distance pays too)", offer.Pay.Amount)
		}
		var route Route
		if got := f.call("POST", "/v1/courier/offers/"+offer.OfferID+"/accept", "c1", nil, &route); got != http.StatusOK {
			t.Fatalf("accept: status %d", got)
		}
		if len(route.Stops) != 2 || route.Stops[0].OrderID != offer.Orders[0].OrderID || route.Stops[1].OrderID != offer.Orders[1].OrderID {
			t.Fatalf("route stops %+v, want the offer's orders in its sequence", route.Stops)
		}
		first, second := route.Stops[0].OrderID, route.Stops[1].OrderID

		f.exec(`UPDATE orders SET status = 'picked_up' WHERE id IN ('o1', 'o2')`)
		f.sweep()
		for _, o := range []string{"o1", "o2"} {
			if got := f.delivery(o).status; got != PickedUp {
				t.Errorf("%s after pickup: %s, want picked_up", o, got)
			}
		}
		if n := f.histogramCount("tiffin_dispatch_pickup_lateness_seconds", "", ""); n != 2 {
			t.Errorf("pickup lateness observed %d times, want 2 (planned vs actual, per order)", n)
		}
		f.exec(`UPDATE orders SET status = 'delivered' WHERE id = $1`, first)
		f.sweep()
		if got := f.courierStatus("c1"); got != CourierBusy {
			t.Errorf("c1 after the first drop-off: %s, want busy (one order left)", got)
		}
		var next Delivery
		if got := f.call("GET", "/v1/courier/delivery", "c1", nil, &next); got != http.StatusOK || next.OrderID != second {
			t.Errorf("next delivery: status %d, %+v; want %s", got, next, second)
		}
		f.exec(`UPDATE orders SET status = 'delivered' WHERE id = $1`, second)
		f.sweep()
		if got := f.courierStatus("c1"); got != CourierAvailable {
			t.Errorf("c1 after the last drop-off: %s, want available", got)
		}
		if got := f.call("GET", "/v1/courier/route", "c1", nil, nil); got != http.StatusNotFound {
			t.Errorf("route after the last drop-off: status %d, want 404", got)
		}
	})
}

// TestBundleWithdrawn: an order of a bundle on offer is cancelled; the offer is withdrawn (410
// to an answer), the other order goes back to be planned, and is offered again alone.
func TestBundleWithdrawn(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		ctx := context.Background()
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "ready", indiranagar)
		f.order("o2", "rest1", "ready", indiranagar)
		f.courierOn("c1", hsrLayout)
		f.sweep()
		offer, err := f.svc.CurrentOffer(ctx, "c1")
		if err != nil || len(offer.Orders) != 2 {
			t.Fatalf("offer %+v, %v; want a bundle of 2", offer, err)
		}
		f.exec(`UPDATE orders SET status = 'cancelled' WHERE id = 'o1'`)
		f.sweep()
		if got := f.call("POST", "/v1/courier/offers/"+offer.OfferID+"/accept", "c1", nil, nil); got != http.StatusGone {
			t.Errorf("accept the withdrawn offer: status %d, want 410", got)
		}
		if _, err := f.svc.Accept(ctx, "c1", offer.OfferID); !errors.Is(err, ErrOfferWithdrawn) {
			t.Errorf("accept the withdrawn offer: %v, want %v", err, ErrOfferWithdrawn)
		}
		if got := f.delivery("o1").status; got != Cancelled {
			t.Errorf("o1: %s, want cancelled", got)
		}
		// The sweep that withdrew the offer planned again: o2 alone, to c1 (withdrawn is not
		// declined).
		again, err := f.svc.CurrentOffer(ctx, "c1")
		if err != nil {
			t.Fatalf("offer after the withdrawal: %v", err)
		}
		if diff := cmp.Diff([]string{"o2"}, orderIDsOf(again)); diff != "" || again.OfferID == offer.OfferID {
			t.Errorf("offer after the withdrawal %s (-want +got):\n%s", again.OfferID, diff)
		}
		if got := f.counter("tiffin_dispatch_offers_total", "outcome", "withdrawn"); got != 1 {
			t.Errorf("withdrawn offers metric = %v, want 1", got)
		}
	})
}

func orderIDsOf(o Offer) []string {
	var ids []string
	for _, st := range o.Orders {
		ids = append(ids, st.OrderID)
	}
	return ids
}

// TestShiftEnd: a courier whose shift ends before it could pick an order up is not offered it;
// one whose shift lasts is.
func TestShiftEnd(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		ctx := context.Background()
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "accepted", indiranagar) // ready in 15 min
		soon := f.clock.Now().Add(10 * time.Minute)
		if _, err := f.svc.SetShift(ctx, "leaving", Shift{OnShift: true, Lat: &koramangala.Lat, Lng: &koramangala.Lng, EndsAt: &soon}); err != nil {
			t.Fatal(err)
		}
		f.sweep()
		if got := f.delivery("o1"); got.status != Pending {
			t.Fatalf("o1 %s to %q, want pending: the only courier's shift ends before the food is ready", got.status, got.offeredCourierID)
		}
		later := f.clock.Now().Add(2 * time.Hour)
		if _, err := f.svc.SetShift(ctx, "staying", Shift{OnShift: true, Lat: &hsrLayout.Lat, Lng: &hsrLayout.Lng, EndsAt: &later}); err != nil {
			t.Fatal(err)
		}
		f.sweep()
		if got := f.delivery("o1"); got.status != Offered || got.offeredCourierID != "staying" {
			t.Errorf("o1 %s to %q, want offered to staying", got.status, got.offeredCourierID)
		}
		var c Courier
		if got := f.call("PUT", "/v1/courier/shift", "c9", map[string]any{"on_shift": true, "ends_at": f.clock.Now().Add(-time.Minute)}, &c); got != http.StatusUnprocessableEntity {
			t.Errorf("a shift that ended already: status %d, want 422", got)
		}
	})
}

// TestGreedyLive runs the live service on the greedy planner: each waiting order goes at once
// to the free courier who reaches its restaurant first, one order per courier.
func TestGreedyLive(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{Algorithm: plan.Greedy})
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "accepted", indiranagar)
		f.order("o2", "rest1", "accepted", indiranagar)
		f.courierOn("near", hsrLayout)
		f.courierOn("far", whitefield)
		f.sweep()
		got := map[string]string{"o1": f.delivery("o1").offeredCourierID, "o2": f.delivery("o2").offeredCourierID}
		if diff := cmp.Diff(map[string]string{"o1": "near", "o2": "far"}, got); diff != "" {
			t.Errorf("offered to (-want +got):\n%s", diff)
		}
		if n := f.histogramCount("tiffin_dispatch_round_seconds", "algorithm", "greedy"); n == 0 {
			t.Errorf("no greedy round timed")
		}
	})
}

// TestFairness: of two couriers about equally placed, the one below its guaranteed minimum (it
// has taken fewer orders this shift than its hours on shift pay for) gets the order, though the
// other is 150 m nearer.
func TestFairness(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		f.restaurant("rest1", koramangala)
		f.courierOn("worked", geo.Toward(hsrLayout, koramangala, 150))
		f.courierOn("idle", hsrLayout)
		twoHoursAgo := store.Now(f.clock.Now().Add(-2 * time.Hour))
		f.exec(`UPDATE couriers SET shift_started_at = $1`, twoHoursAgo)
		for i := range 5 {
			id := fmt.Sprintf("past%d", i)
			f.order(id, "rest1", "delivered", indiranagar)
			f.exec(`INSERT INTO deliveries (order_id, region, restaurant_id, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
				status, courier_id, offers, created_at, updated_at) VALUES ($1, 'r1', 'rest1', 0, 0, 0, 0, 'delivered', 'worked', 1, $2, $3)`,
				id, twoHoursAgo+1, twoHoursAgo+1)
		}
		f.order("o1", "rest1", "ready", indiranagar)
		f.sweep()
		if got := f.delivery("o1").offeredCourierID; got != "idle" {
			t.Errorf("o1 offered to %q, want idle (worked has 5 orders in 2 h, above its guarantee of 3)", got)
		}
	})
}

// TestDeclineCooldown: a courier who declined an order is left out of its planning for
// DeclineCooldown, then may be offered it again (else an order every courier nearby turned
// down once would wait forever).
func TestDeclineCooldown(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{DeclineCooldown: 5 * time.Minute})
		ctx := context.Background()
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "ready", indiranagar)
		f.courierOn("c1", hsrLayout)
		f.sweep()
		first := f.delivery("o1")
		if err := f.svc.Decline(ctx, "c1", first.offerID); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(4 * time.Minute)
		f.sweep()
		if got := f.delivery("o1"); got.status != Pending {
			t.Fatalf("4 min after the decline: %s to %q, want pending", got.status, got.offeredCourierID)
		}
		f.clock.Advance(2 * time.Minute)
		f.sweep()
		if got := f.delivery("o1"); got.status != Offered || got.offeredCourierID != "c1" || got.offerID == first.offerID {
			t.Errorf("6 min after the decline: %s to %q (offer %s), want a new offer to c1", got.status, got.offeredCourierID, got.offerID)
		}
	})
}

// TestShiftShortened: a courier holding an offer moves its shift's end before the offer's
// planned pickup: the offer is withdrawn (410). A courier whose shift end has passed starts a
// new, open-ended shift by going on shift again.
func TestShiftShortened(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		ctx := context.Background()
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "accepted", indiranagar) // ready in 15 min
		f.courierOn("c1", hsrLayout)
		f.sweep()
		offer := f.delivery("o1")
		if offer.status != Offered {
			t.Fatalf("o1 %s, want offered", offer.status)
		}
		soon := f.clock.Now().Add(time.Minute)
		if _, err := f.svc.SetShift(ctx, "c1", Shift{OnShift: true, EndsAt: &soon}); err != nil {
			t.Fatal(err)
		}
		if got := f.call("POST", "/v1/courier/offers/"+offer.offerID+"/accept", "c1", nil, nil); got != http.StatusGone {
			t.Errorf("accept an offer whose pickup falls after the shortened shift: status %d, want 410", got)
		}
		if got := f.delivery("o1").status; got != Pending {
			t.Errorf("o1 %s, want pending", got)
		}
		f.clock.Advance(2 * time.Minute)
		c, err := f.svc.SetShift(ctx, "c1", Shift{OnShift: true})
		if err != nil {
			t.Fatal(err)
		}
		if c.EndsAt != nil || c.Status != CourierAvailable {
			t.Errorf("on shift again after the end passed: %+v, want available and open-ended", c)
		}
		f.sweep()
		if got := f.delivery("o1"); got.status != Offered || got.offeredCourierID != "c1" {
			t.Errorf("o1 %s to %q, want offered to c1 on its new shift", got.status, got.offeredCourierID)
		}
	})
}

// TestPickedUpByOps: ops marks an order on offer picked up (by someone outside dispatch): the
// offer is withdrawn and the delivery ends; nobody can accept it.
func TestPickedUpByOps(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, Config{})
		f.restaurant("rest1", koramangala)
		f.order("o1", "rest1", "ready", indiranagar)
		f.courierOn("c1", hsrLayout)
		f.sweep()
		offer := f.delivery("o1")
		f.exec(`UPDATE orders SET status = 'picked_up' WHERE id = 'o1'`)
		f.sweep()
		if got := f.call("POST", "/v1/courier/offers/"+offer.offerID+"/accept", "c1", nil, nil); got != http.StatusGone {
			t.Errorf("accept an offer of an order picked up by ops: status %d, want 410", got)
		}
		if got := f.delivery("o1").status; got != Cancelled {
			t.Errorf("o1 delivery %s, want cancelled", got)
		}
		if got := f.courierStatus("c1"); got != CourierAvailable {
			t.Errorf("c1 %s, want available", got)
		}
	})
}
