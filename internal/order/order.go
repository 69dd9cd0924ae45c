// Package order owns checkout and the order lifecycle: idempotent placement, the one state
// machine, payment through a provider, restaurant and courier transitions, cancellation with
// refunds, and the reconciler that moves on any order whose state outlived its deadline.
package order

import (
	"time"

	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
)

// Errors callers branch on. Their messages are what clients are told; a specific case is a
// fault.Error whose Kind is one of these (checkMove's), so it matches it with errors.Is.
var (
	ErrNotFound            = fault.New(fault.NotFound, "order not found")
	ErrInvalidTransition   = fault.New(fault.Conflict, "invalid transition")
	ErrForbidden           = fault.New(fault.Forbidden, "not allowed for this order")
	ErrIdempotencyMismatch = fault.New(fault.Invalid, "Idempotency-Key was already used with a different request body")
	ErrInProgress          = fault.New(fault.Busy, "a request with this Idempotency-Key is still in progress")
)

// Order is one customer's order from one restaurant.
type Order struct {
	ID           string
	CustomerID   string
	RestaurantID string
	Region       string
	Status       Status
	Items        []Item
	Subtotal     int64
	DeliveryFee  int64
	Total        int64
	Currency     string
	Delivery     geo.LatLng
	Fulfilment   string   // FulfilCourier or FulfilCarrier
	Address      *Address // the postal address of a carrier order
	PlacedBy     string
	CourierID    string
	Reason       string
	Version      int
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DeadlineAt   time.Time
	PickupAt     time.Time // the assigned courier's planned pickup; zero before one is assigned
	History      []Transition
	// Stale marks the last copy of the order read, answered by Get because the store could
	// not be reached.
	Stale bool `json:"-"`

	owner string // the restaurant's owner, when read by load
}

// Item is one line of an order, priced when the order was placed.
type Item struct {
	MenuItemID string
	Name       string
	UnitPrice  int64
	Quantity   int
}

// Transition is one entry of an order's history.
type Transition struct {
	Status Status
	Actor  string
	At     time.Time
}

var timeZero time.Time
