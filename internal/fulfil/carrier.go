package fulfil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Carrier is an outside carrier's API: the seam the fulfil service ships through. Every
// method may fail with ErrUnavailable (the outcome is unknown: a timeout, a refused or reset
// connection, a 5xx, an answer that does not decode, or the breaker open), ErrRejected (the
// carrier refused the request; retrying cannot help), ErrNotFound or ErrTooLate.
type Carrier interface {
	// Book asks the carrier to carry r, under idempotency key (the same for every attempt of
	// one shipment).
	Book(ctx context.Context, key string, r BookingRequest) (Booking, error)
	// FindByReference returns the carrier's bookings of our reference (none: an empty list).
	FindByReference(ctx context.Context, ref string) ([]Booking, error)
	// Status returns booking id as the carrier sees it now.
	Status(ctx context.Context, id string) (Booking, error)
	// Cancel cancels booking id: ErrTooLate once the carrier has the parcel.
	Cancel(ctx context.Context, id string) (Booking, error)
}

// BookingRequest is what a booking asks the carrier to carry.
type BookingRequest struct {
	Reference string         `json:"reference"` // ours: the shipment's ID
	Recipient map[string]any `json:"recipient,omitempty"`
	Address   map[string]any `json:"address,omitempty"`
	Parcel    map[string]any `json:"parcel,omitempty"`
}

// Booking is a booking as the carrier reports it. Status is the carrier's word ("booked",
// "picked_up", "delivered", "cancelled"); State maps it.
type Booking struct {
	ID        string    `json:"id"`
	Reference string    `json:"reference"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
}

// State is the shipment state a carrier status means ("" for one it does not know).
func (b Booking) State() State {
	switch b.Status {
	case "booked":
		return Booked
	case "picked_up", "in_transit":
		return Shipped
	case "delivered":
		return Delivered
	case "cancelled":
		return Cancelled
	case "failed", "lost", "returned":
		return Failed
	}
	return ""
}

// Errors of a Carrier.
var (
	ErrUnavailable = errors.New("carrier unavailable: outcome unknown")
	ErrRejected    = errors.New("carrier rejected the request")
	ErrNotFound    = errors.New("carrier has no such booking")
	ErrTooLate     = errors.New("carrier already has the parcel")
	// ErrBreakerOpen comes wrapped with ErrUnavailable when the breaker sent nothing.
	ErrBreakerOpen = errors.New("breaker open: nothing sent")
)

// HTTPCarrierConfig configures an HTTPCarrier.
type HTTPCarrierConfig struct {
	// Name names the carrier in errors and the breaker.
	Name string
	// BaseURL is the carrier API's base URL; Key its API key (a bearer token).
	BaseURL, Key string
	// Client makes the requests. Default: a client with a 10 s timeout.
	Client *http.Client
	// BreakerOpenFor is how long the breaker stays open once tripped before it lets one probe
	// through. Default 30 s. BreakerTrips is how many consecutive unknown outcomes trip it.
	// Default 5.
	BreakerOpenFor time.Duration
	BreakerTrips   uint32
	// OnBreakerChange is told every change of the breaker's state (metrics, logs).
	OnBreakerChange func(name string, from, to gobreaker.State)
}

// HTTPCarrier is a Carrier over the JSON API `tiffin fake carrier` speaks (see package
// carrierfake), behind a circuit breaker: after BreakerTrips consecutive unknown outcomes no
// request is sent for BreakerOpenFor, then one probe; its success closes the breaker, its
// failure opens it again. Refusals (4xx) are answers, and do not trip it.
type HTTPCarrier struct {
	cfg     HTTPCarrierConfig
	breaker *gobreaker.CircuitBreaker[[]byte]
}

// NewHTTPCarrier returns a carrier client.
func NewHTTPCarrier(cfg HTTPCarrierConfig) *HTTPCarrier {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.BreakerOpenFor <= 0 {
		cfg.BreakerOpenFor = 30 * time.Second
	}
	if cfg.BreakerTrips == 0 {
		cfg.BreakerTrips = 5
	}
	trips := cfg.BreakerTrips
	st := gobreaker.Settings{
		Name:        cfg.Name,
		MaxRequests: 1, // one probe while half-open
		Timeout:     cfg.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= trips },
		IsSuccessful: func(err error) bool {
			return err == nil || !errors.Is(err, ErrUnavailable) // an answer, even a refusal, is the carrier up
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	}
	if cfg.OnBreakerChange != nil {
		st.OnStateChange = cfg.OnBreakerChange
	}
	return &HTTPCarrier{cfg: cfg, breaker: gobreaker.NewCircuitBreaker[[]byte](st)}
}

// BreakerState is the breaker's state: closed, half-open or open.
func (c *HTTPCarrier) BreakerState() gobreaker.State { return c.breaker.State() }

// Book implements Carrier.
func (c *HTTPCarrier) Book(ctx context.Context, key string, r BookingRequest) (Booking, error) {
	var b Booking
	return b, c.call(ctx, http.MethodPost, "/v1/bookings", key, r, &b)
}

// FindByReference implements Carrier.
func (c *HTTPCarrier) FindByReference(ctx context.Context, ref string) ([]Booking, error) {
	var out struct {
		Bookings []Booking `json:"bookings"`
	}
	err := c.call(ctx, http.MethodGet, "/v1/bookings?reference="+url.QueryEscape(ref), "", nil, &out)
	return out.Bookings, err
}

// Status implements Carrier.
func (c *HTTPCarrier) Status(ctx context.Context, id string) (Booking, error) {
	var b Booking
	return b, c.call(ctx, http.MethodGet, "/v1/bookings/"+url.PathEscape(id), "", nil, &b)
}

// Cancel implements Carrier.
func (c *HTTPCarrier) Cancel(ctx context.Context, id string) (Booking, error) {
	var b Booking
	return b, c.call(ctx, http.MethodPost, "/v1/bookings/"+url.PathEscape(id)+"/cancel", "", nil, &b)
}

// call makes one request through the breaker and decodes a 2xx answer into out.
func (c *HTTPCarrier) call(ctx context.Context, method, path, key string, in, out any) error {
	body, err := c.breaker.Execute(func() ([]byte, error) { return c.do(ctx, method, path, key, in) })
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return fmt.Errorf("%w: %s: %w (%s)", ErrUnavailable, c.cfg.Name, ErrBreakerOpen, c.breaker.State())
	case err != nil:
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: %s %s: answer does not decode: %v", ErrUnavailable, method, path, err)
	}
	return nil
}

// do sends one request; a 2xx answer's body is returned.
func (c *HTTPCarrier) do(ctx context.Context, method, path, key string, in any) ([]byte, error) {
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%w: encode request: %v", ErrRejected, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.cfg.BaseURL, "/")+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s %s: %v", ErrUnavailable, method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: read answer: %v", ErrUnavailable, method, path, err)
	}
	switch {
	case resp.StatusCode/100 == 2:
		return body, nil
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s %s", ErrNotFound, method, path)
	case resp.StatusCode == http.StatusConflict:
		return nil, fmt.Errorf("%w: %s %s: %s", ErrTooLate, method, path, clip(body))
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, fmt.Errorf("%w: %s %s: %s", ErrUnavailable, method, path, resp.Status)
	}
	return nil, fmt.Errorf("%w: %s %s: %s %s", ErrRejected, method, path, resp.Status, clip(body))
}

func clip(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.TrimSpace(string(b))
}

// BookOnce books r unless the carrier already holds a booking of r.Reference. resumed says an
// earlier attempt's outcome is unknown (it timed out, or its answer was lost): then the
// carrier is asked for the reference's bookings first, and a live one is the answer, so a
// retry never books twice even with a carrier that ignores idempotency keys. A booking the
// carrier forgot (it is not found) is booked again; a lookup that fails leaves the outcome
// unknown (ErrUnavailable) and books nothing.
func BookOnce(ctx context.Context, c Carrier, key string, r BookingRequest, resumed bool) (Booking, error) {
	if resumed {
		found, err := c.FindByReference(ctx, r.Reference)
		if err != nil {
			return Booking{}, fmt.Errorf("look up %s before booking again: %w", r.Reference, err)
		}
		for _, b := range found {
			if b.State() != Cancelled {
				return b, nil
			}
		}
	}
	return c.Book(ctx, key, r)
}
