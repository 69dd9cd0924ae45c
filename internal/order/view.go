package order

import (
	"strings"

	"github.com/tiffin-dev/tiffin/internal/auth"
)

// view is order o as principal p may see it: each role sees what it needs and no more
// (docs/security.md, API3). Ops see everything. The customer sees its order whole, except which
// operator placed it ("support" instead). The restaurant sees what it needs to cook and hand
// over: items, the short code, status, the planned pickup; never the customer's ID, drop-off or
// address, nor who placed it. The courier sees the exact drop-off (and a carrier order's address)
// only while it carries the order; never the customer's ID, nor who placed it.
func view(p auth.Principal, o Order) OrderJSON {
	j := OrderJSON{
		ID: o.ID, Code: shortCode(o.ID), Status: o.Status, RestaurantID: o.RestaurantID,
		Subtotal: o.Subtotal, DeliveryFee: o.DeliveryFee, Total: o.Total, Currency: o.Currency,
		CourierID: o.CourierID, Reason: o.Reason, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		Fulfilment: o.Fulfilment, Items: []ItemJSON{}, History: []TransitionJSON{},
	}
	if !o.PickupAt.IsZero() {
		at := o.PickupAt
		j.PickupAt = &at
	}
	for _, it := range o.Items {
		j.Items = append(j.Items, ItemJSON{it.MenuItemID, it.Name, it.UnitPrice, it.Quantity})
	}
	for _, t := range o.History {
		j.History = append(j.History, TransitionJSON{t.Status, t.At})
	}
	dropoff := func() {
		j.Delivery = &LatLngJSON{o.Delivery.Lat, o.Delivery.Lng}
		j.Address = o.Address
	}
	switch p.Role {
	case auth.Ops:
		j.CustomerID, j.PlacedBy = o.CustomerID, o.PlacedBy
		dropoff()
	case auth.Customer:
		j.CustomerID, j.PlacedBy = o.CustomerID, "customer"
		if strings.HasPrefix(o.PlacedBy, string(auth.Ops)+":") {
			j.PlacedBy = "support"
		}
		dropoff()
	case auth.Courier:
		if carrying(o) {
			dropoff()
		}
	}
	return j
}

// carrying reports whether o's courier carries it now: assigned to it (the route accepted),
// and not yet delivered or otherwise ended.
func carrying(o Order) bool {
	return o.CourierID != "" && !o.Status.Terminal()
}

// shortCode is the code a restaurant calls an order by: the last six characters of its ID,
// upper-cased.
func shortCode(id string) string {
	if len(id) > 6 {
		id = id[len(id)-6:]
	}
	return strings.ToUpper(id)
}
