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

// StripeConfig configures the Stripe provider. Key is required; the rest have defaults.
type StripeConfig struct {
	// Key is the secret API key (sk_live_..., sk_test_..., or a restricted key that may write
	// PaymentIntents and Refunds).
	Key string
	// URL is the API's base URL. Default https://api.stripe.com; tests point it at a
	// stripefake server.
	URL string
	// PaymentMethod is what every authorization is confirmed with. tiffin's checkout collects
	// no card yet, so this is a Stripe test payment method. Default "pm_card_visa".
	PaymentMethod string
	// Timeout bounds one HTTP request. Default 10s. The caller's context bounds a whole call
	// (a lookup makes several requests).
	Timeout time.Duration
	// SearchLag is how far back Lookup and Account list recent PaymentIntents when search does
	// not find an order's. Stripe's search index trails writes (under a minute usually, up to
	// an hour during incidents) and is not offered to every account (not in India). Default
	// 10m.
	SearchLag time.Duration
	// MaxScan bounds how many PaymentIntents that listing reads. When the window holds more,
	// the lookup's outcome is unknown (retried later), never "not found". Default 5000.
	MaxScan int
	// HTTPClient, when set, makes the requests and Timeout is its business.
	HTTPClient *http.Client
	// Now is the clock the SearchLag window is measured on. Default time.Now.
	Now func() time.Time
}

// Metadata keys tiffin sets on Stripe objects.
const (
	stripeOrderKey = "tiffin_order" // on a PaymentIntent and its refunds: the order ID
	stripeCallKey  = "tiffin_key"   // on a refund: the idempotency key it was made under
)

// Stripe is a Provider over Stripe PaymentIntents with manual capture: Authorize creates and
// confirms a PaymentIntent (a hold), Capture captures it, Void cancels it, Refund refunds it.
// Every write carries the call's idempotency key, so Stripe replays the first answer to a
// repeat (for 24 hours, as Stripe keeps keys).
//
// Stripe cannot be asked what it did with an idempotency key, so Lookup derives the outcome
// from the order's PaymentIntent (found by its tiffin_order metadata) and its refunds: held,
// captured, cancelled, refunded under the key. stripe-go's own retries are off: the saga
// retries with the same key after looking the call up, and Stripe replays a 500 from an
// endpoint that began executing, so an immediate retry could not settle anything anyway.
type Stripe struct {
	cfg    StripeConfig
	client *stripe.Client
}

// NewStripe returns a Stripe provider.
func NewStripe(cfg StripeConfig) (*Stripe, error) {
	if strings.TrimSpace(cfg.Key) == "" {
		return nil, errors.New("payment: the Stripe provider needs a secret key")
	}
	if cfg.URL == "" {
		cfg.URL = stripe.APIURL
	}
	if cfg.PaymentMethod == "" {
		cfg.PaymentMethod = "pm_card_visa"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.SearchLag <= 0 {
		cfg.SearchLag = 10 * time.Minute
	}
	if cfg.MaxScan <= 0 {
		cfg.MaxScan = 5000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			t = t.Clone() // a pool of its own
			// Every call goes to one host, many at once (order.Config.PaymentConcurrency):
			// keep their connections, or each call beyond the default two opens a new one
			// and the closed ones pile up in TIME_WAIT.
			t.MaxIdleConnsPerHost = 128
			hc.Transport = t
		}
	}
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		HTTPClient:        hc,
		URL:               stripe.String(cfg.URL),
		MaxNetworkRetries: stripe.Int64(0),
		EnableTelemetry:   stripe.Bool(false),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	client := stripe.NewClient(cfg.Key, stripe.WithBackends(&stripe.Backends{
		API: backend, Connect: backend, Uploads: backend, MeterEvents: backend,
	}))
	return &Stripe{cfg: cfg, client: client}, nil
}

// Authorize implements Provider.
func (s *Stripe) Authorize(ctx context.Context, key string, a Amount) (_ string, err error) {
	defer calm(&err)
	p := &stripe.PaymentIntentCreateParams{
		Amount:             stripe.Int64(a.Value),
		Currency:           stripe.String(strings.ToLower(a.Currency)),
		CaptureMethod:      stripe.String(string(stripe.PaymentIntentCaptureMethodManual)),
		Confirm:            stripe.Bool(true),
		PaymentMethod:      stripe.String(s.cfg.PaymentMethod),
		PaymentMethodTypes: []*string{stripe.String("card")},
		Metadata:           map[string]string{stripeOrderKey: a.OrderID},
	}
	p.SetIdempotencyKey(key)
	pi, err := s.client.V1PaymentIntents.Create(ctx, p)
	if err != nil {
		return "", stripeError(Authorize, err)
	}
	switch {
	case pi.ID == "":
		return "", fmt.Errorf("stripe authorize: the answer names no payment intent")
	case pi.Status == stripe.PaymentIntentStatusRequiresCapture:
		return pi.ID, nil
	case declined(pi):
		return "", fmt.Errorf("%w: stripe payment intent %s is %s", ErrDeclined, pi.ID, pi.Status)
	}
	return "", fmt.Errorf("stripe authorize: payment intent %s is %s, not requires_capture", pi.ID, pi.Status)
}

// Capture implements Provider.
func (s *Stripe) Capture(ctx context.Context, key, ref string, amount int64) (err error) {
	defer calm(&err)
	p := &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(amount)}
	p.SetIdempotencyKey(key)
	pi, err := s.client.V1PaymentIntents.Capture(ctx, ref, p)
	if err != nil {
		return stripeError(Capture, err)
	}
	if pi.Status != stripe.PaymentIntentStatusSucceeded {
		return fmt.Errorf("stripe capture: payment intent %s is %s after capture", ref, pi.Status)
	}
	return nil
}

// Void implements Provider.
func (s *Stripe) Void(ctx context.Context, key, ref string) (err error) {
	defer calm(&err)
	p := &stripe.PaymentIntentCancelParams{}
	p.SetIdempotencyKey(key)
	pi, err := s.client.V1PaymentIntents.Cancel(ctx, ref, p)
	if err != nil {
		return stripeError(Void, err)
	}
	if pi.Status != stripe.PaymentIntentStatusCanceled {
		return fmt.Errorf("stripe void: payment intent %s is %s after cancel", ref, pi.Status)
	}
	return nil
}

// Refund implements Provider.
func (s *Stripe) Refund(ctx context.Context, key, ref string, amount int64) (err error) {
	defer calm(&err)
	md := map[string]string{stripeCallKey: key}
	if id, _, err := ParseKey(key); err == nil {
		md[stripeOrderKey] = id
	}
	p := &stripe.RefundCreateParams{PaymentIntent: stripe.String(ref), Amount: stripe.Int64(amount), Metadata: md}
	p.SetIdempotencyKey(key)
	re, err := s.client.V1Refunds.Create(ctx, p)
	if err != nil {
		return stripeError(Refund, err)
	}
	if !refundStands(re) {
		return fmt.Errorf("%w: stripe refund %s of %s is %s", ErrRefused, re.ID, ref, re.Status)
	}
	return nil
}

// Lookup implements Provider: it finds the order's PaymentIntent and reads whether the
// operation's effect is there. It cannot tell whether that effect came from the call under
// key or from elsewhere (a capture in the Dashboard); for the saga both mean the same.
func (s *Stripe) Lookup(ctx context.Context, key, ref string) (_ Outcome, err error) {
	defer calm(&err)
	orderID, op, err := ParseKey(key)
	if err != nil {
		return Outcome{}, err
	}
	var pi *stripe.PaymentIntent
	if ref != "" && op != Authorize {
		pi, err = s.retrieve(ctx, orderID, ref)
	} else {
		pi, err = s.find(ctx, orderID)
	}
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{Op: op, Ref: pi.ID}
	switch op {
	case Authorize:
		if pi.Status == stripe.PaymentIntentStatusProcessing {
			return Outcome{}, fmt.Errorf("stripe lookup: payment intent %s of order %s is still processing", pi.ID, orderID)
		}
		out.Declined = declined(pi)
		return out, nil
	case Capture:
		if pi.Status == stripe.PaymentIntentStatusSucceeded {
			return out, nil
		}
	case Void:
		if pi.Status == stripe.PaymentIntentStatusCanceled && !declined(pi) {
			return out, nil
		}
	case Refund:
		refunds, err := s.refunds(ctx, pi.ID)
		if err != nil {
			return Outcome{}, err
		}
		for _, re := range refunds {
			if re.Metadata[stripeCallKey] == key && refundStands(re) {
				return out, nil
			}
		}
	}
	return Outcome{}, ErrUnknownKey
}

// Account implements Provider from the order's PaymentIntent and its refunds.
func (s *Stripe) Account(ctx context.Context, orderID string) (_ Account, err error) {
	defer calm(&err)
	pi, err := s.find(ctx, orderID)
	if err != nil {
		return Account{}, err
	}
	acc := Account{Ref: pi.ID}
	switch {
	case declined(pi):
		acc.Declined = true
		return acc, nil
	case pi.Status == stripe.PaymentIntentStatusProcessing:
		return Account{}, fmt.Errorf("stripe account: payment intent %s of order %s is still processing", pi.ID, orderID)
	}
	acc.Authorized, acc.Captured = pi.Amount, pi.AmountReceived
	acc.Voided = pi.Status == stripe.PaymentIntentStatusCanceled
	if acc.Captured > 0 {
		refunds, err := s.refunds(ctx, pi.ID)
		if err != nil {
			return Account{}, err
		}
		for _, re := range refunds {
			if refundStands(re) {
				acc.Refunded += re.Amount
			}
		}
	}
	return acc, nil
}

// calm turns a panic inside stripe-go into an error whose outcome is unknown. stripe-go trusts
// the API's answers (a list page that says has_more but holds no objects panics in its
// pager); an answer is outside input, and a malformed one must not take the process down.
func calm(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("stripe: malformed answer: %v", r)
	}
}

// declined reports whether pi's confirmation failed (or was never completed): no money was
// ever held.
func declined(pi *stripe.PaymentIntent) bool {
	switch pi.Status {
	case stripe.PaymentIntentStatusRequiresPaymentMethod, stripe.PaymentIntentStatusRequiresConfirmation,
		stripe.PaymentIntentStatusRequiresAction:
		return true
	case stripe.PaymentIntentStatusCanceled:
		return pi.LastPaymentError != nil
	}
	return false
}

// refundStands reports whether a refund gives (or will give) the money back.
func refundStands(re *stripe.Refund) bool {
	switch re.Status {
	case stripe.RefundStatusSucceeded, stripe.RefundStatusPending, stripe.RefundStatusRequiresAction:
		return true
	}
	return false
}
