package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/tiffintest"
)

// noPersonal fails if any of the customer's personal values is in r's body.
func noPersonal(t *testing.T, what string, r apptest.Response) {
	t.Helper()
	for _, s := range append(privateValues(), privPostcode) {
		if strings.Contains(string(r.Body), s) {
			t.Errorf("%s: still carries %q: %s", what, s, r.Body)
		}
	}
}

// TestCustomerExportAndErasure: a customer exports everything held about it (profile, orders,
// notifications); erasure, by the customer or ops, blanks the profile and takes the drop-off
// out of its orders, which stay with their money; it is idempotent, audited, refused while an
// order is in progress; afterwards no answer (export, order, profile, a replayed checkout)
// carries personal data, and the erased customer's token still reads nobody else's.
func TestCustomerExportAndErasure(t *testing.T) {
	t.Parallel()
	for _, d := range tiffintest.Backends {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a := carrierApp(t, d)
			j := runJourney(t, a, func(*journey, string) {})
			// A carrier order too, ended: its shipment's booking named the customer.
			var m menu
			a.Do("GET", "/v1/restaurants/r-priv/menu", "", nil).JSON(t, &m)
			var shipped order
			r := a.Do("POST", "/v1/orders", j.ops, map[string]any{"restaurant_id": "r-priv", "customer_id": "cust-priv",
				"fulfilment": "carrier", "items": []map[string]any{{"menu_item_id": m.Items[0].ID, "quantity": 1}}}, "Idempotency-Key", "priv-carrier")
			if r.Status != http.StatusCreated {
				t.Fatalf("carrier order: got %d %s", r.Status, r.Body)
			}
			r.JSON(t, &shipped)
			waitStatus(t, a, j.ops, shipped.ID, "paid")
			if r := a.Do("POST", "/v1/orders/"+shipped.ID+"/accept", j.restaurant, nil); r.Status != http.StatusOK {
				t.Fatalf("accept carrier order: got %d %s", r.Status, r.Body)
			}
			waitShipment(t, a, j.ops, shipped.ID, "requested", func(shipment) bool { return true })
			if r := a.Do("POST", "/v1/orders/"+shipped.ID+"/cancel", j.ops, nil); r.Status != http.StatusOK {
				t.Fatalf("cancel carrier order: got %d %s", r.Status, r.Body)
			}
			// The notifications of the carrier order reach the inbox before the erasure: one
			// still in flight when the customer is erased is written afterwards with the name
			// (seen once in CI on SQLite). That race is an open defect, noted in
			// docs/security.md; this test checks what erasure does to what is there.
			tiffintest.Eventually(t, 20*time.Second, func() (bool, string) {
				var inbox struct {
					Notifications []struct {
						Kind    string `json:"kind"`
						OrderID string `json:"order_id"`
					} `json:"notifications"`
				}
				a.Do("GET", "/v1/notifications", j.customer, nil).JSON(t, &inbox)
				var kinds []string
				for _, n := range inbox.Notifications {
					if n.OrderID == shipped.ID {
						kinds = append(kinds, n.Kind)
					}
				}
				return slices.Contains(kinds, "accepted") && slices.Contains(kinds, "cancelled"),
					fmt.Sprintf("carrier order's notifications %v, want accepted and cancelled", kinds)
			})

			var x struct {
				Customer map[string]any `json:"customer"`
				ErasedAt string         `json:"erased_at"`
				Orders   []struct {
					ID       string         `json:"id"`
					Total    int64          `json:"total"`
					Delivery map[string]any `json:"delivery"`
					Items    []any          `json:"items"`
					History  []any          `json:"history"`
				} `json:"orders"`
				Notifications []any `json:"notifications"`
			}
			r = a.Do("GET", "/v1/customers/me/export", j.customer, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("export: got %d %s", r.Status, r.Body)
			}
			for _, s := range []string{privName, privEmail, privPhone, privStreet} {
				if !strings.Contains(string(r.Body), s) {
					t.Errorf("export lacks %q: %s", s, r.Body)
				}
			}
			r.JSON(t, &x)
			if len(x.Orders) != 2 || x.Orders[0].Delivery == nil || len(x.Orders[0].Items) == 0 || len(x.Orders[0].History) == 0 || len(x.Notifications) == 0 {
				t.Errorf("export: %d orders (%+v), %d notifications; want the order whole and its notifications", len(x.Orders), x.Orders, len(x.Notifications))
			}
			totals := []int64{x.Orders[0].Total, x.Orders[1].Total}
			for _, tok := range []string{j.ops, j.restaurant, j.courier} {
				if r := a.Do("GET", "/v1/customers/me/export", tok, nil); r.Status != http.StatusForbidden {
					t.Errorf("export with another role: got %d, want 403", r.Status)
				}
			}

			// Refused while an order is in progress.
			busy := a.Token(auth.Customer, "cust-busy")
			if r := a.Do("POST", "/v1/orders", busy, orderBody("r-priv", m.Items[0].ID, 1), "Idempotency-Key", "busy-1"); r.Status != http.StatusCreated {
				t.Fatalf("place busy: got %d %s", r.Status, r.Body)
			}
			if r := a.Do("DELETE", "/v1/customers/me", busy, nil); r.Status != http.StatusConflict {
				t.Errorf("erase with an order in progress: got %d %s, want 409", r.Status, r.Body)
			}

			// Erased by the customer, again, and by ops: one time, every request audited.
			var first, again struct {
				ErasedAt string `json:"erased_at"`
				Orders   int    `json:"orders"`
			}
			r = a.Do("DELETE", "/v1/customers/me", j.customer, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("erase: got %d %s", r.Status, r.Body)
			}
			r.JSON(t, &first)
			if first.Orders != 2 || first.ErasedAt == "" {
				t.Errorf("erase: %+v, want 2 orders and a time", first)
			}
			a.Do("DELETE", "/v1/customers/me", j.customer, nil).JSON(t, &again)
			r = a.Do("POST", "/v1/ops/customers/cust-priv/erase", j.ops, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("ops erase: got %d %s", r.Status, r.Body)
			}
			if again.ErasedAt != first.ErasedAt {
				t.Errorf("erased again at %s, want the first time %s", again.ErasedAt, first.ErasedAt)
			}
			if r := a.Do("POST", "/v1/ops/customers/nobody-such/erase", j.ops, nil); r.Status != http.StatusNotFound {
				t.Errorf("ops erase of nobody: got %d, want 404", r.Status)
			}
			r = a.Do("GET", "/v1/ops/audit?target=customer:cust-priv", j.ops, nil)
			if n := strings.Count(string(r.Body), `"customer.erase"`); n != 3 {
				t.Errorf("audit has %d erasures of cust-priv, want 3: %s", n, r.Body)
			}
			if !strings.Contains(string(r.Body), `"ops:ops-1"`) || !strings.Contains(string(r.Body), `"customer:cust-priv"`) {
				t.Errorf("audit does not name both erasers: %s", r.Body)
			}
			noPersonal(t, "audit log", r)

			// Nothing personal is left in any answer; the money is.
			r = a.Do("GET", "/v1/customers/me/export", j.customer, nil)
			noPersonal(t, "export after erasure", r)
			x.Orders = nil
			r.JSON(t, &x)
			if x.ErasedAt == "" || len(x.Orders) != 2 || x.Orders[0].Total != totals[0] || x.Orders[1].Total != totals[1] ||
				x.Orders[0].Delivery != nil || len(x.Notifications) != 0 {
				t.Errorf("export after erasure: %s; want erased_at, the order with its total and no drop-off, no notifications", r.Body)
			}
			for _, tok := range []string{j.customer, j.ops, j.restaurant, j.courier} {
				noPersonal(t, "order after erasure", a.Do("GET", "/v1/orders/"+j.orderID, tok, nil))
				noPersonal(t, "orders after erasure", a.Do("GET", "/v1/orders", tok, nil))
			}
			noPersonal(t, "profile after erasure", a.Do("GET", "/v1/customers/cust-priv", j.ops, nil))
			body := orderBody("r-priv", m.Items[0].ID, 1)
			body["delivery"] = map[string]any{"lat": privLat, "lng": privLng}
			r = a.Do("POST", "/v1/orders", j.customer, body, "Idempotency-Key", "priv-1")
			if r.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("checkout retried after erasure: got %d %s, want the replayed answer", r.Status, r.Body)
			}
			noPersonal(t, "replayed checkout after erasure", r)
			// And nothing is left in the store: every text of every row of every table.
			storeHolds(t, a, append(privateValues(), privPostcode))

			// The erased customer's token reads nobody else's data.
			var other order
			a.Do("POST", "/v1/orders", busy, orderBody("r-priv", m.Items[0].ID, 1), "Idempotency-Key", "busy-1").JSON(t, &other)
			if r := a.Do("GET", "/v1/orders/"+other.ID, j.customer, nil); r.Status != http.StatusNotFound {
				t.Errorf("erased customer reads another's order: got %d, want 404", r.Status)
			}
			if r := a.Do("GET", "/v1/customers/cust-busy", j.customer, nil); r.Status != http.StatusNotFound {
				t.Errorf("erased customer reads another's profile: got %d, want 404", r.Status)
			}
		})
	}
}

// storeHolds fails for any of values found in any column of any row of the app's database.
func storeHolds(t *testing.T, a *apptest.App, values []string) {
	t.Helper()
	db := a.DB()
	list := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if db.Dialect() == store.Postgres {
		list = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := db.Query(list)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("list tables: %v", err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 20 {
		t.Fatalf("found %d tables: %v", len(tables), tables)
	}
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			for i, v := range vals {
				text := fmt.Sprint(v)
				if b, ok := v.([]byte); ok {
					text = string(b)
				}
				for _, s := range values {
					if strings.Contains(text, s) {
						t.Errorf("after erasure %s.%s still holds %q: %.300s", table, cols[i], s, text)
					}
				}
			}
		}
		rows.Close()
	}
}
