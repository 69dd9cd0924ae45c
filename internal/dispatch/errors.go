package dispatch

import "github.com/tiffin-dev/tiffin/internal/fault"

// Sentinels callers branch on (each also matches its fault kind with errors.Is). Their
// messages are what clients are told.
var (
	ErrOfferNotFound    = fault.New(fault.NotFound, "offer not found")
	ErrNotYourOffer     = fault.New(fault.Forbidden, "offer belongs to another courier")
	ErrOfferExpired     = fault.New(fault.Gone, "offer expired")
	ErrOfferWithdrawn   = fault.New(fault.Gone, "offer withdrawn: an order of it was cancelled or the courier's shift ended")
	ErrOfferAccepted    = fault.New(fault.Conflict, "offer already accepted")
	ErrOfferDeclined    = fault.New(fault.Conflict, "offer already declined")
	ErrNoOffer          = fault.New(fault.NotFound, "no current offer")
	ErrNoDelivery       = fault.New(fault.NotFound, "no current delivery")
	ErrNoRoute          = fault.New(fault.NotFound, "no current route")
	ErrBusy             = fault.New(fault.Conflict, "courier is on a route; finish it before going off shift")
	ErrInvalidCourierID = fault.New(fault.Invalid, "courier id (token subject) must match ^[A-Za-z0-9_.:-]{1,64}$")
)
