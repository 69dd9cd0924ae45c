package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tiffin-dev/tiffin/internal/apptest"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// notOpsMutations are the routes that change state but that no operator calls, each with why.
// Every other route that is not a GET must be in TestOpsMutationsAudited's table.
var notOpsMutations = map[string]string{
	"put-courier-shift":      "courier only",
	"post-courier-locations": "courier only",
	"accept-offer":           "courier only",
	"decline-offer":          "courier only",
	"erase-me":               "the customer's own (audited too: TestCustomerExportAndErasure)",
	"carrier-webhook":        "the carrier, by signature; the shipment's history records it",
	"login":                  "authentication, not an action on anything: counted by tiffin_logins_total and tiffin_login_lockouts_total",
	"refresh":                "authentication: counted, a reused token logged and its family revoked (TestRefreshRotation)",
	"logout":                 "authentication: revokes the caller's own refresh tokens",
}

// TestOpsMutationsAudited calls every route an operator changes state with, as ops, and finds
// an entry of the audit log naming that operator and the action for each. The routes come from
// the OpenAPI document: a new route that is not a GET fails this test until it is audited here
// or listed, with its reason, in notOpsMutations.
func TestOpsMutationsAudited(t *testing.T) {
	t.Parallel()
	a := carrierApp(t, store.SQLite)
	ops := a.Token(auth.Ops, "ops-aud")
	m := seed(t, a, "r-aud", "owner-aud")
	item := m.Items[0].ID
	ok := func(r apptest.Response, what string) apptest.Response {
		t.Helper()
		if r.Status >= 300 {
			t.Fatalf("%s: got %d %s", what, r.Status, r.Body)
		}
		return r
	}
	place := func(key string, body map[string]any) string {
		t.Helper()
		var o order
		ok(a.Do("POST", "/v1/orders", ops, body, "Idempotency-Key", key), "place "+key).JSON(t, &o)
		waitStatus(t, a, ops, o.ID, "paid")
		return o.ID
	}
	forCustomer := func(b map[string]any) map[string]any { b["customer_id"] = "cust-aud"; return b }
	var ids struct{ order, rejected, cancelled, webhook, shipment string }

	type step struct {
		do     func() apptest.Response
		action string
	}
	table := map[string]step{
		"put-restaurant": {func() apptest.Response {
			return a.Do("PUT", "/v1/restaurants/r-aud", ops, map[string]any{"owner_id": "owner-aud", "name": "Dosa Corner", "lat": 12.9716, "lng": 77.5946, "prep_minutes": 10})
		}, "restaurant.update"},
		"put-menu": {func() apptest.Response {
			return a.Do("PUT", "/v1/restaurants/r-aud/menu", ops, map[string]any{"items": []map[string]any{{"id": item, "name": "Masala dosa", "price": 12000}}})
		}, "menu.write"},
		"patch-menu-item": {func() apptest.Response {
			return a.Do("PATCH", "/v1/restaurants/r-aud/menu/items/"+item, ops, map[string]any{"available": true})
		}, "menu.write"},
		"put-customer": {func() apptest.Response {
			return a.Do("PUT", "/v1/customers/cust-aud", ops, map[string]any{"name": "A Customer",
				"address": map[string]any{"line1": "1 Road", "city": "Bengaluru", "postcode": "560001", "country": "IN", "lat": 12.97, "lng": 77.6}})
		}, "customer.create"},
		"place-order": {func() apptest.Response {
			r := a.Do("POST", "/v1/orders", ops, forCustomer(orderBody("r-aud", item, 1)), "Idempotency-Key", "aud-1")
			var o order
			r.JSON(t, &o)
			ids.order = o.ID
			waitStatus(t, a, ops, o.ID, "paid")
			return r
		}, "order.place"},
		"accept-order":    {func() apptest.Response { return a.Do("POST", "/v1/orders/"+ids.order+"/accept", ops, nil) }, "order.accepted"},
		"preparing-order": {func() apptest.Response { return a.Do("POST", "/v1/orders/"+ids.order+"/preparing", ops, nil) }, "order.preparing"},
		"ready-order":     {func() apptest.Response { return a.Do("POST", "/v1/orders/"+ids.order+"/ready", ops, nil) }, "order.ready"},
		"picked-up-order": {func() apptest.Response { return a.Do("POST", "/v1/orders/"+ids.order+"/picked-up", ops, nil) }, "order.picked_up"},
		"delivered-order": {func() apptest.Response { return a.Do("POST", "/v1/orders/"+ids.order+"/delivered", ops, nil) }, "order.delivered"},
		"reject-order":    {func() apptest.Response { return a.Do("POST", "/v1/orders/"+ids.rejected+"/reject", ops, nil) }, "order.rejected"},
		"cancel-order":    {func() apptest.Response { return a.Do("POST", "/v1/orders/"+ids.cancelled+"/cancel", ops, nil) }, "order.cancelled"},
		"redrive-dead-letters": {func() apptest.Response {
			return a.Do("POST", "/v1/ops/dlq/redrive", ops, map[string]any{"ids": []string{"bus-999999"}})
		}, "dlq.redrive"},
		"set-fake-carrier": {func() apptest.Response {
			return a.Do("PUT", "/v1/ops/fakes/carrier", ops, map[string]any{"mode": "down"})
		}, "fake_carrier.mode"},
		"create-webhook": {func() apptest.Response {
			r := a.Do("POST", "/v1/webhooks", ops, map[string]any{"url": "https://93.184.215.14/hook", "events": []string{"order.accepted"}})
			var w struct {
				ID string `json:"id"`
			}
			r.JSON(t, &w)
			ids.webhook = w.ID
			return r
		}, "webhook.create"},
		"replay-webhook": {func() apptest.Response {
			return a.Do("POST", "/v1/webhooks/"+ids.webhook+"/replay?since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), ops, nil)
		}, "webhook.replay"},
		"delete-webhook": {func() apptest.Response { return a.Do("DELETE", "/v1/webhooks/"+ids.webhook, ops, nil) }, "webhook.delete"},
		"retry-shipment": {func() apptest.Response {
			return a.Do("POST", "/v1/ops/shipments/"+ids.shipment+"/retry", ops, nil)
		}, "shipment.retry"},
		"cancel-shipment": {func() apptest.Response {
			return a.Do("POST", "/v1/ops/shipments/"+ids.shipment+"/cancel", ops, nil)
		}, "shipment.cancel"},
		"erase-customer": {func() apptest.Response { return a.Do("POST", "/v1/ops/customers/cust-gone/erase", ops, nil) }, "customer.erase"},
	}
	// The order of the calls: some need what earlier ones made.
	order := []string{"put-restaurant", "put-menu", "patch-menu-item", "put-customer", "place-order",
		"accept-order", "preparing-order", "ready-order", "picked-up-order", "delivered-order",
		"reject-order", "cancel-order", "redrive-dead-letters", "set-fake-carrier", "create-webhook",
		"replay-webhook", "delete-webhook", "retry-shipment", "cancel-shipment", "erase-customer"}

	for _, rt := range routes(t, a) {
		if rt.method == http.MethodGet || rt.method == http.MethodHead {
			continue
		}
		if _, listed := notOpsMutations[rt.id]; listed {
			continue
		}
		if _, listed := table[rt.id]; !listed {
			t.Errorf("%s %s (%s) changes state and is not checked for an audit entry: add it to the table, or to notOpsMutations with the reason", rt.method, rt.path, rt.id)
		}
	}
	if len(order) != len(table) {
		t.Fatalf("order lists %d routes, the table %d", len(order), len(table))
	}

	for _, id := range order {
		switch id {
		case "reject-order":
			ids.rejected = place("aud-2", forCustomer(orderBody("r-aud", item, 1)))
		case "cancel-order":
			ids.cancelled = place("aud-3", forCustomer(orderBody("r-aud", item, 1)))
		case "retry-shipment":
			// A carrier order, accepted while the carrier is down: its shipment waits.
			o := place("aud-4", forCustomer(map[string]any{"restaurant_id": "r-aud", "fulfilment": "carrier",
				"items": []map[string]any{{"menu_item_id": item, "quantity": 1}}}))
			ok(a.Do("POST", "/v1/orders/"+o+"/accept", a.Token(auth.Restaurant, "owner-aud"), nil), "accept carrier order")
			ids.shipment = waitShipment(t, a, ops, o, "requested", func(s shipment) bool { return s.State == "requested" || s.State == "failed" }).ID
		case "erase-customer":
			// A customer with no order in progress (cust-aud's carrier order may still be).
			ok(a.Do("PUT", "/v1/customers/cust-gone", ops, map[string]any{"name": "Gone Soon"}), "put cust-gone")
		}
		before := newestAudit(t, a, ops)
		s := table[id]
		ok(s.do(), id)
		after := newestAudit(t, a, ops)
		if after.Seq <= before.Seq || after.Action != s.action || after.Actor != "ops:ops-aud" {
			t.Errorf("%s: newest audit entry %+v, want a new %s by ops:ops-aud", id, after, s.action)
		}
	}
}

type auditEntry struct {
	Seq    int64  `json:"seq"`
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Target string `json:"target"`
}

// newestAudit is the newest audit entry by ops-aud.
func newestAudit(t *testing.T, a *apptest.App, ops string) auditEntry {
	t.Helper()
	var page struct {
		Entries []auditEntry `json:"entries"`
	}
	r := a.Do("GET", "/v1/ops/audit?actor=ops:ops-aud&limit=1", ops, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("audit: got %d %s", r.Status, r.Body)
	}
	r.JSON(t, &page)
	if len(page.Entries) == 0 {
		return auditEntry{}
	}
	return page.Entries[0]
}
