package dispatch

import "github.com/tiffin-dev/tiffin/internal/fault"

// Error is a dispatch failure whose message is safe to show clients; it wraps a fault kind.
type Error struct {
	msg  string
	kind error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the fault kind.
func (e *Error) Unwrap() error { return e.kind }

// Sentinels callers branch on (each also matches its fault kind with errors.Is).
var (
	ErrOfferNotFound    = &Error{"offer not found", fault.NotFound}
	ErrNotYourOffer     = &Error{"offer belongs to another courier", fault.Forbidden}
	ErrOfferExpired     = &Error{"offer expired", fault.Gone}
	ErrOfferWithdrawn   = &Error{"offer withdrawn: an order of it was cancelled or the courier's shift ended", fault.Gone}
	ErrOfferAccepted    = &Error{"offer already accepted", fault.Conflict}
	ErrOfferDeclined    = &Error{"offer already declined", fault.Conflict}
	ErrNoOffer          = &Error{"no current offer", fault.NotFound}
	ErrNoDelivery       = &Error{"no current delivery", fault.NotFound}
	ErrNoRoute          = &Error{"no current route", fault.NotFound}
	ErrBusy             = &Error{"courier is on a route; finish it before going off shift", fault.Conflict}
	ErrInvalidCourierID = &Error{"courier id (token subject) must match ^[A-Za-z0-9_.:-]{1,64}$", fault.Invalid}
)
