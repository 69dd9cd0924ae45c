package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tiffin-dev/tiffin/internal/geo"
)

// The JSON the simulator sends and reads: only the fields it needs, as docs/contract.md
// spells them. Decoding is lenient about what it ignores and strict about what it uses.

// point is a {lat,lng} object.
type point struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

func (p point) latLng() geo.LatLng { return geo.LatLng{Lat: p.Lat, Lng: p.Lng} }

func pointOf(p geo.LatLng) point { return point{Lat: p.Lat, Lng: p.Lng} }

// restaurantBody is PUT /v1/restaurants/{id}.
type restaurantBody struct {
	Name         string  `json:"name"`
	OwnerID      string  `json:"owner_id"`
	Lat          float64 `json:"lat"`
	Lng          float64 `json:"lng"`
	OpensMinute  int     `json:"opens_minute"`
	ClosesMinute int     `json:"closes_minute"`
	PrepMinutes  int     `json:"prep_minutes"`
}

// menuBody is PUT /v1/restaurants/{id}/menu.
type menuBody struct {
	Items []menuItem `json:"items"`
}

// menuItem is one item of a menu, sent and read.
type menuItem struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Price       int64  `json:"price"`
	Available   *bool  `json:"available,omitempty"`
	Stock       *int64 `json:"stock,omitempty"`
}

// orderable reports whether a customer can order the item now, and how many at most.
func (m menuItem) orderable() (bool, int64) {
	if m.ID == "" || (m.Available != nil && !*m.Available) {
		return false, 0
	}
	if m.Stock != nil {
		return *m.Stock > 0, *m.Stock
	}
	return true, math.MaxInt64
}

// restaurantSummary is one entry of GET /v1/restaurants.
type restaurantSummary struct {
	ID        string  `json:"id"`
	DistanceM float64 `json:"distance_m"`
}

// placeBody is POST /v1/orders.
type placeBody struct {
	RestaurantID string      `json:"restaurant_id"`
	Items        []placeItem `json:"items"`
	Delivery     point       `json:"delivery"`
}

type placeItem struct {
	MenuItemID string `json:"menu_item_id"`
	Quantity   int    `json:"quantity"`
}

// shiftBody is PUT /v1/courier/shift.
type shiftBody struct {
	OnShift bool     `json:"on_shift"`
	Vehicle string   `json:"vehicle,omitempty"`
	Lat     *float64 `json:"lat,omitempty"`
	Lng     *float64 `json:"lng,omitempty"`
}

// fixesBody is POST /v1/courier/locations.
type fixesBody struct {
	Fixes []fix `json:"fixes"`
}

type fix struct {
	Lat      float64   `json:"lat"`
	Lng      float64   `json:"lng"`
	At       time.Time `json:"at"`
	SpeedMPS float64   `json:"speed_mps,omitempty"`
	Heading  float64   `json:"heading,omitempty"`
}

type reasonBody struct {
	Reason string `json:"reason"`
}

// Order statuses the simulator acts on.
const (
	statusPlaced    = "placed"
	statusPaid      = "paid"
	statusAccepted  = "accepted"
	statusPreparing = "preparing"
	statusReady     = "ready"
	statusPickedUp  = "picked_up"
	statusDelivered = "delivered"
	statusRejected  = "rejected"
	statusCancelled = "cancelled"
	statusFailed    = "failed"
)

// terminal reports an order status no one moves on from.
func terminal(status string) bool {
	switch status {
	case statusDelivered, statusRejected, statusCancelled, statusFailed:
		return true
	}
	return false
}

// order is what the simulator reads of an order.
type order struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	CustomerID   string `json:"customer_id"`
	RestaurantID string `json:"restaurant_id"`
	CourierID    string `json:"courier_id"`
	Reason       string `json:"reason"`
	Delivery     point  `json:"delivery"`
	CreatedAt    stamp  `json:"created_at"`
}

// offer is GET /v1/courier/offer: a route on offer (the drop-offs only as areas).
type offer struct {
	OfferID      string `json:"offer_id"`
	OrderID      string `json:"order_id"`
	RestaurantID string `json:"restaurant_id"`
	Pickup       point  `json:"pickup"`
	ExpiresAt    stamp  `json:"expires_at"`
	Orders       []struct {
		OrderID string `json:"order_id"`
	} `json:"orders"`
}

// route is GET /v1/courier/route: the accepted offer's pickup and drop-offs in sequence.
type route struct {
	RouteID string `json:"route_id"`
	Pickup  point  `json:"pickup"`
	Stops   []struct {
		OrderID string `json:"order_id"`
		Status  string `json:"status"`
		Dropoff point  `json:"dropoff"`
	} `json:"stops"`
}

var errMissing = errors.New("missing field")

func decodeOrder(b []byte) (order, error) {
	var o order
	if err := json.Unmarshal(b, &o); err != nil {
		return order{}, fmt.Errorf("decode order: %w", err)
	}
	if o.ID == "" || o.Status == "" {
		return order{}, fmt.Errorf("decode order: %w: id and status", errMissing)
	}
	return o, nil
}

func decodeOffer(b []byte) (offer, error) {
	var o offer
	if err := json.Unmarshal(b, &o); err != nil {
		return offer{}, fmt.Errorf("decode offer: %w", err)
	}
	if o.OfferID == "" || o.OrderID == "" {
		return offer{}, fmt.Errorf("decode offer: %w: offer_id and order_id", errMissing)
	}
	if !o.Pickup.latLng().Valid() {
		return offer{}, fmt.Errorf("decode offer %s: pickup out of range", o.OfferID)
	}
	return o, nil
}

func decodeRoute(b []byte) (route, error) {
	var r route
	if err := json.Unmarshal(b, &r); err != nil {
		return route{}, fmt.Errorf("decode route: %w", err)
	}
	if r.RouteID == "" || len(r.Stops) == 0 {
		return route{}, fmt.Errorf("decode route: %w: route_id and stops", errMissing)
	}
	if !r.Pickup.latLng().Valid() {
		return route{}, fmt.Errorf("decode route %s: pickup out of range", r.RouteID)
	}
	for _, st := range r.Stops {
		if st.OrderID == "" || !st.Dropoff.latLng().Valid() {
			return route{}, fmt.Errorf("decode route %s: a stop without an order or with a drop-off out of range", r.RouteID)
		}
	}
	return r, nil
}

// decodeList reads a page of a list endpoint: {"items":[...],"next_cursor":"..."}. A bare
// array, and "data" or a resource-named key in place of "items", are read too.
func decodeList[T any](b []byte, key string) (items []T, next string, err error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, "", fmt.Errorf("decode list: %w", err)
		}
		return items, "", nil
	}
	var page map[string]json.RawMessage
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, "", fmt.Errorf("decode list: %w", err)
	}
	for _, k := range []string{"items", key, "data"} {
		raw, ok := page[k]
		if !ok || k == "" {
			continue
		}
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, "", fmt.Errorf("decode list %q: %w", k, err)
		}
		break
	}
	for _, k := range []string{"next_cursor", "next", "cursor"} {
		if raw, ok := page[k]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil && s != "" {
				next = s
				break
			}
		}
	}
	return items, next, nil
}

// decodeMenu reads GET /v1/restaurants/{id}/menu: {"items":[...]} or a bare array.
func decodeMenu(b []byte) ([]menuItem, error) {
	items, _, err := decodeList[menuItem](b, "menu")
	if err != nil {
		return nil, fmt.Errorf("decode menu: %w", err)
	}
	return items, nil
}

// stamp is a time the server sends: an RFC 3339 string, or a number of unix milliseconds
// (seconds if it is too small to be milliseconds). null and "" leave it zero.
type stamp struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (t *stamp) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			return nil
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("time %q: %w", s, err)
		}
		t.Time = v
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("time %s: %w", b, err)
	}
	// Keep within what time.UnixMilli represents; anything beyond is garbage anyway.
	const limit = 1e15
	if math.IsNaN(f) || f < -limit || f > limit {
		return fmt.Errorf("time %s: out of range", b)
	}
	if math.Abs(f) < 1e11 {
		f *= 1000
	}
	t.Time = time.UnixMilli(int64(f))
	return nil
}
