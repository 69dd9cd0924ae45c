package payment

import (
	"context"
	"errors"
	"time"
)

// Provider is a payment provider. Every call carries an idempotency key (see Key): a call
// repeated with the same key returns the first call's outcome and acts at most once. A call
// that returns an error other than ErrDeclined or ErrRefused has an unknown outcome: the
// provider may have done the work (a timeout after the charge, a 5xx, a reset connection), so
// the caller resolves it with Lookup or by repeating the call with the same key, never by
// guessing.
type Provider interface {
	// Authorize places a hold of amount (minor units of currency) for order and returns the
	// provider's reference. A refusal is ErrDeclined.
	Authorize(ctx context.Context, key string, a Amount) (ref string, err error)
	// Capture takes the held amount.
	Capture(ctx context.Context, key, ref string, amount int64) error
	// Void releases a hold that was not captured.
	Void(ctx context.Context, key, ref string) error
	// Refund gives back a captured amount.
	Refund(ctx context.Context, key, ref string, amount int64) error
	// Lookup reports what the provider did with the call made under key: ErrUnknownKey if it
	// has no record of it, the Outcome otherwise. ref is the reference the call acts on (the
	// authorization's, for a capture, void or refund; "" for an authorization), which lets a
	// provider read the one object instead of searching for it.
	Lookup(ctx context.Context, key, ref string) (Outcome, error)
	// Account is the provider's ledger for one order: what it holds, took and gave back. An
	// order the provider never saw is ErrUnknownKey.
	Account(ctx context.Context, orderID string) (Account, error)
}

// Amount is what an authorization is for.
type Amount struct {
	OrderID  string
	Value    int64 // minor units
	Currency string
}

// Outcome is what a provider did with one call.
type Outcome struct {
	Op       Op
	Ref      string
	Declined bool
}

// Account is one order's money at the provider.
type Account struct {
	Ref        string
	Authorized int64 // the hold placed, minor units (0 if none or declined)
	Captured   int64
	Refunded   int64
	Voided     bool
	Declined   bool
}

// Holding reports whether the provider still holds or keeps the customer's money: an open
// authorization or a capture not refunded.
func (a Account) Holding() bool {
	return (a.Authorized > 0 && a.Captured == 0 && !a.Voided) || a.Captured > a.Refunded
}

// Errors a Provider returns.
var (
	// ErrDeclined: the provider refused the authorization. Final.
	ErrDeclined = errors.New("payment declined")
	// ErrRefused: the provider refused the request as invalid (capturing a voided hold,
	// refunding more than was taken). Final; retrying cannot help.
	ErrRefused = errors.New("payment request refused by the provider")
	// ErrUnknownKey: Lookup or Account found no record.
	ErrUnknownKey = errors.New("payment provider has no record of this key")
)

// firstTriedKey is the context key of WithFirstTried.
type firstTriedKey struct{}

// WithFirstTried tells Lookup when the call it asks about was first claimed: nothing that call
// made at the provider can be older than that (less a few seconds for the two clocks). A
// provider whose lookup reads a lagging index can then trust the index for calls older than
// its lag, and read only the recent window for younger ones.
func WithFirstTried(ctx context.Context, t time.Time) context.Context {
	if t.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, firstTriedKey{}, t)
}

// FirstTried returns what WithFirstTried put in ctx.
func FirstTried(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(firstTriedKey{}).(time.Time)
	return t, ok
}
