package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fulfil"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

type shipment struct {
	ID            string    `json:"id"`
	OrderID       string    `json:"order_id"`
	State         string    `json:"state"`
	CarrierRef    string    `json:"carrier_ref"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
}

type fakeStats struct {
	Mode              string `json:"mode"`
	Bookings          int    `json:"bookings"`
	DuplicateBookings int    `json:"duplicate_bookings"`
}

// carrierApp boots the app with the fake carrier in process, on fast timings. Status polls
// are an hour apart: what moves a booked shipment is the carrier's signed webhook.
func carrierApp(t *testing.T, d store.Dialect) *apptest.App {
	return apptest.Start(t, d, func(c *app.Config) {
		c.FakeCarrier = true
		c.FakeCarrierPickupAfter, c.FakeCarrierDeliverAfter = 300*time.Millisecond, 300*time.Millisecond
		c.CarrierBreakerOpenFor = 500 * time.Millisecond
		c.CarrierRetry = fulfil.RetrySchedule{Initial: 50 * time.Millisecond, Max: 300 * time.Millisecond, Jitter: 0.2}
		c.CarrierPollEvery = time.Hour
	})
}

func shipmentOf(t *testing.T, a *apptest.App, ops, orderID string) (shipment, bool) {
	t.Helper()
	var page struct {
		Shipments []shipment `json:"shipments"`
	}
	r := a.Do("GET", "/v1/ops/shipments?limit=500", ops, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("list shipments: got %d %s", r.Status, r.Body)
	}
	r.JSON(t, &page)
	for _, s := range page.Shipments {
		if s.OrderID == orderID {
			return s, true
		}
	}
	return shipment{}, false
}

// waitShipment polls until orderID's shipment satisfies ok.
func waitShipment(t *testing.T, a *apptest.App, ops, orderID, what string, ok func(shipment) bool) shipment {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last shipment
	for time.Now().Before(deadline) {
		var page struct {
			Shipments []shipment `json:"shipments"`
		}
		for _, state := range []string{"requested", "booked", "shipped", "delivered", "cancelling", "cancelled", "failed"} {
			a.Do("GET", "/v1/ops/shipments?state="+state, ops, nil).JSON(t, &page)
			for _, s := range page.Shipments {
				if s.OrderID == orderID {
					last = s
					if ok(s) {
						return s
					}
				}
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("shipment of %s: never %s; last %+v", orderID, what, last)
	return last
}

func setCarrierMode(t *testing.T, a *apptest.App, ops, mode string) {
	t.Helper()
	if r := a.Do("PUT", "/v1/ops/fakes/carrier", ops, map[string]any{"mode": mode}); r.Status != http.StatusOK {
		t.Fatalf("carrier mode %s: got %d %s", mode, r.Status, r.Body)
	}
}

func carrierOrder(restaurant, item string) map[string]any {
	return map[string]any{
		"restaurant_id": restaurant, "customer_id": "phone-1", "fulfilment": "carrier",
		"items": []map[string]any{{"menu_item_id": item, "quantity": 1}},
		"address": map[string]any{"line1": "12 MG Road", "city": "Bengaluru", "postcode": "560001", "country": "IN",
			"lat": 12.9756, "lng": 77.6050},
	}
}

// TestCarrierOrderShipsThroughAnOutage boots the whole app with the fake carrier in process:
// an order ops place for a phone customer ships by carrier while the carrier is down (the
// shipment waits, retried, never booked), is booked once the carrier is back, and moves the
// order to picked up and delivered as the carrier's webhooks and polls report; a second order
// cancelled during the outage has its shipment cancelled and is never booked.
func TestCarrierOrderShipsThroughAnOutage(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a := carrierApp(t, d)
			m := seed(t, a, "r-1", "owner-1")
			ops := a.Token(auth.Ops, "ops-1")
			restaurant := a.Token(auth.Restaurant, "owner-1")

			setCarrierMode(t, a, ops, "down")
			var orders [2]order
			for i := range orders {
				r := a.Do("POST", "/v1/orders", ops, carrierOrder("r-1", m.Items[0].ID), "Idempotency-Key", fmt.Sprint("carrier-", i))
				if r.Status != http.StatusCreated {
					t.Fatalf("place carrier order: got %d %s", r.Status, r.Body)
				}
				r.JSON(t, &orders[i])
				waitStatus(t, a, ops, orders[i].ID, "paid")
				if r := a.Do("POST", "/v1/orders/"+orders[i].ID+"/accept", restaurant, nil); r.Status != http.StatusOK {
					t.Fatalf("accept: got %d %s", r.Status, r.Body)
				}
			}
			// The carrier is down: both shipments wait, their calls failing and retried.
			for _, o := range orders {
				waitShipment(t, a, ops, o.ID, "retried", func(s shipment) bool { return s.State == "requested" && s.Attempts >= 1 })
			}
			if r := a.Do("POST", "/v1/orders/"+orders[1].ID+"/cancel", ops, map[string]any{"reason": "customer called back"}); r.Status != http.StatusOK {
				t.Fatalf("cancel: got %d %s", r.Status, r.Body)
			}
			waitShipment(t, a, ops, orders[1].ID, "cancelling", func(s shipment) bool { return s.State == "cancelling" || s.State == "cancelled" })

			setCarrierMode(t, a, ops, "up")
			delivered := waitStatus(t, a, ops, orders[0].ID, "delivered")
			var steps []string
			for _, h := range delivered.History {
				steps = append(steps, h.Status)
			}
			if !slices.Equal(steps, []string{"placed", "paid", "accepted", "ready", "picked_up", "delivered"}) {
				t.Errorf("order history %v, want placed paid accepted ready picked_up delivered", steps)
			}
			if delivered.CourierID != "" {
				t.Errorf("a carrier order got courier %s", delivered.CourierID)
			}
			s := waitShipment(t, a, ops, orders[0].ID, "delivered", func(s shipment) bool { return s.State == "delivered" })
			if s.CarrierRef == "" {
				t.Errorf("delivered shipment has no carrier reference: %+v", s)
			}
			waitShipment(t, a, ops, orders[1].ID, "cancelled", func(s shipment) bool { return s.State == "cancelled" })

			var stats fakeStats
			a.Do("GET", "/v1/ops/fakes/carrier", ops, nil).JSON(t, &stats)
			if stats.Bookings != 1 || stats.DuplicateBookings != 0 {
				t.Errorf("fake carrier holds %d bookings (%d duplicates), want 1 (0): the cancelled order's was never booked, or was cancelled",
					stats.Bookings, stats.DuplicateBookings)
			}
			// Its history shows each step once.
			var detail struct {
				History []struct {
					State string `json:"state"`
				} `json:"history"`
			}
			a.Do("GET", "/v1/ops/shipments/"+s.ID, ops, nil).JSON(t, &detail)
			var states []string
			for _, h := range detail.History {
				states = append(states, h.State)
			}
			// The carrier may report delivered before anyone heard shipped (its webhooks
			// go out each second, and parcels here move faster): shipped is then implied.
			if !slices.Equal(states, []string{"requested", "booked", "shipped", "delivered"}) {
				t.Errorf("shipment history %v, want requested booked shipped delivered", states)
			}
			metrics := a.Metrics()
			for _, want := range []string{`tiffin_shipments{state="delivered"}`, `tiffin_carrier_calls_total{carrier="carrier",op="book",result="ok"} 1`, "tiffin_carrier_breaker_state",
				`tiffin_events_consumed_total{consumer="carrier-webhook",result="ok"}`} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
		})
	}
}

// TestCarrierOrderRefusals: carrier fulfilment is for ops, and needs a postal address, which
// defaults to the customer's on record; the placement is in the audit log.
func TestCarrierOrderRefusals(t *testing.T) {
	t.Parallel()
	a := carrierApp(t, store.SQLite)
	m := seed(t, a, "r-1", "owner-1")
	ops := a.Token(auth.Ops, "ops-1")
	customer := a.Token(auth.Customer, "phone-1")

	body := carrierOrder("r-1", m.Items[0].ID)
	delete(body, "customer_id")
	if r := a.Do("POST", "/v1/orders", customer, body, "Idempotency-Key", "c-1"); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "body.fulfilment") {
		t.Errorf("customer choosing carrier: got %d %s, want 422 naming body.fulfilment", r.Status, r.Body)
	}
	body = carrierOrder("r-1", m.Items[0].ID)
	body["customer_id"] = "nobody-on-record"
	delete(body, "address")
	if r := a.Do("POST", "/v1/orders", ops, body, "Idempotency-Key", "c-2"); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "body.address") {
		t.Errorf("carrier order without an address: got %d %s, want 422 naming body.address", r.Status, r.Body)
	}
	// A customer on record: the order ships to their address by default.
	if r := a.Do("PUT", "/v1/customers/phone-2", ops, map[string]any{
		"name": "Asha Rao", "email": "asha@example.com", "phone": "+919800000001",
		"address": map[string]any{"line1": "4 Church St", "city": "Bengaluru", "postcode": "560001", "country": "IN", "lat": 12.9750, "lng": 77.6060},
	}); r.Status != http.StatusCreated && r.Status != http.StatusOK {
		t.Fatalf("put customer: got %d %s", r.Status, r.Body)
	}
	body = carrierOrder("r-1", m.Items[0].ID)
	body["customer_id"] = "phone-2"
	delete(body, "address")
	r := a.Do("POST", "/v1/orders", ops, body, "Idempotency-Key", "c-3")
	if r.Status != http.StatusCreated {
		t.Fatalf("carrier order for a customer on record: got %d %s", r.Status, r.Body)
	}
	var placed struct {
		ID         string `json:"id"`
		Fulfilment string `json:"fulfilment"`
		Delivery   struct {
			Lat float64 `json:"lat"`
		} `json:"delivery"`
		Address struct {
			Line1 string `json:"line1"`
		} `json:"address"`
		PlacedBy string `json:"placed_by"`
	}
	r.JSON(t, &placed)
	if placed.Fulfilment != "carrier" || placed.Address.Line1 != "4 Church St" || placed.Delivery.Lat != 12.9750 {
		t.Errorf("order for a customer on record: %s, want carrier to 4 Church St at 12.9750", r.Body)
	}
	var log struct {
		Entries []struct {
			Actor, Action, Target string
		} `json:"entries"`
	}
	a.Do("GET", "/v1/ops/audit?target=order:"+placed.ID, ops, nil).JSON(t, &log)
	if len(log.Entries) != 1 || log.Entries[0].Actor != "ops:ops-1" || log.Entries[0].Action != "order.place" {
		t.Errorf("audit of the ops order: %+v, want one order.place by ops:ops-1", log.Entries)
	}

	// Postal addresses are checked as the customer records' are.
	for _, c := range []struct {
		field string
		addr  map[string]any
	}{
		{"body.address.country", map[string]any{"line1": "1 A St", "city": "Pune", "postcode": "411001", "country": "XX"}},
		{"body.address.line1", map[string]any{"line1": "a\r\nb", "city": "Pune", "postcode": "411001", "country": "IN"}},
	} {
		body := carrierOrder("r-1", m.Items[0].ID)
		body["address"] = c.addr
		if r := a.Do("POST", "/v1/orders", ops, body, "Idempotency-Key", "bad-"+c.field); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), c.field) {
			t.Errorf("address with a bad %s: got %d %s, want 422 naming it", c.field, r.Status, r.Body)
		}
	}
	lower := carrierOrder("r-1", m.Items[0].ID)
	lower["address"] = map[string]any{"line1": "1 A St", "city": "Pune", "postcode": "411001", "country": "in", "lat": 18.52, "lng": 73.85}
	if r := a.Do("POST", "/v1/orders", ops, lower, "Idempotency-Key", "lower"); r.Status != http.StatusCreated || !strings.Contains(string(r.Body), `"country":"IN"`) {
		t.Errorf("country in lower case: got %d %s, want 201 with IN", r.Status, r.Body)
	}
	// A restaurant that ships by carrier refuses an explicit courier order.
	if r := a.Do("PUT", "/v1/restaurants/r-c", ops, map[string]any{
		"owner_id": "owner-c", "name": "Parcel Kitchen", "lat": 12.9716, "lng": 77.5946, "delivery_mode": "carrier",
	}); r.Status != http.StatusCreated && r.Status != http.StatusOK {
		t.Fatalf("put carrier restaurant: got %d %s", r.Status, r.Body)
	}
	a.Do("PUT", "/v1/restaurants/r-c/menu", a.Token(auth.Restaurant, "owner-c"), map[string]any{"items": []map[string]any{{"id": "rc-box", "name": "Box", "price": 1000}}})
	courierThere := carrierOrder("r-c", "rc-box")
	courierThere["fulfilment"] = "courier"
	if r := a.Do("POST", "/v1/orders", ops, courierThere, "Idempotency-Key", "courier-there"); r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "body.fulfilment") {
		t.Errorf("courier order at a carrier restaurant: got %d %s, want 422 naming body.fulfilment", r.Status, r.Body)
	}

	var stats fakeStats
	a.Do("GET", "/v1/ops/fakes/carrier", ops, nil).JSON(t, &stats)
	if stats.Mode != "up" {
		t.Errorf("fake carrier mode %q, want up", stats.Mode)
	}
	if r := a.Do("PUT", "/v1/ops/fakes/carrier", ops, map[string]any{"mode": "sideways"}); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("unknown mode: got %d %s, want 422", r.Status, r.Body)
	}
	if r := a.Do("GET", "/v1/ops/fakes/carrier", customer, nil); r.Status != http.StatusForbidden {
		t.Errorf("a customer reading the fakes: got %d, want 403", r.Status)
	}
}

// TestNoCourierFallsBackToCarrier: a restaurant that allows it has an order no courier took
// within its fallback time shipped by the carrier instead, and delivered so.
func TestNoCourierFallsBackToCarrier(t *testing.T) {
	t.Parallel()
	a := carrierApp(t, store.SQLite)
	ops := a.Token(auth.Ops, "ops-1")
	if r := a.Do("PUT", "/v1/restaurants/r-fb", ops, map[string]any{
		"owner_id": "owner-fb", "name": "Late Night Dosa", "lat": 12.9716, "lng": 77.5946, "carrier_fallback_seconds": 1,
	}); r.Status != http.StatusCreated && r.Status != http.StatusOK {
		t.Fatalf("put restaurant: got %d %s", r.Status, r.Body)
	}
	if r := a.Do("PUT", "/v1/restaurants/r-fb/menu", a.Token(auth.Restaurant, "owner-fb"), map[string]any{
		"items": []map[string]any{{"id": "fb-dosa", "name": "Masala dosa", "price": 12000}}}); r.Status != http.StatusOK {
		t.Fatalf("put menu: got %d %s", r.Status, r.Body)
	}
	customer := a.Token(auth.Customer, "cust-fb")
	r := a.Do("POST", "/v1/orders", customer, orderBody("r-fb", "fb-dosa", 1), "Idempotency-Key", "fb-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("place: got %d %s", r.Status, r.Body)
	}
	var o order
	r.JSON(t, &o)
	waitStatus(t, a, customer, o.ID, "paid")
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/accept", a.Token(auth.Restaurant, "owner-fb"), nil); r.Status != http.StatusOK {
		t.Fatalf("accept: got %d %s", r.Status, r.Body)
	}
	// No courier is on shift: after a second the order ships by carrier.
	delivered := waitShipment(t, a, ops, o.ID, "delivered by the carrier", func(s shipment) bool { return s.State == "delivered" })
	if delivered.CarrierRef == "" {
		t.Errorf("shipment without a carrier reference: %+v", delivered)
	}
	final := waitStatus(t, a, customer, o.ID, "delivered")
	if final.CourierID != "" {
		t.Errorf("the order has courier %s too", final.CourierID)
	}
	var got struct {
		Fulfilment string `json:"fulfilment"`
	}
	a.Do("GET", "/v1/orders/"+o.ID, customer, nil).JSON(t, &got)
	if got.Fulfilment != "carrier" {
		t.Errorf("fulfilment %q, want carrier", got.Fulfilment)
	}
}

// TestShipmentAndNotificationDeadLetters: a failed shipment and a dead notification are in
// the operators' one dead-letter view, and a redrive there puts each back to work.
func TestShipmentAndNotificationDeadLetters(t *testing.T) {
	t.Parallel()
	a := carrierApp(t, store.SQLite)
	m := seed(t, a, "r-1", "owner-1")
	ops := a.Token(auth.Ops, "ops-1")
	setCarrierMode(t, a, ops, "down")
	r := a.Do("POST", "/v1/orders", ops, carrierOrder("r-1", m.Items[0].ID), "Idempotency-Key", "dl-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("place: got %d %s", r.Status, r.Body)
	}
	var o order
	r.JSON(t, &o)
	waitStatus(t, a, ops, o.ID, "paid")
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/accept", a.Token(auth.Restaurant, "owner-1"), nil); r.Status != http.StatusOK {
		t.Fatalf("accept: got %d %s", r.Status, r.Body)
	}
	s := waitShipment(t, a, ops, o.ID, "requested", func(s shipment) bool { return s.State == "requested" && s.Attempts > 0 })
	ctx := t.Context()
	// As if the carrier had refused the booking, and the customer's "accepted" notice had
	// given up.
	if _, err := a.DB().ExecContext(ctx, `UPDATE shipments SET state = 'failed', next_attempt_at = NULL, last_error = 'refused: address unknown' WHERE id = $1`, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB().ExecContext(ctx, `DELETE FROM notifications`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB().ExecContext(ctx, `UPDATE notify_messages SET state = 'dead', last_error = 'not delivered in time' WHERE channel = 'in_app' AND order_id = $1`, o.ID); err != nil {
		t.Fatal(err)
	}
	var page struct {
		Entries []struct {
			ID, Source, Reason string
		} `json:"entries"`
	}
	a.Do("GET", "/v1/ops/dlq", ops, nil).JSON(t, &page)
	var ids []string
	for _, e := range page.Entries {
		if e.Source == "shipment" || e.Source == "notification" {
			ids = append(ids, e.ID)
		}
	}
	slices.Sort(ids)
	if len(ids) != 2 || ids[1] != "shipment-"+s.ID || !strings.HasPrefix(ids[0], "notification-ntf_") {
		t.Fatalf("dead letters %v, want one notification and shipment-%s", ids, s.ID)
	}
	if r := a.Do("GET", "/v1/ops/dlq/"+ids[1], ops, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "address unknown") {
		t.Errorf("show %s: %d %s", ids[1], r.Status, r.Body)
	}
	setCarrierMode(t, a, ops, "up")
	if r := a.Do("POST", "/v1/ops/dlq/redrive", ops, map[string]any{"ids": ids}); r.Status != http.StatusOK {
		t.Fatalf("redrive: got %d %s", r.Status, r.Body)
	}
	waitStatus(t, a, ops, o.ID, "delivered")
	var inbox struct {
		Notifications []struct {
			Kind string `json:"kind"`
		} `json:"notifications"`
	}
	a.Do("GET", "/v1/notifications", a.Token(auth.Customer, "phone-1"), nil).JSON(t, &inbox)
	var kinds []string
	for _, n := range inbox.Notifications {
		kinds = append(kinds, n.Kind)
	}
	if !slices.Contains(kinds, "accepted") {
		t.Errorf("inbox after the redrive: %v, want the accepted notice back", kinds)
	}
}

// TestCancelledOrderCancelsItsBooking: an order cancelled once its shipment is booked (not yet
// picked up) has the booking cancelled at the carrier.
func TestCancelledOrderCancelsItsBooking(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, func(c *app.Config) {
		c.FakeCarrier = true
		c.FakeCarrierPickupAfter, c.FakeCarrierDeliverAfter = time.Hour, time.Hour
		c.CarrierRetry = fulfil.RetrySchedule{Initial: 50 * time.Millisecond, Max: 300 * time.Millisecond, Jitter: 0.2}
	})
	m := seed(t, a, "r-1", "owner-1")
	ops := a.Token(auth.Ops, "ops-1")
	r := a.Do("POST", "/v1/orders", ops, carrierOrder("r-1", m.Items[0].ID), "Idempotency-Key", "cx-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("place: got %d %s", r.Status, r.Body)
	}
	var o order
	r.JSON(t, &o)
	waitStatus(t, a, ops, o.ID, "paid")
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/accept", a.Token(auth.Restaurant, "owner-1"), nil); r.Status != http.StatusOK {
		t.Fatalf("accept: got %d %s", r.Status, r.Body)
	}
	s := waitShipment(t, a, ops, o.ID, "booked", func(s shipment) bool { return s.State == "booked" })
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/cancel", ops, nil); r.Status != http.StatusOK {
		t.Fatalf("cancel: got %d %s", r.Status, r.Body)
	}
	waitShipment(t, a, ops, o.ID, "cancelled", func(s shipment) bool { return s.State == "cancelled" })
	var detail struct {
		History []struct {
			State  string `json:"state"`
			Detail string `json:"detail"`
		} `json:"history"`
	}
	a.Do("GET", "/v1/ops/shipments/"+s.ID, ops, nil).JSON(t, &detail)
	last := detail.History[len(detail.History)-1]
	if last.State != "cancelled" || !strings.Contains(last.Detail, "carrier says cancelled") {
		t.Errorf("last step %+v, want cancelled as the carrier says", last)
	}
	// A second cancel changes nothing; retrying a cancelled shipment is a conflict.
	if r := a.Do("POST", "/v1/ops/shipments/"+s.ID+"/retry", ops, nil); r.Status != http.StatusConflict {
		t.Errorf("retry of a cancelled shipment: got %d %s, want 409", r.Status, r.Body)
	}
}
