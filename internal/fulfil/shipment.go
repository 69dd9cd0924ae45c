// Package fulfil is the service that ships orders through outside carriers: the shipment state
// machine here, with the carrier calls, their retries and the carrier's status updates to come
// (ARCHITECTURE.md, the fulfil service).
package fulfil

import "slices"

// State is where a shipment stands.
type State string

// The states. Requested waits for the carrier to accept the booking (retried, through outages of
// days); Booked has the carrier's reference; Shipped is with the carrier (picked up); Delivered,
// Cancelled and Failed are ends. Cancelling waits for the carrier to confirm a cancellation
// (retried too). Failed is a dead letter (booking given up, or the carrier lost or returned the
// parcel) that ops may redrive, back to Requested.
const (
	Requested  State = "requested"
	Booked     State = "booked"
	Shipped    State = "shipped"
	Delivered  State = "delivered"
	Cancelling State = "cancelling"
	Cancelled  State = "cancelled"
	Failed     State = "failed"
)

// States lists every state.
var States = []State{Requested, Booked, Shipped, Delivered, Cancelling, Cancelled, Failed}

// transitions is the shipment machine, the one place that says which moves are legal. The
// carrier's updates may skip a step (a webhook saying delivered before one saying shipped) and
// may arrive late or twice: Advance says which to apply.
var transitions = map[State][]State{
	// Cancelled straight from Requested only when no booking call was ever made; once one
	// may have reached the carrier, a cancellation goes through Cancelling.
	Requested:  {Booked, Shipped, Delivered, Cancelling, Cancelled, Failed},
	Booked:     {Shipped, Delivered, Cancelling, Failed, Requested}, // Requested: the carrier lost the booking
	Shipped:    {Delivered, Failed},
	Cancelling: {Cancelled, Shipped, Delivered, Failed}, // the carrier may refuse: it already has the parcel
	Failed:     {Requested},                             // ops redrive
}

// CanMove reports whether the machine allows from -> to.
func CanMove(from, to State) bool { return slices.Contains(transitions[from], to) }

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Terminal reports whether no transition leaves s: Delivered and Cancelled. (Failed waits for
// ops.)
func (s State) Terminal() bool { return s.Valid() && len(transitions[s]) == 0 }

// progress orders the states a parcel goes through at the carrier.
var progress = map[State]int{Requested: 0, Booked: 1, Shipped: 2, Delivered: 3}

// Advance reports whether a carrier status update saying to should move a shipment in from:
// only forward along requested -> booked -> shipped -> delivered (an update that repeats the
// current state, or is older than it, is a duplicate or out of order and changes nothing), to
// Failed from any state the carrier still holds, and out of Cancelling when the carrier reports
// the parcel moving after all.
func Advance(from, to State) bool {
	if !CanMove(from, to) {
		return false
	}
	f, fok := progress[from]
	t, tok := progress[to]
	if fok && tok {
		return t > f
	}
	return to == Failed || from == Cancelling
}
