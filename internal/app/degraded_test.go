package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/app"
	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// timed sends a request and fails the test if it takes longer than within: the bound a
// request must answer in while the database is down (a hang, not a latency target).
func timed(t *testing.T, a *apptest.App, within time.Duration, method, path, token string, body any, headers ...string) apptest.Response {
	t.Helper()
	start := time.Now()
	r := a.Do(method, path, token, body, headers...)
	if d := time.Since(start); d > within {
		t.Errorf("%s %s took %v while the database was down, want under %v", method, path, d.Round(time.Millisecond), within)
	}
	return r
}

func isStale(r apptest.Response) bool {
	return r.Header.Get("X-Tiffin-Stale") == "true" && r.Header.Get("Warning") == httpapi.StaleWarning
}

// TestDatabaseDown boots the whole app on PostgreSQL behind a proxy and takes the database
// away, as a stopped server (refused) and as a network partition (blackhole), with the kept
// copies in memory and in the real Redis server. While it is down, writes answer 503 with
// Retry-After within 2s, menus, restaurant lists and a customer's own orders answer 200 from
// the copies (marked stale) and nobody else's, and /readyz says why it is degraded; once it is
// back, everything answers normally within 5s and nothing placed before is lost.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, mode string
		redis      bool
	}{
		{"refused/memory", "refused", false},
		{"blackhole/memory", "blackhole", false},
		{"blackhole/redis", "blackhole", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn, px := tiffintest.PostgresBehindProxy(t)
			var redisURL, prefix string
			if tc.redis {
				redisURL, prefix = tiffintest.Redis(t)
			}
			a := apptest.Start(t, store.Postgres, func(c *app.Config) {
				c.DB, c.Redis, c.RedisPrefix = dsn, redisURL, prefix
			})
			m := seed(t, a, "r-1", "owner-1")
			alice, bob := a.Token(auth.Customer, "alice"), a.Token(auth.Customer, "bob")
			owner := a.Token(auth.Restaurant, "owner-1")
			place := func(token, key string) apptest.Response {
				return a.Do("POST", "/v1/orders", token, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", key)
			}
			var aliceOrder, bobOrder order
			if r := place(alice, "alice-1"); r.Status != http.StatusCreated {
				t.Fatalf("alice places: got %d %s", r.Status, r.Body)
			} else {
				r.JSON(t, &aliceOrder)
			}
			if r := place(bob, "bob-1"); r.Status != http.StatusCreated {
				t.Fatalf("bob places: got %d %s", r.Status, r.Body)
			} else {
				r.JSON(t, &bobOrder)
			}
			reads := []struct{ name, path, token string }{
				{"alice's order", "/v1/orders/" + aliceOrder.ID, alice},
				{"bob's order", "/v1/orders/" + bobOrder.ID, bob},
				{"alice's order, to its restaurant", "/v1/orders/" + aliceOrder.ID, owner},
				{"restaurants", "/v1/restaurants", ""},
				{"restaurants nearby", "/v1/restaurants?lat=12.97&lng=77.59&radius_m=3000", ""},
			}
			for _, rd := range reads {
				if r := a.Do("GET", rd.path, rd.token, nil); r.Status != http.StatusOK || isStale(r) {
					t.Fatalf("%s before the outage: got %d (stale %v) %s", rd.name, r.Status, isStale(r), r.Body)
				}
			}

			if tc.mode == "refused" {
				px.Refuse()
			} else {
				px.Blackhole()
			}

			// Writes: 503 with Retry-After, within 2s, never a hang or a 500.
			writes := []struct {
				name, method, path, token string
				body                      any
				headers                   []string
			}{
				{"checkout", "POST", "/v1/orders", alice, orderBody("r-1", m.Items[0].ID, 1), []string{"Idempotency-Key", "alice-2"}},
				{"menu edit", "PATCH", "/v1/restaurants/r-1/menu/items/" + m.Items[0].ID, owner, map[string]any{"available": false}, nil},
				{"cancel", "POST", "/v1/orders/" + bobOrder.ID + "/cancel", bob, nil, nil},
			}
			for _, w := range writes {
				r := timed(t, a, 2*time.Second, w.method, w.path, w.token, w.body, w.headers...)
				if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
					t.Errorf("%s while down: got %d, Retry-After %q, %s; want 503 with Retry-After", w.name, r.Status, r.Header.Get("Retry-After"), r.Body)
				}
				if !strings.Contains(string(r.Body), "database unreachable") {
					t.Errorf("%s while down: body %s, want it to say the database is unreachable", w.name, r.Body)
				}
			}

			// Reads: the last copies, marked stale; visibility checked on the copy.
			for _, rd := range reads {
				r := timed(t, a, 2*time.Second, "GET", rd.path, rd.token, nil)
				if r.Status != http.StatusOK || !isStale(r) {
					t.Errorf("%s while down: got %d (stale %v) %s, want 200 marked stale", rd.name, r.Status, isStale(r), r.Body)
				}
			}
			var got order
			timed(t, a, 2*time.Second, "GET", "/v1/orders/"+aliceOrder.ID, alice, nil).JSON(t, &got)
			if got.ID != aliceOrder.ID {
				t.Errorf("alice's stale order: got %s, want %s", got.ID, aliceOrder.ID)
			}
			for _, rd := range []struct{ name, token string }{
				{"bob", bob}, {"another restaurant", a.Token(auth.Restaurant, "owner-2")}, {"a courier", a.Token(auth.Courier, "c-1")},
			} {
				if r := timed(t, a, 2*time.Second, "GET", "/v1/orders/"+aliceOrder.ID, rd.token, nil); r.Status != http.StatusNotFound {
					t.Errorf("alice's order to %s while down: got %d %s, want 404", rd.name, r.Status, r.Body)
				}
			}
			if r := timed(t, a, 2*time.Second, "GET", "/v1/orders/ord_never_read", alice, nil); r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
				t.Errorf("an order never read, while down: got %d %s, want 503 with Retry-After", r.Status, r.Body)
			}
			r := timed(t, a, 2*time.Second, "GET", "/readyz", "", nil)
			if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "degraded: database unreachable") {
				t.Errorf("/readyz while down: got %d %s, want 503 with Retry-After saying degraded: database unreachable", r.Status, r.Body)
			}
			// The menu is answered from the fresh menu cache for up to its TTL (5s), then from
			// the kept copy: 200 all along.
			deadline := time.Now().Add(8 * time.Second)
			for {
				r := timed(t, a, 2*time.Second, "GET", "/v1/restaurants/r-1/menu", "", nil)
				if r.Status != http.StatusOK {
					t.Fatalf("menu while down: got %d %s, want 200", r.Status, r.Body)
				}
				var mm menu
				r.JSON(t, &mm)
				if len(mm.Items) != len(m.Items) {
					t.Fatalf("menu while down: %d items, want %d", len(mm.Items), len(m.Items))
				}
				if isStale(r) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("menu while down: never answered from the kept copy")
				}
				time.Sleep(200 * time.Millisecond)
			}

			px.Restore()
			restored := time.Now()
			// The checkout refused during the outage, retried with the same key, goes through.
			for {
				r := a.Do("POST", "/v1/orders", alice, orderBody("r-1", m.Items[0].ID, 1), "Idempotency-Key", "alice-2")
				ready := a.Do("GET", "/readyz", "", nil)
				if r.Status == http.StatusCreated && ready.Status == http.StatusOK {
					break
				}
				if r.Status != http.StatusServiceUnavailable && r.Status != http.StatusCreated {
					t.Fatalf("checkout retried after the outage: got %d %s", r.Status, r.Body)
				}
				if time.Since(restored) > 5*time.Second {
					t.Fatalf("5s after the restore: checkout %d %s, /readyz %d %s", r.Status, r.Body, ready.Status, ready.Body)
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("%s: full service %v after the restore", tc.name, time.Since(restored).Round(time.Millisecond))
			for _, rd := range reads {
				if r := a.Do("GET", rd.path, rd.token, nil); r.Status != http.StatusOK || isStale(r) {
					t.Errorf("%s after the outage: got %d (stale %v) %s, want 200 fresh", rd.name, r.Status, isStale(r), r.Body)
				}
			}
			if r := a.Do("POST", "/v1/orders/"+bobOrder.ID+"/cancel", bob, nil); r.Status != http.StatusOK {
				t.Errorf("bob cancels after the outage: got %d %s", r.Status, r.Body)
			}
			var list struct {
				Orders []order `json:"orders"`
			}
			a.Do("GET", "/v1/orders", alice, nil).JSON(t, &list)
			if len(list.Orders) != 2 {
				b, _ := json.Marshal(list)
				t.Errorf("alice's orders after the outage: got %s, want the one placed before and the one retried after", b)
			}
		})
	}
}
