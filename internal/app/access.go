package app

import (
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
)

// The roles that routes allow.
var (
	anyone       = httpapi.Anyone
	everyRole    = []auth.Role{auth.Customer, auth.Restaurant, auth.Courier, auth.Ops}
	customers    = []auth.Role{auth.Customer, auth.Ops}
	customerOnly = []auth.Role{auth.Customer}
	restaurants  = []auth.Role{auth.Restaurant, auth.Ops}
	couriersOps  = []auth.Role{auth.Courier, auth.Ops}
	couriersOnly = []auth.Role{auth.Courier}
	opsOnly      = []auth.Role{auth.Ops}
)

// Access is the route x role table: every route the edge serves, with the roles that may call
// it (Anyone: no token needed). The edge enforces it before any handler runs (401 without a
// token, 403 with a role left out); handlers keep their object-level checks (whose order,
// whose restaurant). A route registered without a row here stops the app from starting, and
// TestAccessTable and TestEveryRouteEveryRole check this table against the served routes.
var Access = httpapi.Access{
	// Health, the API's description and reference, dev's home page.
	"GET /healthz":                         anyone,
	"GET /readyz":                          anyone,
	"GET /{$}":                             anyone,
	"GET /v1/docs":                         anyone,
	"GET /v1/docs/assets/":                 anyone,
	"GET /v1/openapi.json":                 anyone,
	"GET /v1/openapi.yaml":                 anyone,
	"GET /v1/openapi-3.0.json":             anyone,
	"GET /v1/openapi-3.0.yaml":             anyone,
	"GET /v1/schemas/{schema}":             anyone,
	"GET /metrics":                         opsOnly,
	"POST /v1/carriers/{carrier}/webhooks": anyone, // signed by the carrier (Standard Webhooks), checked by fulfil

	// Catalog.
	"GET /v1/restaurants":                             anyone,
	"GET /v1/restaurants/{id}":                        anyone,
	"GET /v1/restaurants/{id}/menu":                   anyone,
	"PUT /v1/restaurants/{id}":                        restaurants,
	"PUT /v1/restaurants/{id}/menu":                   restaurants,
	"PATCH /v1/restaurants/{id}/menu/items/{item_id}": restaurants,

	// Orders.
	"POST /v1/orders":                     customers,
	"GET /v1/orders":                      everyRole,
	"GET /v1/orders/{id}":                 everyRole,
	"POST /v1/orders/{id}/cancel":         customers,
	"POST /v1/orders/{id}/accept":         restaurants,
	"POST /v1/orders/{id}/reject":         restaurants,
	"POST /v1/orders/{id}/preparing":      restaurants,
	"POST /v1/orders/{id}/ready":          restaurants,
	"POST /v1/orders/{id}/picked-up":      couriersOps,
	"POST /v1/orders/{id}/delivered":      couriersOps,
	"GET /v1/orders/{id}/events":          customers,
	"GET /v1/ops/payments/reconciliation": opsOnly,

	// Couriers: dispatch and tracking.
	"PUT /v1/courier/shift":                      couriersOnly,
	"GET /v1/courier/offer":                      couriersOnly,
	"POST /v1/courier/offers/{offer_id}/accept":  couriersOnly,
	"POST /v1/courier/offers/{offer_id}/decline": couriersOnly,
	"GET /v1/courier/delivery":                   couriersOnly,
	"GET /v1/courier/route":                      couriersOnly,
	"POST /v1/courier/locations":                 couriersOnly,

	// Customers' profiles and the audit log.
	"PUT /v1/customers/{id}":            opsOnly,
	"GET /v1/customers/{id}":            customers,
	"GET /v1/customers":                 opsOnly,
	"GET /v1/customers/me/export":       customerOnly,
	"DELETE /v1/customers/me":           customerOnly,
	"POST /v1/ops/customers/{id}/erase": opsOnly,
	// Local accounts: the credentials are in the body.
	"POST /v1/auth/login":   anyone,
	"POST /v1/auth/refresh": anyone,
	"POST /v1/auth/logout":  anyone,
	"GET /v1/ops/audit":     opsOnly,

	// Notifications and webhooks.
	"GET /v1/notifications":            everyRole,
	"POST /v1/webhooks":                restaurants,
	"GET /v1/webhooks":                 restaurants,
	"GET /v1/webhooks/{id}":            restaurants,
	"DELETE /v1/webhooks/{id}":         restaurants,
	"GET /v1/webhooks/{id}/deliveries": restaurants,
	"POST /v1/webhooks/{id}/replay":    restaurants,

	// Operations: dead letters, shipments, dev's fakes.
	"GET /v1/ops/dlq":                    opsOnly,
	"GET /v1/ops/dlq/{id}":               opsOnly,
	"POST /v1/ops/dlq/redrive":           opsOnly,
	"GET /v1/ops/shipments":              opsOnly,
	"GET /v1/ops/shipments/{id}":         opsOnly,
	"POST /v1/ops/shipments/{id}/retry":  opsOnly,
	"POST /v1/ops/shipments/{id}/cancel": opsOnly,
	"GET /v1/ops/fakes/mail":             opsOnly,
	"GET /v1/ops/fakes/carrier":          opsOnly,
	"PUT /v1/ops/fakes/carrier":          opsOnly,
}
