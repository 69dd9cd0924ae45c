package tracking

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

func TestIngestValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.SQLite, Config{MaxFixesPerRequest: 3})
	tok := f.token("c1", auth.Courier)
	tests := []struct {
		name     string
		body     string
		token    string
		want     int
		location string // of the first error, for 422s
	}{
		{name: "one fix", body: `{"fixes":[{"lat":12.9,"lng":77.6}]}`, want: http.StatusAccepted},
		{name: "full fix", body: `{"fixes":[{"lat":12.9,"lng":77.6,"at":"2026-01-01T10:00:00Z","speed_mps":4.5,"heading":90}]}`, want: http.StatusAccepted},
		{name: "no fixes", body: `{"fixes":[]}`, want: http.StatusUnprocessableEntity, location: "body.fixes"},
		{name: "too many", body: `{"fixes":[{"lat":1,"lng":1},{"lat":1,"lng":1},{"lat":1,"lng":1},{"lat":1,"lng":1}]}`, want: http.StatusUnprocessableEntity, location: "body.fixes"},
		{name: "lat too big", body: `{"fixes":[{"lat":12.9,"lng":77.6},{"lat":95,"lng":77.6}]}`, want: http.StatusUnprocessableEntity, location: "body.fixes[1].lat"},
		{name: "lng too small", body: `{"fixes":[{"lat":12.9,"lng":-181}]}`, want: http.StatusUnprocessableEntity, location: "body.fixes[0].lng"},
		{name: "missing lat", body: `{"fixes":[{"lng":77.6}]}`, want: http.StatusUnprocessableEntity, location: "body.fixes[0]"},
		{name: "negative speed", body: `{"fixes":[{"lat":12.9,"lng":77.6,"speed_mps":-1}]}`, want: http.StatusUnprocessableEntity, location: "body.fixes[0].speed_mps"},
		{name: "lat not a number", body: `{"fixes":[{"lat":"north","lng":77.6}]}`, want: http.StatusUnprocessableEntity},
		{name: "not json", body: `{"fixes":`, want: http.StatusBadRequest},
		{name: "customer", body: `{"fixes":[{"lat":12.9,"lng":77.6}]}`, token: f.token("u1", auth.Customer), want: http.StatusForbidden},
		{name: "no token", body: `{"fixes":[{"lat":12.9,"lng":77.6}]}`, token: "-", want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := tok
			switch tt.token {
			case "-":
				token = ""
			case "":
			default:
				token = tt.token
			}
			got, body := f.post("/v1/courier/locations", token, []byte(tt.body))
			if got != tt.want {
				t.Fatalf("status %d (%s), want %d", got, body, tt.want)
			}
			if tt.location == "" {
				return
			}
			var problem struct {
				Errors []struct {
					Location string `json:"location"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(body, &problem); err != nil || len(problem.Errors) == 0 {
				t.Fatalf("problem %s: %v, want field errors", body, err)
			}
			if got := problem.Errors[0].Location; got != tt.location {
				t.Errorf("error location %q, want %q (%s)", got, tt.location, body)
			}
		})
	}
}

func TestIngestPublishesNewest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.SQLite, Config{})
	got := make(chan event.Location, 4)
	unsubscribe, err := f.bus.Subscribe(event.SubjectAll(event.CourierLocation), func(_ string, data []byte) {
		var l event.Location
		if err := json.Unmarshal(data, &l); err == nil {
			got <- l
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unsubscribe)
	if err := f.bus.Conn().Flush(); err != nil {
		t.Fatal(err)
	}

	body := `{"fixes":[
		{"lat":12.93,"lng":77.62,"at":"2026-01-01T10:00:05Z","speed_mps":3},
		{"lat":12.91,"lng":77.60,"at":"2026-01-01T10:00:00Z"},
		{"lat":12.92,"lng":77.61,"at":"2026-01-01T10:00:03Z"}]}`
	status, resp := f.post("/v1/courier/locations", f.token("c1", auth.Courier), []byte(body))
	if status != http.StatusAccepted || strings.TrimSpace(string(resp)) != `{"accepted":3}` {
		t.Fatalf("got %d %s, want 202 {\"accepted\":3}", status, resp)
	}
	want := event.Location{CourierID: "c1", Lat: 12.93, Lng: 77.62, SpeedMPS: 3, At: time.Date(2026, 1, 1, 10, 0, 5, 0, time.UTC)}
	select {
	case l := <-got:
		if diff := cmp.Diff(want, l); diff != "" {
			t.Errorf("published (-want +got):\n%s", diff)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no location published")
	}
	if l, ok := f.svc.position("c1"); !ok || !l.At.Equal(want.At) {
		t.Errorf("position %+v, %v; want %+v", l, ok, want)
	}
}

func TestHubCoalesces(t *testing.T) {
	t.Parallel()
	h := newHub()
	slow := h.watch("o1")
	other := h.watch("o2")
	h.carry("o1", "c1")
	h.carry("o2", "c2")
	h.carry("o3", "c3") // nobody watches o3: not tracked
	if _, ok := h.carrier("o3"); ok {
		t.Error("carrier of an unwatched order is tracked")
	}

	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	statuses := []string{"accepted", "preparing", "ready", "picked_up"}
	for i := range 100 {
		if i%25 == 0 {
			h.status("o1", statuses[i/25], int64(i/25+3), t0.Add(time.Duration(i)*time.Second))
		}
		h.location(event.Location{CourierID: "c1", Lat: float64(i), Lng: 1, At: t0.Add(time.Duration(i) * time.Second)})
		h.location(event.Location{CourierID: "c2", Lat: 50, Lng: 2, At: t0})
		h.location(event.Location{CourierID: "c9", Lat: 60, Lng: 3, At: t0}) // carries nothing watched
	}

	loc, got := slow.take()
	if loc == nil {
		t.Fatal("no location for the slow watcher")
	}
	if d := decode[locationData](t, string(loc.data)); d.Lat != 99 || d.CourierID != "c1" {
		t.Errorf("location %+v, want c1's latest (lat 99)", d)
	}
	var names []string
	for _, m := range got {
		names = append(names, m.status.Status)
	}
	if diff := cmp.Diff(statuses, names); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if loc, _ := other.take(); loc == nil || decode[locationData](t, string(loc.data)).CourierID != "c2" {
		t.Errorf("o2's watcher got %+v, want c2's position", loc)
	}
	if loc, st := slow.take(); loc != nil || len(st) != 0 {
		t.Errorf("second take: %v, %v; want an empty mailbox", loc, st)
	}

	// A final status ends the courier's visibility; unwatching forgets the order.
	h.status("o1", "delivered", 7, t0.Add(time.Hour))
	h.location(event.Location{CourierID: "c1", Lat: 7, Lng: 7, At: t0.Add(time.Hour)})
	if loc, st := slow.take(); loc != nil || len(st) != 1 || st[0].status.Status != "delivered" {
		t.Errorf("after delivered: %v, %v; want only the delivered status", loc, st)
	}
	h.unwatch(slow)
	h.unwatch(other)
	if len(h.watchers) != 0 || len(h.carriers) != 0 || len(h.byCourier) != 0 {
		t.Errorf("hub not empty after unwatch: %d watchers, %d carriers, %d couriers", len(h.watchers), len(h.carriers), len(h.byCourier))
	}
}

// TestHubNeverBlocks shows a watcher that never reads does not hold up the hub.
func TestHubNeverBlocks(t *testing.T) {
	t.Parallel()
	h := newHub()
	stuck := h.watch("o1")
	_ = stuck
	h.carry("o1", "c1")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10000 {
			h.location(event.Location{CourierID: "c1", Lat: 1, Lng: float64(i % 180)})
		}
		h.status("o1", "ready", 5, time.Now())
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("hub blocked on a watcher that does not read")
	}
}

func TestEventStream(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			t.Parallel()
			// No polls: statuses here come from the bus alone.
			f := newFixture(t, d, Config{Heartbeat: 50 * time.Millisecond, StatusPoll: time.Hour})
			f.run()
			updated := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
			f.exec(`INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at)
				VALUES ('rest1', 'owner', 'Rest', 12.93, 77.62, 'r1', 0, 0)`)
			for _, o := range []string{"o1", "o2"} {
				f.exec(`INSERT INTO orders (id, customer_id, restaurant_id, region, status, subtotal, delivery_fee, total,
					currency, delivery_lat, delivery_lng, placed_by, created_at, updated_at)
					VALUES ($1, 'u1', 'rest1', 'r1', 'ready', 100, 10, 110, 'INR', 12.97, 77.64, 'u1', 0, $2)`, o, store.Now(updated))
			}
			customer := f.token("u1", auth.Customer)

			for _, tt := range []struct {
				name  string
				token string
				want  int
			}{
				{"no token", "", http.StatusUnauthorized},
				{"courier", f.token("c1", auth.Courier), http.StatusForbidden},
				{"another customer", f.token("u2", auth.Customer), http.StatusNotFound},
			} {
				if _, got := f.openStream("o1", tt.token); got != tt.want {
					t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
				}
			}
			if _, got := f.openStream("nope", customer); got != http.StatusNotFound {
				t.Errorf("unknown order: status %d, want 404", got)
			}

			s, code := f.openStream("o1", customer)
			if code != http.StatusOK {
				t.Fatalf("open stream: status %d", code)
			}
			if got := s.resp.Header.Get("Content-Type"); got != "text/event-stream" {
				t.Errorf("Content-Type %q, want text/event-stream", got)
			}
			e := s.next()
			if e.Event != "status" || e.ID != "1" {
				t.Errorf("first event %+v, want status with id 1", e)
			}
			if diff := cmp.Diff(statusData{OrderID: "o1", Status: "ready", At: updated}, decode[statusData](t, e.Data)); diff != "" {
				t.Errorf("initial status (-want +got):\n%s", diff)
			}

			// The courier is assigned: its positions flow, another courier's don't.
			f.publish(event.DeliveryAssigned, event.Delivery{OrderID: "o1", CourierID: "c1", At: time.Now()})
			courier := f.token("c1", auth.Courier)
			stranger := f.token("c2", auth.Courier)
			if got, body := f.post("/v1/courier/locations", stranger, []byte(`{"fixes":[{"lat":1,"lng":1}]}`)); got != http.StatusAccepted {
				t.Fatalf("c2 fix: %d %s", got, body)
			}
			// The assignment may still be on its way: post until c1's position shows.
			var loc sse
			for loc.Event == "" {
				if got, body := f.post("/v1/courier/locations", courier, []byte(`{"fixes":[{"lat":12.95,"lng":77.63}]}`)); got != http.StatusAccepted {
					t.Fatalf("c1 fix: %d %s", got, body)
				}
				select {
				case loc = <-s.events:
				case <-time.After(100 * time.Millisecond):
				}
			}
			if loc.Event != "location" || loc.ID != "" {
				t.Errorf("event %+v, want location without an id", loc)
			}
			if got := decode[locationData](t, loc.Data); got.CourierID != "c1" || got.Lat != 12.95 || got.Lng != 77.63 {
				t.Errorf("location %+v, want c1 at 12.95,77.63", got)
			}
			// Drain any repeats of c1's position from the polling above.
			f.publish(event.OrderPickedUp, event.Order{OrderID: "o1", Status: "picked_up", At: updated.Add(time.Minute), OrderVersion: 2})
			e = s.next()
			for e.Event == "location" {
				e = s.next()
			}
			if e.ID != "2" {
				t.Errorf("live status id %q, want 2 (the order's version)", e.ID)
			}
			if diff := cmp.Diff(statusData{OrderID: "o1", Status: "picked_up", At: updated.Add(time.Minute)}, decode[statusData](t, e.Data)); diff != "" {
				t.Errorf("live status (-want +got):\n%s", diff)
			}

			// Other orders' events don't reach this stream; a final status ends it.
			f.publish(event.OrderCancelled, event.Order{OrderID: "o2", Status: "cancelled", At: updated.Add(time.Minute), OrderVersion: 2})
			f.publish(event.OrderDelivered, event.Order{OrderID: "o1", Status: "delivered", At: updated.Add(2 * time.Minute), OrderVersion: 3})
			e = s.next()
			if got := decode[statusData](t, e.Data); e.Event != "status" || e.ID != "3" || got.OrderID != "o1" || got.Status != "delivered" {
				t.Errorf("event %+v, want o1 delivered with id 3", e)
			}
			s.ended()

			// Ops may watch any order; one already final gets its status and the end.
			f.exec(`UPDATE orders SET status = 'delivered' WHERE id = 'o1'`)
			s2, code := f.openStream("o1", f.token("ops1", auth.Ops))
			if code != http.StatusOK {
				t.Fatalf("ops stream: status %d", code)
			}
			if e := s2.next(); e.Event != "status" || decode[statusData](t, e.Data).Status != "delivered" {
				t.Errorf("ops first event %+v, want delivered", e)
			}
			s2.ended()
		})
	}
}

// TestEventStreamInitialLocation checks a watcher joining mid-delivery gets the courier's
// last known position straight away, and heartbeats while nothing happens.
func TestEventStreamInitialLocation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.SQLite, Config{Heartbeat: 20 * time.Millisecond})
	f.run()
	f.exec(`INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at)
		VALUES ('rest1', 'owner', 'Rest', 12.93, 77.62, 'r1', 0, 0)`)
	f.exec(`INSERT INTO orders (id, customer_id, restaurant_id, region, status, subtotal, delivery_fee, total,
		currency, delivery_lat, delivery_lng, placed_by, created_at, updated_at)
		VALUES ('o1', 'u1', 'rest1', 'r1', 'picked_up', 100, 10, 110, 'INR', 12.97, 77.64, 'u1', 0, 0)`)
	f.exec(`INSERT INTO deliveries (order_id, region, restaurant_id, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
		status, courier_id, created_at, updated_at) VALUES ('o1', 'r1', 'rest1', 12.93, 77.62, 12.97, 77.64, 'picked_up', 'c1', 0, 0)`)
	if got, body := f.post("/v1/courier/locations", f.token("c1", auth.Courier), []byte(`{"fixes":[{"lat":12.94,"lng":77.63}]}`)); got != http.StatusAccepted {
		t.Fatalf("fix: %d %s", got, body)
	}

	s, code := f.openStream("o1", f.token("u1", auth.Customer))
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if e := s.next(); e.Event != "status" || decode[statusData](t, e.Data).Status != "picked_up" {
		t.Errorf("first event %+v, want status picked_up", e)
	}
	e := s.next()
	if got := decode[locationData](t, e.Data); e.Event != "location" || e.ID != "" || got.CourierID != "c1" || got.Lat != 12.94 {
		t.Errorf("second event %+v, want c1's location without an id", e)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.heartbeats.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
