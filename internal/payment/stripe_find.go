package payment

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
)

// Bounds on what one lookup reads: search hits of one order, refunds of one PaymentIntent.
const (
	stripeMaxHits    = 100
	stripeMaxRefunds = 1000
)

// find returns the current state of order's PaymentIntent (the newest, should there be
// several), or ErrUnknownKey. It searches by metadata first; as search lags behind writes, an
// order search does not know is looked for again in the list of PaymentIntents created within
// SearchLag, which is read from the primary and never stale. Search refusing the query (an
// account without search) falls back to the list too. Any other failure, or a window too
// full to read to its end, is an unknown outcome, never a "not found".
func (s *Stripe) find(ctx context.Context, orderID string) (*stripe.PaymentIntent, error) {
	sp := &stripe.PaymentIntentSearchParams{SearchParams: stripe.SearchParams{
		Query: searchQuery(orderID), Limit: stripe.Int64(10),
	}}
	var newest *stripe.PaymentIntent
	hits := 0
	for pi, err := range s.client.V1PaymentIntents.Search(ctx, sp) {
		if err != nil {
			if err = stripeError("search", err); errors.Is(err, ErrRefused) {
				break
			}
			return nil, fmt.Errorf("stripe lookup of order %s: %w", orderID, err)
		}
		if hits++; hits > stripeMaxHits {
			return nil, fmt.Errorf("stripe lookup of order %s: more than %d search hits", orderID, stripeMaxHits)
		}
		if pi.Metadata[stripeOrderKey] == orderID && (newest == nil || pi.Created > newest.Created) {
			newest = pi
		}
	}
	if newest != nil { // search results may be stale: read the object itself
		pi, err := s.client.V1PaymentIntents.Retrieve(ctx, newest.ID, nil)
		if err != nil {
			return nil, fmt.Errorf("stripe lookup of order %s: %w", orderID, stripeError("retrieve", err))
		}
		return pi, nil
	}
	since := s.cfg.Now().Add(-s.cfg.SearchLag)
	if first, ok := FirstTried(ctx); ok {
		// Whatever the call made is no older than its first claim (less the clocks' skew).
		// (Search alone cannot be trusted for an older claim: a later attempt may have been
		// the first to reach Stripe, within the lag.)
		if from := first.Add(-stripeClockSkew); from.After(since) {
			since = from
		}
	}
	return s.list(ctx, orderID, since)
}

// retrieve reads PaymentIntent ref, which must be order's.
func (s *Stripe) retrieve(ctx context.Context, orderID, ref string) (*stripe.PaymentIntent, error) {
	pi, err := s.client.V1PaymentIntents.Retrieve(ctx, ref, nil)
	if err != nil {
		return nil, fmt.Errorf("stripe lookup of order %s: %w", orderID, stripeError("retrieve", err))
	}
	if pi.Metadata[stripeOrderKey] != orderID {
		return nil, fmt.Errorf("stripe lookup of order %s: %w: payment intent %s belongs to order %q",
			orderID, ErrRefused, ref, pi.Metadata[stripeOrderKey])
	}
	return pi, nil
}

// stripeClockSkew is how far Stripe's clock (PaymentIntent creation times) and ours may
// disagree.
const stripeClockSkew = 5 * time.Second

// list finds order's newest PaymentIntent among those created since since, newest first,
// reading at most MaxScan of them.
func (s *Stripe) list(ctx context.Context, orderID string, sinceT time.Time) (*stripe.PaymentIntent, error) {
	since := sinceT.Unix()
	lp := &stripe.PaymentIntentListParams{
		ListParams:   stripe.ListParams{Limit: stripe.Int64(100)},
		CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since},
	}
	scanned := 0
	for pi, err := range s.client.V1PaymentIntents.List(ctx, lp) {
		if err != nil {
			return nil, fmt.Errorf("stripe lookup of order %s: %w", orderID, stripeError("list", err))
		}
		if pi.Metadata[stripeOrderKey] == orderID { // newest first
			return pi, nil
		}
		if scanned++; scanned >= s.cfg.MaxScan {
			return nil, fmt.Errorf("stripe lookup of order %s: not in search, and more than %d payment intents created since %s to list",
				orderID, s.cfg.MaxScan, time.Unix(since, 0).UTC().Format(time.RFC3339))
		}
	}
	return nil, ErrUnknownKey
}

// refunds lists the refunds of PaymentIntent id.
func (s *Stripe) refunds(ctx context.Context, id string) ([]*stripe.Refund, error) {
	lp := &stripe.RefundListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(100)}, PaymentIntent: stripe.String(id)}
	var out []*stripe.Refund
	for re, err := range s.client.V1Refunds.List(ctx, lp) {
		if err != nil {
			return nil, fmt.Errorf("stripe refunds of %s: %w", id, stripeError("list refunds", err))
		}
		if len(out) == stripeMaxRefunds {
			return nil, fmt.Errorf("stripe refunds of %s: more than %d", id, stripeMaxRefunds)
		}
		out = append(out, re)
	}
	return out, nil
}

// searchQuery is Stripe's search query for an order's PaymentIntents. Quotes and backslashes
// in the ID are escaped with a backslash.
func searchQuery(orderID string) string {
	esc := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(orderID)
	return "metadata['" + stripeOrderKey + "']:'" + esc + "'"
}

// stripeError maps an error of a Stripe request to the Provider's: a declined card on an
// authorization is ErrDeclined; a request Stripe refused as invalid (400, 402 on other calls,
// 404) is ErrRefused; everything else (a connection error, a timeout, an answer that does not
// decode, 401/403, 409 for a key still in flight, 429, 5xx) leaves the outcome unknown.
func stripeError(op Op, err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("stripe %s: %w", op, err)
	}
	msg := fmt.Sprintf("stripe %s: %d %s", op, se.HTTPStatusCode, se.Type)
	if se.Code != "" {
		msg += " " + string(se.Code)
	}
	if se.DeclineCode != "" {
		msg += " (" + string(se.DeclineCode) + ")"
	}
	if se.Msg != "" {
		msg += ": " + se.Msg
	}
	switch se.HTTPStatusCode {
	case http.StatusPaymentRequired:
		if op == Authorize && se.Type == stripe.ErrorTypeCard {
			return fmt.Errorf("%w: %s", ErrDeclined, msg)
		}
		return fmt.Errorf("%w: %s", ErrRefused, msg)
	case http.StatusBadRequest, http.StatusNotFound:
		return fmt.Errorf("%w: %s", ErrRefused, msg)
	}
	return errors.New(msg)
}
