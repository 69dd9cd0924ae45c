package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

type order struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Total     int64  `json:"total"`
	CourierID string `json:"courier_id"`
	History   []struct {
		Status string `json:"status"`
	} `json:"history"`
}

type menu struct {
	Items []struct {
		ID    string `json:"id"`
		Price int64  `json:"price"`
	} `json:"items"`
}

// seed creates one restaurant with a menu, owned by owner, and returns the menu.
func seed(t *testing.T, a *apptest.App, id, owner string) menu {
	t.Helper()
	ops := a.Token(auth.Ops, "ops-1")
	r := a.Do("PUT", "/v1/restaurants/"+id, ops, map[string]any{
		"owner_id": owner, "name": "Dosa Corner", "lat": 12.9716, "lng": 77.5946, "prep_minutes": 10,
	})
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		t.Fatalf("put restaurant: got %d %s", r.Status, r.Body)
	}
	rt := a.Token(auth.Restaurant, owner)
	r = a.Do("PUT", "/v1/restaurants/"+id+"/menu", rt, map[string]any{"items": []map[string]any{
		{"id": id + "-masala-dosa", "name": "Masala dosa", "price": 12000},
		{"id": id + "-filter-coffee", "name": "Filter coffee", "price": 4000, "stock": 3},
		{"id": id + "-sold-out", "name": "Pongal", "price": 9000, "available": false},
	}})
	if r.Status != http.StatusOK {
		t.Fatalf("put menu: got %d %s", r.Status, r.Body)
	}
	var m menu
	a.Do("GET", "/v1/restaurants/"+id+"/menu", "", nil).JSON(t, &m)
	if len(m.Items) != 3 {
		t.Fatalf("menu has %d items, want 3", len(m.Items))
	}
	return m
}

func orderBody(restaurant, item string, qty int) map[string]any {
	return map[string]any{
		"restaurant_id": restaurant,
		"items":         []map[string]any{{"menu_item_id": item, "quantity": qty}},
		"delivery":      map[string]any{"lat": 12.9352, "lng": 77.6245},
	}
}

// waitStatus polls the order until it reaches want.
func waitStatus(t *testing.T, a *apptest.App, token, id, want string) order {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var o order
	for time.Now().Before(deadline) {
		r := a.Do("GET", "/v1/orders/"+id, token, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("get order: got %d %s", r.Status, r.Body)
		}
		r.JSON(t, &o)
		if o.Status == want {
			return o
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("order %s is %s, want %s", id, o.Status, want)
	return o
}

// TestOrderJourney boots the whole app and drives one order over HTTP as customer,
// restaurant and courier from checkout to the door, on every store backend, while the
// customer watches it over SSE.
func TestOrderJourney(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.Start(t, d, nil)
			m := seed(t, a, "r-1", "owner-1")
			customer := a.Token(auth.Customer, "cust-1")
			restaurant := a.Token(auth.Restaurant, "owner-1")
			courier := a.Token(auth.Courier, "courier-1")

			if r := a.Do("PUT", "/v1/courier/shift", courier, map[string]any{"on_shift": true, "vehicle": "bike", "lat": 12.97, "lng": 77.59}); r.Status != http.StatusOK {
				t.Fatalf("shift on: got %d %s", r.Status, r.Body)
			}
			if r := a.Do("POST", "/v1/courier/locations", courier, map[string]any{"fixes": []map[string]any{{"lat": 12.9701, "lng": 77.5901}}}); r.Status != http.StatusAccepted {
				t.Fatalf("location: got %d %s", r.Status, r.Body)
			}

			body := orderBody("r-1", m.Items[0].ID, 2)
			r := a.Do("POST", "/v1/orders", customer, body, "Idempotency-Key", "k-1")
			if r.Status != http.StatusCreated {
				t.Fatalf("place order: got %d %s", r.Status, r.Body)
			}
			var placed order
			r.JSON(t, &placed)
			if placed.Status != "placed" || placed.Total != 2*12000+3000 {
				t.Fatalf("placed order: got status %s total %d, want placed %d", placed.Status, placed.Total, 2*12000+3000)
			}

			replay := a.Do("POST", "/v1/orders", customer, body, "Idempotency-Key", "k-1")
			if replay.Status != http.StatusCreated || string(replay.Body) != string(r.Body) {
				t.Fatalf("replay: got %d %s, want 201 with the first body %s", replay.Status, replay.Body, r.Body)
			}
			if mismatch := a.Do("POST", "/v1/orders", customer, orderBody("r-1", m.Items[0].ID, 3), "Idempotency-Key", "k-1"); mismatch.Status != http.StatusUnprocessableEntity {
				t.Fatalf("same key, other body: got %d %s, want 422", mismatch.Status, mismatch.Body)
			}

			events := watch(t, a, customer, placed.ID)

			waitStatus(t, a, customer, placed.ID, "paid")
			for _, step := range []string{"accept", "preparing", "ready"} {
				if r := a.Do("POST", "/v1/orders/"+placed.ID+"/"+step, restaurant, nil); r.Status != http.StatusOK {
					t.Fatalf("restaurant %s: got %d %s", step, r.Status, r.Body)
				}
			}

			var offer struct {
				OfferID string `json:"offer_id"`
				OrderID string `json:"order_id"`
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				r := a.Do("GET", "/v1/courier/offer", courier, nil)
				if r.Status == http.StatusOK {
					r.JSON(t, &offer)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no offer reached the courier: last %d %s", r.Status, r.Body)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if offer.OrderID != placed.ID {
				t.Fatalf("offer for %s, want %s", offer.OrderID, placed.ID)
			}
			other := a.Token(auth.Courier, "courier-2")
			if r := a.Do("POST", "/v1/courier/offers/"+offer.OfferID+"/accept", other, nil); r.Status != http.StatusForbidden {
				t.Fatalf("someone else's offer: got %d %s, want 403", r.Status, r.Body)
			}
			if r := a.Do("POST", "/v1/courier/offers/"+offer.OfferID+"/accept", courier, nil); r.Status != http.StatusOK {
				t.Fatalf("accept offer: got %d %s", r.Status, r.Body)
			}
			// Now that it carries the order, the courier's position reaches the customer.
			if r := a.Do("POST", "/v1/courier/locations", courier, map[string]any{"fixes": []map[string]any{{"lat": 12.9650, "lng": 77.6000}}}); r.Status != http.StatusAccepted {
				t.Fatalf("location: got %d %s", r.Status, r.Body)
			}
			for _, step := range []string{"picked-up", "delivered"} {
				if r := a.Do("POST", "/v1/orders/"+placed.ID+"/"+step, courier, nil); r.Status != http.StatusOK {
					t.Fatalf("courier %s: got %d %s", step, r.Status, r.Body)
				}
			}
			done := waitStatus(t, a, customer, placed.ID, "delivered")
			var got []string
			for _, h := range done.History {
				got = append(got, h.Status)
			}
			want := "placed paid accepted preparing ready picked_up delivered"
			if strings.Join(got, " ") != want {
				t.Errorf("history: got %v, want %s", got, want)
			}
			if done.CourierID != "courier-1" {
				t.Errorf("courier: got %q, want courier-1", done.CourierID)
			}

			select {
			case seen := <-events:
				if !strings.Contains(strings.Join(seen, " "), "delivered") {
					t.Errorf("SSE statuses %v never reached delivered", seen)
				}
				// From the bus and the store alike, each status comes once and in order.
				var statuses []string
				for _, e := range seen {
					if !strings.HasPrefix(e, "location:") {
						statuses = append(statuses, e)
					}
				}
				if !strings.HasSuffix(want, strings.Join(statuses, " ")) {
					t.Errorf("SSE statuses %v, want the end of %q, each once", statuses, want)
				}
				if !slices.Contains(seen, "location:courier-1") {
					t.Errorf("SSE events %v carry no position of the courier carrying the order", seen)
				}
			case <-time.After(20 * time.Second):
				t.Error("SSE stream did not end after delivery")
			}

			metrics := a.Metrics()
			if !strings.Contains(metrics, `tiffin_orders_total{status="delivered"} 1`) {
				t.Errorf("metrics lack tiffin_orders_total{status=\"delivered\"} 1:\n%s", grep(metrics, "tiffin_orders_total"))
			}
		})
	}
}

// watch opens the order's event stream and returns a channel that gets the statuses seen once
// the stream ends.
func watch(t *testing.T, a *apptest.App, token, id string) <-chan []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", a.URL+"/v1/orders/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("open event stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event stream: got %d", resp.StatusCode)
	}
	out := make(chan []string, 1)
	go func() {
		defer resp.Body.Close()
		var statuses []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if data, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(data, `"courier_id"`) {
				var l struct {
					CourierID string `json:"courier_id"`
				}
				json.Unmarshal([]byte(data), &l)
				statuses = append(statuses, "location:"+l.CourierID)
			} else if ok && strings.Contains(data, `"status"`) {
				for _, s := range []string{"placed", "paid", "accepted", "preparing", "ready", "picked_up", "delivered"} {
					if strings.Contains(data, fmt.Sprintf(`"status":%q`, s)) {
						statuses = append(statuses, s)
					}
				}
			}
		}
		out <- statuses
	}()
	return out
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
