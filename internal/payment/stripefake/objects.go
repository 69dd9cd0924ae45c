package stripefake

import (
	"encoding/json"
	"net/http"
	"time"
)

// PaymentIntent statuses this server produces.
const (
	statusRequiresPaymentMethod = "requires_payment_method"
	statusRequiresConfirmation  = "requires_confirmation"
	statusRequiresCapture       = "requires_capture"
	statusSucceeded             = "succeeded"
	statusCanceled              = "canceled"
)

// intent is a PaymentIntent as the server keeps it.
type intent struct {
	id            string
	amount        int64
	capturable    int64
	received      int64
	refunded      int64 // sum of its refunds that did not fail
	currency      string
	captureMethod string
	paymentMethod string
	status        string
	metadata      map[string]string
	lastError     *apiError // the decline, if its confirmation was declined
	cancelReason  string
	canceledAt    int64
	charge        string // the latest charge's ID, once confirmed
	created       time.Time
	effects       map[Effect]int // what the server did to it, replays not counted
	seq           int            // its index in Server.order
	refunds       []*refund      // its refunds, creation order
}

func (pi *intent) listID() string     { return pi.id }
func (pi *intent) createdUnix() int64 { return pi.created.Unix() }
func (r *refund) listID() string      { return r.id }
func (r *refund) createdUnix() int64  { return r.created.Unix() }

// intentJSON is the wire shape of a PaymentIntent (the fields the subset uses, plus the
// usual ones a client expects to find).
type intentJSON struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	Amount             int64             `json:"amount"`
	AmountCapturable   int64             `json:"amount_capturable"`
	AmountReceived     int64             `json:"amount_received"`
	CanceledAt         *int64            `json:"canceled_at"`
	CancellationReason *string           `json:"cancellation_reason"`
	CaptureMethod      string            `json:"capture_method"`
	ConfirmationMethod string            `json:"confirmation_method"`
	Created            int64             `json:"created"`
	Currency           string            `json:"currency"`
	LastPaymentError   *apiError         `json:"last_payment_error"`
	LatestCharge       *string           `json:"latest_charge"`
	Livemode           bool              `json:"livemode"`
	Metadata           map[string]string `json:"metadata"`
	PaymentMethod      *string           `json:"payment_method"`
	PaymentMethodTypes []string          `json:"payment_method_types"`
	Status             string            `json:"status"`
}

func (pi *intent) json() intentJSON {
	out := intentJSON{
		ID: pi.id, Object: "payment_intent", Amount: pi.amount, AmountCapturable: pi.capturable,
		AmountReceived: pi.received, CaptureMethod: pi.captureMethod, ConfirmationMethod: "automatic",
		Created: pi.created.Unix(), Currency: pi.currency, LastPaymentError: pi.lastError,
		Metadata: pi.metadata, PaymentMethodTypes: []string{"card"}, Status: pi.status,
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if pi.paymentMethod != "" {
		out.PaymentMethod = &pi.paymentMethod
	}
	if pi.charge != "" {
		out.LatestCharge = &pi.charge
	}
	if pi.status == statusCanceled {
		out.CanceledAt, out.CancellationReason = &pi.canceledAt, &pi.cancelReason
	}
	return out
}

// refund is a Refund as the server keeps it.
type refund struct {
	id       string
	amount   int64
	currency string
	intent   string
	charge   string
	status   string
	metadata map[string]string
	created  time.Time
}

type refundJSON struct {
	ID            string            `json:"id"`
	Object        string            `json:"object"`
	Amount        int64             `json:"amount"`
	Charge        string            `json:"charge"`
	Created       int64             `json:"created"`
	Currency      string            `json:"currency"`
	Metadata      map[string]string `json:"metadata"`
	PaymentIntent string            `json:"payment_intent"`
	Reason        *string           `json:"reason"`
	Status        string            `json:"status"`
}

func (r *refund) json() refundJSON {
	md := r.metadata
	if md == nil {
		md = map[string]string{}
	}
	return refundJSON{
		ID: r.id, Object: "refund", Amount: r.amount, Charge: r.charge, Created: r.created.Unix(),
		Currency: r.currency, Metadata: md, PaymentIntent: r.intent, Status: r.status,
	}
}

// listJSON is a page of a list ("object": "list") or of a search ("object": "search_result").
type listJSON struct {
	Object   string  `json:"object"`
	Data     []any   `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page,omitempty"`
	URL      string  `json:"url"`
}

// apiError is Stripe's error object, sent as {"error": {...}}.
type apiError struct {
	Type          string      `json:"type"`
	Code          string      `json:"code,omitempty"`
	DeclineCode   string      `json:"decline_code,omitempty"`
	Message       string      `json:"message"`
	Param         string      `json:"param,omitempty"`
	PaymentIntent *intentJSON `json:"payment_intent,omitempty"`
	status        int
}

// Error types.
const (
	invalidRequest = "invalid_request_error"
	cardError      = "card_error"
	idempotency    = "idempotency_error"
	apiErrorType   = "api_error"
)

func errInvalid(code, param, msg string) *apiError {
	return &apiError{Type: invalidRequest, Code: code, Param: param, Message: msg, status: http.StatusBadRequest}
}

// reply is a response the server sends (and, for a POST that began executing, keeps under
// its idempotency key).
type reply struct {
	status int
	body   []byte
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil { // every value marshalled here is a plain struct
		panic(err)
	}
	return reply{status: status, body: b}
}

func errorReply(e *apiError) reply {
	return jsonReply(e.status, map[string]*apiError{"error": e})
}

var internalError = errorReply(&apiError{
	Type: apiErrorType, Message: "An unknown error occurred (injected by stripefake).", status: http.StatusInternalServerError,
})
