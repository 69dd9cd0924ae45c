package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

func countOrders(t *testing.T, a *apptest.App) int {
	t.Helper()
	var n int
	if err := a.DB().QueryRow(`SELECT COUNT(*) FROM orders`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBadOrdersWriteNothing sends malformed and invalid checkouts and wants each refused with
// a 4xx problem+json that names what is wrong, and not one row written.
func TestBadOrdersWriteNothing(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, nil)
	m := seed(t, a, "r-1", "owner-1")
	ops := a.Token(auth.Ops, "ops-1")
	closed := a.Do("PUT", "/v1/restaurants/r-closed", ops, map[string]any{
		"owner_id": "owner-2", "name": "Night Owl", "lat": 12.97, "lng": 77.59, "opens_minute": 1, "closes_minute": 2,
	})
	if closed.Status >= 300 {
		t.Fatalf("put closed restaurant: %d %s", closed.Status, closed.Body)
	}
	if r := a.Do("PUT", "/v1/restaurants/r-closed/menu", a.Token(auth.Restaurant, "owner-2"), map[string]any{
		"items": []map[string]any{{"id": "late-1", "name": "Maggi", "price": 5000}}}); r.Status != http.StatusOK {
		t.Fatalf("put menu: %d %s", r.Status, r.Body)
	}
	customer := a.Token(auth.Customer, "cust-1")
	item := m.Items[0].ID
	good := orderBody("r-1", item, 1)
	tests := []struct {
		name   string
		token  string
		key    string
		body   any
		status int
		names  string // what the problem must mention (a location or a phrase)
	}{
		{"malformed JSON", customer, "k1", `{"restaurant_id": "r-1", "items": [`, 400, ""},
		{"unknown field", customer, "k2", `{"restaurant_id":"r-1","items":[{"menu_item_id":"` + item + `","quantity":1}],"delivery":{"lat":12.93,"lng":77.62},"tip":5}`, 422, "tip"},
		{"zero quantity", customer, "k3", orderBody("r-1", item, 0), 422, "body.items[0].quantity"},
		{"negative quantity", customer, "k4", orderBody("r-1", item, -2), 422, "body.items[0].quantity"},
		{"no items", customer, "k5", map[string]any{"restaurant_id": "r-1", "items": []any{}, "delivery": map[string]any{"lat": 12.9, "lng": 77.6}}, 422, "body.items"},
		{"unknown item", customer, "k6", orderBody("r-1", "no-such-item", 1), 422, "body.items[0].menu_item_id"},
		{"unavailable item", customer, "k7", orderBody("r-1", "r-1-sold-out", 1), 422, "body.items[0].menu_item_id"},
		{"more than stock", customer, "k8", orderBody("r-1", "r-1-filter-coffee", 4), 422, "body.items[0].quantity"},
		{"unknown restaurant", customer, "k9", orderBody("r-nope", item, 1), 422, "body.restaurant_id"},
		{"closed restaurant", customer, "k10", orderBody("r-closed", "late-1", 1), 422, "closed"},
		{"bad delivery", customer, "k11", map[string]any{"restaurant_id": "r-1", "items": []map[string]any{{"menu_item_id": item, "quantity": 1}}, "delivery": map[string]any{"lat": 91, "lng": 77.6}}, 422, "body.delivery.lat"},
		{"too far", customer, "k12", map[string]any{"restaurant_id": "r-1", "items": []map[string]any{{"menu_item_id": item, "quantity": 1}}, "delivery": map[string]any{"lat": 13.9, "lng": 77.6}}, 422, "body.delivery"},
		{"missing Idempotency-Key", customer, "", good, 422, "Idempotency-Key"},
		{"no token", "", "k13", good, 401, ""},
		{"courier may not order", a.Token(auth.Courier, "c-1"), "k14", good, 403, ""},
		{"ops without customer", ops, "k15", good, 422, "body.customer_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.key != "" {
				hdr = []string{"Idempotency-Key", tt.key}
			}
			r := a.Do("POST", "/v1/orders", tt.token, tt.body, hdr...)
			if r.Status != tt.status {
				t.Fatalf("got %d %s, want %d", r.Status, r.Body, tt.status)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("content type %q, want application/problem+json", ct)
			}
			var p problem
			if err := json.Unmarshal(r.Body, &p); err != nil || p.Status != tt.status {
				t.Errorf("not a problem document with status %d: %s", tt.status, r.Body)
			}
			if tt.names != "" && !strings.Contains(string(r.Body), tt.names) {
				t.Errorf("problem %s does not name %q", r.Body, tt.names)
			}
		})
	}
	if n := countOrders(t, a); n != 0 {
		t.Errorf("bad requests wrote %d orders, want 0", n)
	}
	var keys int
	a.DB().QueryRow(`SELECT COUNT(*) FROM idempotency_keys`).Scan(&keys)
	if keys != 0 {
		t.Errorf("bad requests left %d idempotency keys, want 0", keys)
	}
	// A corrected request may reuse a key whose first use was refused.
	if r := a.Do("POST", "/v1/orders", customer, good, "Idempotency-Key", "k3"); r.Status != http.StatusCreated {
		t.Errorf("corrected retry with a refused key: got %d %s, want 201", r.Status, r.Body)
	}
}

// TestConcurrentDuplicates fires the same checkout with one Idempotency-Key many times at once:
// exactly one order is created; every answer is that order (201) or "in progress" (409).
func TestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, nil)
	m := seed(t, a, "r-1", "owner-1")
	customer := a.Token(auth.Customer, "cust-1")
	body := orderBody("r-1", m.Items[0].ID, 1)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]bool{}
	statuses := map[int]int{}
	for range 16 {
		wg.Go(func() {
			r := a.Do("POST", "/v1/orders", customer, body, "Idempotency-Key", "same")
			mu.Lock()
			defer mu.Unlock()
			statuses[r.Status]++
			if r.Status == http.StatusCreated {
				var o order
				json.Unmarshal(r.Body, &o)
				ids[o.ID] = true
			}
		})
	}
	wg.Wait()
	if len(ids) != 1 || statuses[http.StatusCreated]+statuses[http.StatusConflict] != 16 {
		t.Errorf("got statuses %v and %d distinct orders, want only 201/409 and 1 order", statuses, len(ids))
	}
	if n := countOrders(t, a); n != 1 {
		t.Errorf("%d orders in the store, want 1", n)
	}
}

// TestEveryRouteEnforcesAuth reads the OpenAPI document and calls every operation that
// declares bearer security without a token (want 401) and, for role-restricted ones, with a
// role it does not allow (want 403).
func TestEveryRouteEnforcesAuth(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, nil)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string                `json:"operationId"`
			Security    []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	r := a.Do("GET", "/v1/openapi.json", "", nil)
	r.JSON(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi version %q, want 3.1.x", doc.OpenAPI)
	}
	public := map[string]bool{"list-restaurants": true, "get-restaurant": true, "get-menu": true,
		"login": true, "refresh": true, "logout": true} // local accounts' credentials are in the body
	checked := 0
	for path, ops := range doc.Paths {
		concrete := strings.NewReplacer("{id}", "x", "{item_id}", "y", "{offer_id}", "z", "{carrier}", "carrier").Replace(path)
		for method, op := range ops {
			if len(op.Security) == 0 {
				if !public[op.OperationID] {
					t.Errorf("%s %s (%s) needs no token; only catalog reads and the login routes may be public", method, path, op.OperationID)
				}
				continue
			}
			checked++
			resp := a.Do(strings.ToUpper(method), concrete, "", "{}")
			if resp.Status != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: got %d, want 401", method, path, resp.Status)
			}
			resp = a.Do(strings.ToUpper(method), concrete, "not-a-token", "{}")
			if resp.Status != http.StatusUnauthorized {
				t.Errorf("%s %s with a bad token: got %d, want 401", method, path, resp.Status)
			}
		}
	}
	if checked < 15 {
		t.Errorf("only %d protected operations found, want at least 15", checked)
	}
}

// TestOwnObjectsOnly: ops places an order for a customer; that customer sees it, another
// customer, another restaurant and a courier who doesn't carry it don't, in reads or lists.
func TestOwnObjectsOnly(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, store.SQLite, nil)
	m := seed(t, a, "r-1", "owner-1")
	seed(t, a, "r-2", "owner-2")
	ops := a.Token(auth.Ops, "ops-1")
	body := orderBody("r-1", m.Items[0].ID, 1)
	body["customer_id"] = "cust-1"
	r := a.Do("POST", "/v1/orders", ops, body, "Idempotency-Key", "ops-k1")
	if r.Status != http.StatusCreated {
		t.Fatalf("ops places for a customer: got %d %s", r.Status, r.Body)
	}
	var o struct {
		ID         string `json:"id"`
		CustomerID string `json:"customer_id"`
		PlacedBy   string `json:"placed_by"`
	}
	r.JSON(t, &o)
	if o.CustomerID != "cust-1" || o.PlacedBy != "ops:ops-1" {
		t.Errorf("order placed for %q by %q, want cust-1 by ops:ops-1", o.CustomerID, o.PlacedBy)
	}
	type list struct {
		Orders []struct {
			ID string `json:"id"`
		} `json:"orders"`
	}
	for _, tt := range []struct {
		who   string
		token string
		sees  bool
	}{
		{"its customer", a.Token(auth.Customer, "cust-1"), true},
		{"its restaurant", a.Token(auth.Restaurant, "owner-1"), true},
		{"ops", ops, true},
		{"another customer", a.Token(auth.Customer, "cust-2"), false},
		{"another restaurant", a.Token(auth.Restaurant, "owner-2"), false},
		{"a courier not carrying it", a.Token(auth.Courier, "courier-9"), false},
	} {
		got := a.Do("GET", "/v1/orders/"+o.ID, tt.token, nil)
		if want := map[bool]int{true: 200, false: 404}[tt.sees]; got.Status != want {
			t.Errorf("%s reads the order: got %d, want %d", tt.who, got.Status, want)
		}
		var l list
		a.Do("GET", "/v1/orders", tt.token, nil).JSON(t, &l)
		listed := len(l.Orders) == 1 && l.Orders[0].ID == o.ID
		if listed != tt.sees || (!tt.sees && len(l.Orders) != 0) {
			t.Errorf("%s lists %d orders (ours listed: %v), want ours listed: %v and nothing else", tt.who, len(l.Orders), listed, tt.sees)
		}
	}
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/accept", a.Token(auth.Restaurant, "owner-2"), nil); r.Status != http.StatusNotFound {
		t.Errorf("another restaurant accepts: got %d, want 404", r.Status)
	}
	if r := a.Do("PUT", "/v1/restaurants/r-1/menu", a.Token(auth.Restaurant, "owner-2"), map[string]any{"items": []map[string]any{{"name": "x", "price": 1}}}); r.Status != http.StatusForbidden {
		t.Errorf("another restaurant edits the menu: got %d, want 403", r.Status)
	}
}
