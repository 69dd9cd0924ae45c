// Package payment is tiffin's side of a card payment: the payment state machine, the Provider
// seam (authorize, capture, void, refund, and a lookup that resolves a call whose outcome is
// unknown), idempotency keys derived from (order, operation), and two providers: the in-process
// fake and Stripe (PaymentIntents with manual capture; its fake server is package stripefake).
//
// A payment follows the usual card flow (authorize a hold, then capture it, or void it; refund
// what was captured). Every provider call is first claimed by moving the payment into the
// call's in-flight status (authorizing, capturing, voiding, refunding) with a compare-and-set,
// so exactly one process makes it; the call carries Key(order, op), so a retry after a crash or a
// timeout repeats the same request and the provider acts at most once.
package payment

import (
	"fmt"
	"strings"
)

// Status is where a payment stands.
type Status string

// The statuses. Pending has asked nothing of the provider; the -ing statuses have a call
// claimed (in flight, or failed with an unknown outcome and waiting to be resolved); Declined,
// Voided, Refunded and Cancelled are ends. Captured ends a delivered order's payment but can
// still be refunded.
const (
	Pending     Status = "pending"
	Authorizing Status = "authorizing"
	Authorized  Status = "authorized"
	Declined    Status = "declined"
	Capturing   Status = "capturing"
	Captured    Status = "captured"
	Voiding     Status = "voiding"
	Voided      Status = "voided"
	Refunding   Status = "refunding"
	Refunded    Status = "refunded"
	// Cancelled: the order ended before the provider was ever asked; nothing to give back.
	Cancelled Status = "cancelled"
)

// Statuses lists every status.
var Statuses = []Status{Pending, Authorizing, Authorized, Declined, Capturing, Captured, Voiding, Voided, Refunding, Refunded, Cancelled}

// transitions is the payment state machine, the one place that says which moves are legal.
// An in-flight status moves to itself when a call with an unknown outcome is tried again
// under a new claim.
var transitions = map[Status][]Status{
	Pending:     {Authorizing, Cancelled},
	Authorizing: {Authorizing, Authorized, Declined, Cancelled},
	Authorized:  {Capturing, Voiding},
	Capturing:   {Capturing, Captured},
	Voiding:     {Voiding, Voided},
	Captured:    {Refunding},
	Refunding:   {Refunding, Refunded},
}

// CanMove reports whether the machine allows from -> to.
func CanMove(from, to Status) bool {
	for _, t := range transitions[from] {
		if t == to {
			return true
		}
	}
	return false
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if v == s {
			return true
		}
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s Status) Terminal() bool { return s.Valid() && len(transitions[s]) == 0 }

// InFlight reports whether s has a provider call claimed, and which.
func (s Status) InFlight() (Op, bool) {
	for op, st := range inFlight {
		if st == s {
			return op, true
		}
	}
	return "", false
}

// Op is one provider operation.
type Op string

// The operations.
const (
	Authorize Op = "authorize"
	Capture   Op = "capture"
	Void      Op = "void"
	Refund    Op = "refund"
)

var inFlight = map[Op]Status{Authorize: Authorizing, Capture: Capturing, Void: Voiding, Refund: Refunding}

// InFlight is the status a payment holds while op is claimed.
func (op Op) InFlight() Status { return inFlight[op] }

// From is the status a payment must be in for op to be claimed.
func (op Op) From() Status {
	switch op {
	case Authorize:
		return Pending
	case Capture, Void:
		return Authorized
	case Refund:
		return Captured
	}
	return ""
}

// Done is the status a successful op leaves the payment in.
func (op Op) Done() Status {
	switch op {
	case Authorize:
		return Authorized
	case Capture:
		return Captured
	case Void:
		return Voided
	case Refund:
		return Refunded
	}
	return ""
}

// Key is the idempotency key of op on order's payment: "<order id>:<op>". Every attempt of
// the same operation carries the same key, so the provider acts on it at most once.
func Key(orderID string, op Op) string { return orderID + ":" + string(op) }

// ParseKey splits a Key into its order ID and operation.
func ParseKey(key string) (orderID string, op Op, err error) {
	i := strings.LastIndexByte(key, ':')
	if i <= 0 {
		return "", "", fmt.Errorf("payment: malformed idempotency key %q", key)
	}
	op = Op(key[i+1:])
	if op.From() == "" {
		return "", "", fmt.Errorf("payment: idempotency key %q names no operation", key)
	}
	return key[:i], op, nil
}
