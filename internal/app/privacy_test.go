package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// The customer of the privacy tests, every personal value of whom is looked for where it
// must not be.
var (
	privName     = "Meera Krishnan"
	privEmail    = "meera.k@example.org"
	privPhone    = "+919845012345"
	privStreet   = "14 Temple Row Lane"
	privPostcode = "560041"
	privLat      = 12.93517
	privLng      = 77.62448
)

func privateValues() []string {
	return []string{privName, privEmail, privPhone, privStreet, fmt.Sprint(privLat), fmt.Sprint(privLng)}
}

// keysIn lists every object key anywhere in a decoded JSON value.
func keysIn(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out = append(out, k)
			out = append(out, keysIn(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, keysIn(e)...)
		}
	}
	return out
}

// checkView decodes an answer and fails for any key of absent found anywhere in it, any key
// of present missing, and any of the customer's personal values in it when values is true.
func checkView(t *testing.T, what string, r apptest.Response, present, absent []string, noValues bool) map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: got %d %s", what, r.Status, r.Body)
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("%s: decode %s: %v", what, r.Body, err)
	}
	keys := keysIn(v)
	for _, k := range absent {
		if slices.Contains(keys, k) {
			t.Errorf("%s: has %q, want it absent: %s", what, k, r.Body)
		}
	}
	for _, k := range present {
		if !slices.Contains(keys, k) {
			t.Errorf("%s: no %q, want it present: %s", what, k, r.Body)
		}
	}
	if noValues {
		for _, s := range privateValues() {
			if strings.Contains(string(r.Body), s) {
				t.Errorf("%s: carries the customer's %q: %s", what, s, r.Body)
			}
		}
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
	}
	if n := r.Header.Get("X-Content-Type-Options"); n != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, n)
	}
	m, _ := v.(map[string]any)
	return m
}

// journey is one order carried from checkout to the door by a customer on record, with
// hooks to look at every role's views on the way.
type journey struct {
	a                                  *apptest.App
	ops, customer, restaurant, courier string
	orderID                            string
}

// runJourney places an order for the customer "cust-priv" (on record with a name, phone,
// e-mail and address) at restaurant "r-priv" and carries it to the door; at each step it calls
// look with the step's name.
func runJourney(t *testing.T, a *apptest.App, look func(j *journey, step string)) *journey {
	t.Helper()
	j := &journey{a: a, ops: a.Token(auth.Ops, "ops-1"), customer: a.Token(auth.Customer, "cust-priv"),
		restaurant: a.Token(auth.Restaurant, "owner-priv"), courier: a.Token(auth.Courier, "courier-priv")}
	m := seed(t, a, "r-priv", "owner-priv")
	r := a.Do("PUT", "/v1/customers/cust-priv", j.ops, map[string]any{
		"name": privName, "email": privEmail, "phone": privPhone, "language": "en",
		"address": map[string]any{"line1": privStreet, "city": "Bengaluru", "postcode": privPostcode, "country": "IN", "lat": privLat, "lng": privLng},
	})
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		t.Fatalf("put customer: got %d %s", r.Status, r.Body)
	}
	if r := a.Do("PUT", "/v1/courier/shift", j.courier, map[string]any{"on_shift": true, "lat": 12.97, "lng": 77.59}); r.Status != http.StatusOK {
		t.Fatalf("shift on: got %d %s", r.Status, r.Body)
	}
	body := orderBody("r-priv", m.Items[0].ID, 1)
	body["delivery"] = map[string]any{"lat": privLat, "lng": privLng}
	r = a.Do("POST", "/v1/orders", j.customer, body, "Idempotency-Key", "priv-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("place: got %d %s", r.Status, r.Body)
	}
	var o order
	r.JSON(t, &o)
	j.orderID = o.ID
	waitStatus(t, a, j.customer, o.ID, "paid")
	look(j, "paid")
	for _, step := range []string{"accept", "preparing", "ready"} {
		if r := a.Do("POST", "/v1/orders/"+o.ID+"/"+step, j.restaurant, nil); r.Status != http.StatusOK {
			t.Fatalf("restaurant %s: got %d %s", step, r.Status, r.Body)
		}
	}
	var offer struct {
		OfferID string `json:"offer_id"`
	}
	tiffintest.Eventually(t, 20*time.Second, func() (bool, string) {
		r := a.Do("GET", "/v1/courier/offer", j.courier, nil)
		if r.Status != http.StatusOK {
			return false, fmt.Sprintf("offer: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &offer)
		return true, ""
	})
	look(j, "offered")
	if r := a.Do("POST", "/v1/courier/offers/"+offer.OfferID+"/accept", j.courier, nil); r.Status != http.StatusOK {
		t.Fatalf("accept offer: got %d %s", r.Status, r.Body)
	}
	look(j, "assigned")
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/picked-up", j.courier, nil); r.Status != http.StatusOK {
		t.Fatalf("picked up: got %d %s", r.Status, r.Body)
	}
	look(j, "picked_up")
	if r := a.Do("POST", "/v1/orders/"+o.ID+"/delivered", j.courier, nil); r.Status != http.StatusOK {
		t.Fatalf("delivered: got %d %s", r.Status, r.Body)
	}
	tiffintest.Eventually(t, 20*time.Second, func() (bool, string) {
		r := a.Do("GET", "/v1/notifications", j.customer, nil)
		return r.Status == http.StatusOK && strings.Contains(string(r.Body), `"delivered"`), string(r.Body)
	})
	look(j, "delivered")
	return j
}

// customerKeys are the keys that name the customer or where they live.
var customerKeys = []string{"customer_id", "delivery", "address", "dropoff", "placed_by", "line1", "postcode", "email", "phone"}

// TestViewsMinimised carries an order through every step and reads it as each role, at each
// step, in every view that role has (the order, the order list, the offer, the route, the
// delivery): restaurants never see who the customer is or where they live, couriers see the
// drop-off only while they carry the order, only ops see which operator placed an order, and
// every authenticated answer is Cache-Control: no-store and nosniff. Keys are checked
// anywhere in the answer, so a new leaking field fails too.
func TestViewsMinimised(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a := apptest.Start(t, d, func(c *app.Config) { c.WebhooksAllowLoopback = true })
			// The restaurant's webhook endpoint and an integrator's (ops) hear the same events.
			hooks := map[string]*bodies{}
			for _, owner := range []string{"restaurant", "ops"} {
				b := &bodies{}
				srv := httptest.NewServer(b)
				t.Cleanup(srv.Close)
				tok := a.Token(auth.Restaurant, "owner-priv")
				if owner == "ops" {
					tok = a.Token(auth.Ops, "integrator-1")
				}
				r := a.Do("POST", "/v1/webhooks", tok, map[string]any{"url": srv.URL + "/hooks", "events": []string{"order.accepted", "order.delivered"}})
				if r.Status != http.StatusCreated {
					t.Fatalf("register %s webhook: got %d %s", owner, r.Status, r.Body)
				}
				hooks[owner] = b
			}
			runJourney(t, a, func(j *journey, step string) {
				id := j.orderID
				// The restaurant: what it needs to cook, never the customer.
				o := checkView(t, step+": restaurant order", a.Do("GET", "/v1/orders/"+id, j.restaurant, nil),
					[]string{"id", "code", "items", "status"}, customerKeys, true)
				if code, _ := o["code"].(string); len(code) != 6 {
					t.Errorf("%s: restaurant order code %q, want 6 characters", step, code)
				}
				checkView(t, step+": restaurant list", a.Do("GET", "/v1/orders", j.restaurant, nil),
					[]string{"orders", "items", "code"}, customerKeys, true)
				// The customer: its order whole, but not which operator placed it.
				o = checkView(t, step+": customer order", a.Do("GET", "/v1/orders/"+id, j.customer, nil),
					[]string{"customer_id", "delivery", "placed_by"}, nil, false)
				if o["placed_by"] != "customer" {
					t.Errorf("%s: customer sees placed_by %v, want customer", step, o["placed_by"])
				}
				// Ops: everything.
				o = checkView(t, step+": ops order", a.Do("GET", "/v1/orders/"+id, j.ops, nil),
					[]string{"customer_id", "delivery", "placed_by"}, nil, false)
				if o["placed_by"] != "customer:cust-priv" {
					t.Errorf("%s: ops see placed_by %v, want customer:cust-priv", step, o["placed_by"])
				}
				// The courier.
				switch step {
				case "offered":
					checkView(t, step+": courier offer", a.Do("GET", "/v1/courier/offer", j.courier, nil),
						[]string{"dropoff_area"}, customerKeys, true)
				case "assigned", "picked_up":
					checkView(t, step+": courier order", a.Do("GET", "/v1/orders/"+id, j.courier, nil),
						[]string{"delivery"}, []string{"customer_id", "placed_by", "email", "phone"}, false)
					checkView(t, step+": courier route", a.Do("GET", "/v1/courier/route", j.courier, nil),
						[]string{"dropoff"}, []string{"customer_id", "placed_by"}, false)
					checkView(t, step+": courier delivery", a.Do("GET", "/v1/courier/delivery", j.courier, nil),
						[]string{"dropoff"}, []string{"customer_id", "placed_by"}, false)
					checkView(t, step+": courier list", a.Do("GET", "/v1/orders", j.courier, nil),
						[]string{"delivery"}, []string{"customer_id", "placed_by"}, false)
				case "delivered":
					checkView(t, step+": courier order", a.Do("GET", "/v1/orders/"+id, j.courier, nil),
						[]string{"status"}, customerKeys, true)
					checkView(t, step+": courier list", a.Do("GET", "/v1/orders", j.courier, nil),
						[]string{"orders"}, customerKeys, true)
					if r := a.Do("GET", "/v1/courier/route", j.courier, nil); r.Status == http.StatusOK {
						checkView(t, step+": courier route", r, nil, customerKeys, true)
					}
				}
			})

			// An order ops placed for the customer: the customer learns it was support,
			// not which operator.
			ops := a.Token(auth.Ops, "ops-1")
			var m menu
			a.Do("GET", "/v1/restaurants/r-priv/menu", "", nil).JSON(t, &m)
			body := orderBody("r-priv", m.Items[0].ID, 1)
			body["customer_id"] = "cust-priv"
			r := a.Do("POST", "/v1/orders", ops, body, "Idempotency-Key", "priv-ops-1")
			if r.Status != http.StatusCreated {
				t.Fatalf("ops place: got %d %s", r.Status, r.Body)
			}
			var o order
			r.JSON(t, &o)
			customer := a.Token(auth.Customer, "cust-priv")
			got := checkView(t, "customer order placed by ops", a.Do("GET", "/v1/orders/"+o.ID, customer, nil), []string{"placed_by"}, nil, false)
			if got["placed_by"] != "support" {
				t.Errorf("customer sees placed_by %v, want support", got["placed_by"])
			}
			got = checkView(t, "ops order placed by ops", a.Do("GET", "/v1/orders/"+o.ID, ops, nil), []string{"placed_by"}, nil, false)
			if got["placed_by"] != "ops:ops-1" {
				t.Errorf("ops see placed_by %v, want ops:ops-1", got["placed_by"])
			}
			for _, s := range []string{"ops:ops-1", "ops-1"} {
				if r := a.Do("GET", "/v1/orders/"+o.ID, customer, nil); strings.Contains(string(r.Body), s) {
					t.Errorf("customer's view names the operator %q: %s", s, r.Body)
				}
			}

			// Webhooks: the restaurant's events carry nothing of the customer; ops' carry its ID.
			tiffintest.Eventually(t, 20*time.Second, func() (bool, string) {
				nr, no := len(hooks["restaurant"].all()), len(hooks["ops"].all())
				return nr >= 2 && no >= 2, fmt.Sprintf("restaurant got %d events, ops %d, want 2 each", nr, no)
			})
			for _, body := range hooks["restaurant"].all() {
				var v any
				if err := json.Unmarshal(body, &v); err != nil {
					t.Fatalf("restaurant webhook body %s: %v", body, err)
				}
				for _, k := range customerKeys {
					if slices.Contains(keysIn(v), k) {
						t.Errorf("restaurant webhook event has %q: %s", k, body)
					}
				}
			}
			for _, body := range hooks["ops"].all() {
				if !strings.Contains(string(body), `"customer_id":"cust-priv"`) {
					t.Errorf("ops webhook event lacks the customer's ID: %s", body)
				}
			}

			// Every answer is nosniff, anonymous ones too; anonymous public reads may be cached.
			for _, path := range []string{"/healthz", "/v1/restaurants/r-priv", "/v1/nowhere"} {
				r := a.Do("GET", path, "", nil)
				if n := r.Header.Get("X-Content-Type-Options"); n != "nosniff" {
					t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", path, n)
				}
			}
			if r := a.Do("GET", "/v1/orders", "not-a-token", nil); r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("a refused token's answer: Cache-Control %q, X-Content-Type-Options %q", r.Header.Get("Cache-Control"), r.Header.Get("X-Content-Type-Options"))
			}
		})
	}
}

// bodies is a webhook receiver keeping every body it is sent.
type bodies struct {
	mu  sync.Mutex
	got [][]byte
}

func (b *bodies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.got = append(b.got, body)
	b.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (b *bodies) all() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}
