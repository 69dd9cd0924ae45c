// Package fault names the kinds of failure that callers branch on across tiffin's services:
// not found, conflict, invalid input and so on. Domain packages wrap these in their own
// sentinels (order.ErrNotFound wraps NotFound); httpapi maps each kind to one HTTP status.
package fault

import (
	"errors"
	"fmt"
)

// The kinds. Messages of errors wrapping them are written for clients and are safe to show.
var (
	NotFound    = errors.New("not found")
	Conflict    = errors.New("conflict")
	Invalid     = errors.New("invalid")
	Forbidden   = errors.New("forbidden")
	Gone        = errors.New("gone")
	Unavailable = errors.New("unavailable")
)

// Busy is a Conflict that passes on its own: what the request needs is held by work still
// running (another request holding the same Idempotency-Key), so the same request retried a
// little later may succeed. httpapi answers it 409, like any Conflict, plus Retry-After; a
// conflict with the state of things (an order already cancelled) is a plain Conflict and gets
// no Retry-After. Its message is Conflict's.
var Busy = fmt.Errorf("%w", Conflict)

// Down is a dependency (the database, say) that can't be reached. It is an Unavailable: the
// request may succeed if retried later. Dependency alone is safe to show clients; Error adds
// the cause, for logs.
type Down struct {
	Dependency string
	Err        error
}

func (e *Down) Error() string { return e.Dependency + " unreachable: " + e.Err.Error() }

// Unwrap makes a Down an Unavailable error that also wraps its cause.
func (e *Down) Unwrap() []error { return []error{Unavailable, e.Err} }

// FieldError is invalid input in one field of a request. Location follows huma's convention:
// "body.items[1].quantity", "path.id", "query.lat".
type FieldError struct {
	Location string
	Message  string
	Value    any
}

func (e *FieldError) Error() string { return e.Location + ": " + e.Message }

// Unwrap makes a FieldError an Invalid error.
func (e *FieldError) Unwrap() error { return Invalid }

// Field returns a FieldError for location.
func Field(location string, value any, format string, args ...any) *FieldError {
	return &FieldError{Location: location, Message: fmt.Sprintf(format, args...), Value: value}
}
