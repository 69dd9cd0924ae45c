package event

import "time"

// Order is the payload of every order.* event: the order as it stands after the transition.
type Order struct {
	OrderID      string    `json:"order_id"`
	CustomerID   string    `json:"customer_id"`
	RestaurantID string    `json:"restaurant_id"`
	Status       string    `json:"status"`
	PrevStatus   string    `json:"prev_status,omitempty"`
	Total        int64     `json:"total"`
	Currency     string    `json:"currency"`
	Reason       string    `json:"reason,omitempty"`
	At           time.Time `json:"at"`
	// OrderVersion is the order's version after the transition (orders.version: 1 at placement,
	// one more per transition), its position in the order's history. Watchers order and dedupe
	// statuses by it. Zero in events published before it was added.
	OrderVersion int64 `json:"order_version,omitempty"`
}

// Version of the Order payload.
func (Order) Version() int { return 1 }

// Delivery is the payload of every delivery.* event.
type Delivery struct {
	OrderID        string    `json:"order_id"`
	OfferID        string    `json:"offer_id,omitempty"`
	CourierID      string    `json:"courier_id,omitempty"`
	OfferExpiresAt time.Time `json:"offer_expires_at,omitzero"`
	At             time.Time `json:"at"`
}

// Version of the Delivery payload.
func (Delivery) Version() int { return 1 }

// Location is one courier GPS fix, published on core NATS as courier.location.
type Location struct {
	CourierID string    `json:"courier_id"`
	Lat       float64   `json:"lat"`
	Lng       float64   `json:"lng"`
	SpeedMPS  float64   `json:"speed_mps,omitempty"`
	Heading   float64   `json:"heading,omitempty"`
	At        time.Time `json:"at"`
}

// Version of the Location payload.
func (Location) Version() int { return 1 }

// Shipment is the payload of every shipment.* event: a shipment (an order's parcel with an
// outside carrier) after it moved.
type Shipment struct {
	ShipmentID string    `json:"shipment_id"`
	OrderID    string    `json:"order_id"`
	Carrier    string    `json:"carrier"`
	CarrierRef string    `json:"carrier_ref,omitempty"`
	State      string    `json:"state"`
	PrevState  string    `json:"prev_state,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	At         time.Time `json:"at"`
}

// Version of the Shipment payload.
func (Shipment) Version() int { return 1 }

// Payment is the payload of payment.* events.
type Payment struct {
	OrderID  string    `json:"order_id"`
	Amount   int64     `json:"amount"` // minor units
	Currency string    `json:"currency"`
	At       time.Time `json:"at"`
}

// Version of the Payment payload.
func (Payment) Version() int { return 1 }
