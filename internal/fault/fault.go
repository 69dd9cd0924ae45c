// Package fault names the kinds of failure that callers branch on across tiffin's services:
// not found, conflict, invalid input and so on, and carries what a client may be told apart
// from the cause that goes to the logs. Domain packages make their sentinels with New
// (order.ErrNotFound is a NotFound saying "order not found"); httpapi maps each kind to one
// HTTP status and answers with the client message of the outermost Error, never with an
// error's chain.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// The kinds. Their own messages are what a client is told of an error of the kind that
// carries no Error (with a message of its own) or FieldError.
var (
	NotFound    = errors.New("not found")
	Conflict    = errors.New("conflict")
	Invalid     = errors.New("invalid")
	Forbidden   = errors.New("forbidden")
	Gone        = errors.New("gone")
	Unavailable = errors.New("unavailable")
	// Unauthenticated is credentials refused: a login's username and password, a refresh
	// token. httpapi answers 401.
	Unauthenticated = errors.New("unauthenticated")
)

// Busy is a Conflict that passes on its own: what the request needs is held by work still
// running (another request holding the same Idempotency-Key), so the same request retried a
// little later may succeed. httpapi answers it 409, like any Conflict, plus Retry-After; a
// conflict with the state of things (an order already cancelled) is a plain Conflict and gets
// no Retry-After. Its message is Conflict's.
var Busy = fmt.Errorf("%w", Conflict)

// Error is a failure with a message for clients (Msg) kept apart from its cause (Err), which
// only the logs see. Kind is what callers branch on with errors.Is: one of the kinds, or a
// sentinel that is itself an Error of one (order.ErrInvalidTransition), so a specific case
// still matches the general sentinel. Error() is for logs and includes the cause.
type Error struct {
	Kind error
	Msg  string
	Err  error
}

// New returns an Error of kind telling clients msg, without a cause: for sentinels.
func New(kind error, msg string) *Error { return &Error{Kind: kind, Msg: msg} }

// Errorf returns an Error of kind telling clients the formatted message. Its arguments become
// part of what clients read: pass nothing a client must not see.
func Errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error of kind telling clients msg, with cause err for the logs.
func Wrap(kind error, msg string, err error) *Error { return &Error{Kind: kind, Msg: msg, Err: err} }

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}

// Unwrap returns the kind and, when there is one, the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Public is what a client may be told of err: the message of the outermost Error or
// FieldError in its chain, else the message of the first kind it is, else "". Nothing else of
// the chain (wrapping context, causes, a driver's words) is ever part of it.
func Public(err error) string {
	if msg, ok := public(err); ok {
		return msg
	}
	for _, kind := range []error{NotFound, Conflict, Invalid, Forbidden, Gone, Unavailable, Unauthenticated} {
		if errors.Is(err, kind) {
			return kind.Error()
		}
	}
	return ""
}

// public walks err's chain, outermost first, for an Error or a FieldError.
func public(err error) (string, bool) {
	switch e := err.(type) {
	case nil:
		return "", false
	case *Error:
		return e.Msg, true
	case *FieldError:
		return e.Error(), true
	case *Throttled:
		return e.Msg, true
	case interface{ Unwrap() error }:
		return public(e.Unwrap())
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if msg, ok := public(inner); ok {
				return msg, true
			}
		}
	}
	return "", false
}

// Throttled is a request refused for now because its caller tried too often (failed logins);
// RetryAfter says when trying again may succeed. httpapi answers 429 with Retry-After and Msg.
type Throttled struct {
	RetryAfter time.Duration
	Msg        string
}

func (e *Throttled) Error() string { return e.Msg }

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
