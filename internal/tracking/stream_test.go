package tracking

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// t0 is when the test orders last changed before a test moves them.
var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

// order inserts order id for customer u1 at status and version, last changed at t0.
func (f *fixture) order(id, status string, version int64) {
	f.t.Helper()
	f.exec(`INSERT INTO restaurants (id, owner_id, name, lat, lng, region, created_at, updated_at)
		VALUES ('rest1', 'owner', 'Rest', 12.93, 77.62, 'r1', 0, 0) ON CONFLICT (id) DO NOTHING`)
	f.exec(`INSERT INTO orders (id, customer_id, restaurant_id, region, status, subtotal, delivery_fee, total,
		currency, delivery_lat, delivery_lng, placed_by, version, created_at, updated_at)
		VALUES ($1, 'u1', 'rest1', 'r1', $2, 100, 10, 110, 'INR', 12.97, 77.64, 'u1', $3, 0, $4)`,
		id, status, version, store.Now(t0))
}

// move changes an order's status in the store the way the order service does (a new version),
// without publishing anything: the event is lost.
func (f *fixture) move(id, status string, version int64) {
	f.t.Helper()
	f.exec(`UPDATE orders SET status = $1, version = $2, updated_at = $3 WHERE id = $4`,
		status, version, store.Now(t0.Add(time.Duration(version)*time.Minute)), id)
}

// wantStatus checks e is the status event for version with status.
func wantStatus(t testing.TB, e sse, status string, version int64) {
	t.Helper()
	if e.Event != "status" || e.ID != fmt.Sprint(version) || decode[statusData](t, e.Data).Status != status {
		t.Errorf("got event %+v, want status %s with id %d", e, status, version)
	}
}

// TestEventStreamWithoutEvents is failure 7 of issue 5: every order and delivery event is lost
// (nothing is published, as with a stopped relay or a broker that takes nothing), yet the
// watcher gets each status from the store within seconds, learns who carries the order, and
// the final status ends the stream.
func TestEventStreamWithoutEvents(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		follow bool // whether the service follows the bus at all
	}{
		{"events lost", true},
		{"bus not followed", false},
	} {
		for _, d := range tiffintest.Backends {
			t.Run(fmt.Sprint(tt.name, "/", d), func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, d, Config{StatusPoll: 100 * time.Millisecond})
				if tt.follow {
					f.run()
				}
				f.order("o1", "accepted", 3)
				s, code := f.openStream("o1", f.token("u1", auth.Customer))
				if code != http.StatusOK {
					t.Fatalf("open stream: status %d", code)
				}
				wantStatus(t, s.next(), "accepted", 3)

				const within = 5 * time.Second
				f.move("o1", "ready", 4)
				wantStatus(t, s.nextWithin(within), "ready", 4)

				// delivery.assigned is lost too: the stream learns the courier from the store.
				if got, body := f.post("/v1/courier/locations", f.token("c1", auth.Courier), []byte(`{"fixes":[{"lat":12.95,"lng":77.63}]}`)); got != http.StatusAccepted {
					t.Fatalf("fix: %d %s", got, body)
				}
				f.exec(`INSERT INTO deliveries (order_id, region, restaurant_id, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng,
					status, courier_id, created_at, updated_at) VALUES ('o1', 'r1', 'rest1', 12.93, 77.62, 12.97, 77.64, 'assigned', 'c1', 0, 0)`)
				e := s.nextWithin(within)
				if got := decode[locationData](t, e.Data); e.Event != "location" || got.CourierID != "c1" || got.Lat != 12.95 {
					t.Errorf("event %+v, want c1's position", e)
				}

				f.move("o1", "picked_up", 5)
				wantStatus(t, s.nextWithin(within), "picked_up", 5)
				f.move("o1", "delivered", 6)
				e = s.nextWithin(within)
				wantStatus(t, e, "delivered", 6)
				if got := decode[statusData](t, e.Data); !got.At.Equal(t0.Add(6 * time.Minute)) {
					t.Errorf("delivered at %v, want the store's %v", got.At, t0.Add(6*time.Minute))
				}
				s.ended()
			})
		}
	}
}

// TestEventStreamResume reconnects with Last-Event-ID while the bus repeats and reorders
// events and the store is polled often: the client gets each status once, newest last, and
// one that already has the final status is told to stop (204).
func TestEventStreamResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.SQLite, Config{StatusPoll: 20 * time.Millisecond})
	f.run()
	f.order("o1", "ready", 3)
	customer := f.token("u1", auth.Customer)
	publish := func(status string, version int64) {
		t.Helper()
		f.publish(event.Type("order."+status), event.Order{OrderID: "o1", Status: status,
			At: t0.Add(time.Duration(version) * time.Minute), OrderVersion: version})
	}

	s, _ := f.openStream("o1", customer)
	wantStatus(t, s.next(), "ready", 3)
	s.close()

	// picked_up happens while the client is away, and its event is lost.
	f.move("o1", "picked_up", 4)
	s, code := f.resumeStream("o1", customer, "3")
	if code != http.StatusOK {
		t.Fatalf("resume from 3: status %d", code)
	}
	wantStatus(t, s.next(), "picked_up", 4)
	s.close()

	// Back with the latest status: nothing is sent again, and late and repeated events (a relay
	// republishing, the outbox replayed) change nothing; the next event is the next version.
	s, code = f.resumeStream("o1", customer, "4")
	if code != http.StatusOK {
		t.Fatalf("resume from 4: status %d", code)
	}
	publish("ready", 3)
	publish("picked_up", 4)
	publish("picked_up", 4)
	f.move("o1", "delivered", 5)
	publish("delivered", 5)
	wantStatus(t, s.next(), "delivered", 5)
	s.ended()

	for _, tt := range []struct {
		lastEventID string
		want        int
		wantID      string // of the one event sent, for 200s
	}{
		{"5", http.StatusNoContent, ""},
		{"4", http.StatusOK, "5"},
		{"", http.StatusOK, "5"},
		{"6", http.StatusOK, "5"},    // never an id of this order: ignored
		{"soon", http.StatusOK, "5"}, // not a version: ignored
	} {
		s, code := f.resumeStream("o1", customer, tt.lastEventID)
		if code != tt.want {
			t.Errorf("resume from %q: status %d, want %d", tt.lastEventID, code, tt.want)
			continue
		}
		if code == http.StatusOK {
			wantStatus(t, s.next(), "delivered", 5)
			s.ended()
		}
	}
}

// TestEventStreamUnversionedEvent checks an order event without a version (published before
// events carried one) makes the stream read the store rather than guess where it belongs.
func TestEventStreamUnversionedEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.SQLite, Config{StatusPoll: time.Hour})
	f.run()
	f.order("o1", "ready", 3)
	s, _ := f.openStream("o1", f.token("u1", auth.Customer))
	wantStatus(t, s.next(), "ready", 3)
	f.move("o1", "picked_up", 4)
	f.publish(event.OrderPickedUp, event.Order{OrderID: "o1", Status: "picked_up", At: t0})
	wantStatus(t, s.next(), "picked_up", 4)
}

func TestLastEventID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		header string
		want   int64
	}{
		{"", 0}, {"3", 3}, {"7", 7}, {"8", 0}, {"0", 0}, {"-1", 0}, {"3.0", 0}, {" 3", 0}, {"99999999999999999999", 0},
	} {
		r := httptest.NewRequest(http.MethodGet, "/v1/orders/o1/events", nil)
		if tt.header != "" {
			r.Header.Set("Last-Event-ID", tt.header)
		}
		if got := lastEventID(r, 7); got != tt.want {
			t.Errorf("Last-Event-ID %q: got %d, want %d", tt.header, got, tt.want)
		}
	}
}
