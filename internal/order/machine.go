package order

import "github.com/tiffin-dev/tiffin/internal/fault"

// Status is where an order stands in its lifecycle.
type Status string

// The statuses. Delivered, Rejected, Cancelled and Failed are ends.
const (
	Placed    Status = "placed"
	Paid      Status = "paid"
	Accepted  Status = "accepted"
	Preparing Status = "preparing"
	Ready     Status = "ready"
	PickedUp  Status = "picked_up"
	Delivered Status = "delivered"
	Rejected  Status = "rejected"
	Cancelled Status = "cancelled"
	Failed    Status = "failed"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{Placed, Paid, Accepted, Preparing, Ready, PickedUp, Delivered, Rejected, Cancelled, Failed}

// transitions is the order state machine, the one place that says which moves are legal:
// placed -> paid -> accepted -> preparing -> ready -> picked_up -> delivered, with rejected
// (restaurant, once paid), cancelled (customer or ops, any time before pickup) and failed
// (payment) as ends. A restaurant may mark an accepted order ready without "preparing".
var transitions = map[Status][]Status{
	Placed:    {Paid, Failed, Cancelled},
	Paid:      {Accepted, Rejected, Cancelled},
	Accepted:  {Preparing, Ready, Cancelled},
	Preparing: {Ready, Cancelled},
	Ready:     {PickedUp, Cancelled},
	PickedUp:  {Delivered},
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s Status) Terminal() bool { return s.Valid() && len(transitions[s]) == 0 }

// CanMove reports whether the state machine allows from -> to.
func CanMove(from, to Status) bool {
	for _, t := range transitions[from] {
		if t == to {
			return true
		}
	}
	return false
}

// checkMove returns an ErrInvalidTransition naming both statuses when from -> to is illegal.
func checkMove(from, to Status) error {
	if !CanMove(from, to) {
		return fault.Errorf(ErrInvalidTransition, "order is %s, cannot become %s", from, to)
	}
	return nil
}
