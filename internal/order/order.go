// Package order owns checkout and the order lifecycle: idempotent placement, the one state
// machine, payment through a provider, restaurant and courier transitions, cancellation with
// refunds, and the reconciler that moves on any order whose state outlived its deadline.
package order

import (
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/geo"
)

// Errors callers branch on.
var (
	ErrNotFound            = fmt.Errorf("order not found: %w", fault.NotFound)
	ErrInvalidTransition   = fmt.Errorf("invalid transition: %w", fault.Conflict)
	ErrForbidden           = fmt.Errorf("not allowed for this order: %w", fault.Forbidden)
	ErrIdempotencyMismatch = fmt.Errorf("Idempotency-Key was already used with a different request body: %w", fault.Invalid)
	ErrInProgress          = fmt.Errorf("a request with this Idempotency-Key is still in progress: %w", fault.Busy)
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
