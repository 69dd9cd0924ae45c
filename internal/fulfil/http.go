package fulfil

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// View is a shipment as the ops routes show it.
type View struct {
	ID            string    `json:"id"`
	OrderID       string    `json:"order_id"`
	Carrier       string    `json:"carrier"`
	State         State     `json:"state"`
	CarrierRef    string    `json:"carrier_ref"`
	Attempts      int       `json:"attempts" doc:"Failed calls of the current operation."`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero" doc:"When the carrier is asked next (absent: nothing due)."`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func view(s Shipment) View {
	return View{ID: s.ID, OrderID: s.OrderID, Carrier: s.Carrier, State: s.State, CarrierRef: s.CarrierRef,
		Attempts: s.Attempts, NextAttemptAt: s.NextAttemptAt, LastError: s.LastError, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

// Detail is one shipment with its history.
type Detail struct {
	View
	History []History `json:"history"`
}

type listInput struct {
	State string `query:"state" enum:"requested,booked,shipped,delivered,cancelling,cancelled,failed" doc:"Only shipments in this state; absent: every shipment not delivered or cancelled."`
	After string `query:"after" maxLength:"64" doc:"The last ID of the previous page."`
	Limit int    `query:"limit" minimum:"0" maximum:"500" doc:"Page size; 0 means 100."`
}

type listOutput struct {
	Body struct {
		Shipments []View `json:"shipments"`
		Next      string `json:"next,omitempty" doc:"Pass as after for the next page; absent on the last."`
	}
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type detailOutput struct{ Body Detail }

type viewOutput struct{ Body View }

// Register adds the ops routes (GET /v1/ops/shipments, GET /v1/ops/shipments/{id},
// POST /v1/ops/shipments/{id}/retry, POST /v1/ops/shipments/{id}/cancel) and the carrier's
// webhook receiver, POST /v1/carriers/{carrier}/webhooks (no token: the Standard Webhooks
// signature under Config.WebhookSecret is the credential; see webhook).
func (s *Service) Register(srv *httpapi.Server) {
	ops := []auth.Role{auth.Ops}
	tags := []string{"ops"}

	httpapi.Handle(srv, huma.Operation{
		OperationID: "list-shipments", Method: http.MethodGet, Path: "/v1/ops/shipments", Tags: tags,
		Summary:     "list shipments (stuck ones: by state)",
		Description: "Without state: every shipment not yet delivered or cancelled, oldest first; `failed` ones are the carrier's dead letters.",
		Errors:      []int{http.StatusServiceUnavailable},
	}, ops, func(ctx context.Context, _ auth.Principal, in *listInput) (*listOutput, error) {
		limit := in.Limit
		if limit == 0 {
			limit = 100
		}
		list, err := Page(ctx, s.db, State(in.State), in.After, limit+1)
		if err != nil {
			return nil, err
		}
		out := &listOutput{}
		out.Body.Shipments = []View{}
		for i, sh := range list {
			if i == limit {
				out.Body.Next = list[limit-1].ID
				break
			}
			out.Body.Shipments = append(out.Body.Shipments, view(sh))
		}
		return out, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-shipment", Method: http.MethodGet, Path: "/v1/ops/shipments/{id}", Tags: tags,
		Summary: "read a shipment and its history", Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, ops, func(ctx context.Context, _ auth.Principal, in *idInput) (*detailOutput, error) {
		sh, err := Get(ctx, s.db, in.ID)
		if err != nil {
			return nil, notFound(err)
		}
		h, err := HistoryOf(ctx, s.db, in.ID)
		if err != nil {
			return nil, err
		}
		return &detailOutput{Body: Detail{View: view(sh), History: h}}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "retry-shipment", Method: http.MethodPost, Path: "/v1/ops/shipments/{id}/retry", Tags: tags,
		Summary:     "ask the carrier now",
		Description: "A waiting shipment is due at once; a failed one goes back to requested and is booked again (our reference is looked up first, so it is never booked twice). 409 for a delivered or cancelled one.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable},
	}, ops, func(ctx context.Context, p auth.Principal, in *idInput) (*viewOutput, error) {
		sh, ok, err := Retry(ctx, s.db, in.ID, string(p.Role)+":"+p.Subject, s.cfg.Now())
		if err != nil {
			return nil, notFound(err)
		}
		if !ok {
			return nil, fault.Errorf(fault.Conflict, "shipment is %s", sh.State)
		}
		return &viewOutput{Body: view(sh)}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "cancel-shipment", Method: http.MethodPost, Path: "/v1/ops/shipments/{id}/cancel", Tags: tags,
		Summary:     "cancel a shipment at the carrier",
		Description: "Cancelled at once if no booking was ever sent, else cancelling until the carrier confirms (retried). A shipment the carrier already has cannot be cancelled: 409.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable},
	}, ops, func(ctx context.Context, p auth.Principal, in *idInput) (*viewOutput, error) {
		sh, err := s.Cancel(ctx, in.ID, string(p.Role)+":"+p.Subject)
		if err != nil {
			return nil, notFound(err)
		}
		if sh.State != Cancelling && sh.State != Cancelled {
			return nil, fault.Errorf(fault.Conflict, "shipment is %s", sh.State)
		}
		return &viewOutput{Body: view(sh)}, nil
	})

	// The webhook is a plain handler: its signature covers the exact bytes, which huma's
	// body decoding would not keep.
	srv.Mux().HandleFunc("POST /v1/carriers/{carrier}/webhooks", s.webhook)
	// Its credential is the Standard Webhooks signature, declared as a security scheme of its
	// own so that every operation the document lists says how it is authenticated.
	if c := srv.API().OpenAPI().Components; c != nil {
		if c.SecuritySchemes == nil {
			c.SecuritySchemes = map[string]*huma.SecurityScheme{}
		}
		c.SecuritySchemes["webhookSignature"] = &huma.SecurityScheme{
			Type: "apiKey", In: "header", Name: "webhook-signature",
			Description: "Standard Webhooks: HMAC-SHA256 of webhook-id.webhook-timestamp.body under the carrier's whsec_ secret.",
		}
	}
	srv.API().OpenAPI().AddOperation(&huma.Operation{
		Security:    []map[string][]string{{"webhookSignature": {}}},
		OperationID: "carrier-webhook", Method: http.MethodPost, Path: "/v1/carriers/{carrier}/webhooks",
		Summary: "receive a carrier's status webhook", Tags: []string{"carriers"},
		Description: "For the carrier, not for clients: `{\"type\": \"booking.status\", \"data\": {\"id\", \"reference\", \"status\", \"updated_at\"}}`, " +
			"signed per the Standard Webhooks specification (webhook-id, webhook-timestamp within 5 minutes, webhook-signature) under the " +
			"carrier's secret (--carrier-webhook-secret). Updates move a shipment forward only: duplicates, older updates and bookings " +
			"that are not the shipment's change nothing.",
		Parameters: []*huma.Param{
			{Name: "carrier", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}},
			{Name: "webhook-id", In: "header", Required: true, Schema: &huma.Schema{Type: "string"}},
			{Name: "webhook-timestamp", In: "header", Required: true, Schema: &huma.Schema{Type: "string"}},
			{Name: "webhook-signature", In: "header", Required: true, Schema: &huma.Schema{Type: "string"}},
		},
		Responses: map[string]*huma.Response{
			"204": {Description: "Taken, or ignored (a duplicate, an older update, a reference not ours)."},
			"401": {Description: "The signature does not verify."},
			"404": {Description: "No such carrier."},
			"413": {Description: "The body is over 64 KiB."},
			"422": {Description: "The body holds no booking with our reference."},
			"503": {Description: "The update could not be recorded: send it again."},
		},
	})
}

// maxWebhookBytes bounds a carrier webhook's body.
const maxWebhookBytes = 64 << 10

// webhook receives a carrier's status webhook: {"type": "booking.status", "data": {"id",
// "reference", "status", "updated_at"}}, signed per the Standard Webhooks specification under
// Config.WebhookSecret. 204 when taken (or ignored: a duplicate, an older update, a reference
// not ours), 401 when the signature does not verify, 404 for another carrier's path, 413 for a
// body over 64 KiB, 422 for a body without a booking.
func (s *Service) webhook(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("carrier") != s.cfg.CarrierName {
		httpapi.WriteProblem(w, http.StatusNotFound, "no such carrier")
		return
	}
	if len(s.cfg.WebhookSecret) == 0 {
		httpapi.WriteProblem(w, http.StatusUnauthorized, "no webhook secret is configured for this carrier")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		httpapi.WriteProblem(w, http.StatusRequestEntityTooLarge, "a webhook body is at most 64 KiB")
		return
	case err != nil:
		httpapi.WriteProblem(w, http.StatusRequestTimeout, "the body did not arrive in time")
		return
	}
	if _, err := standardwebhook.Verify(r.Header, body, s.cfg.WebhookSecret, s.cfg.Now(), s.cfg.WebhookTolerance); err != nil {
		s.cfg.Metrics.Consumed.WithLabelValues("carrier-webhook", "refused").Inc()
		httpapi.WriteProblem(w, http.StatusUnauthorized, webhookRefusal(err))
		return
	}
	var msg struct {
		Type string  `json:"type"`
		Data Booking `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Data.Reference == "" || len(msg.Data.Reference) > 128 {
		httpapi.WriteProblem(w, http.StatusUnprocessableEntity, "body.data.reference: a booking with our reference is required")
		return
	}
	if err := s.CarrierUpdate(r.Context(), msg.Data); err != nil {
		s.logger.WarnContext(r.Context(), "carrier webhook", "reference", msg.Data.Reference, "err", err)
		httpapi.WriteProblem(w, http.StatusServiceUnavailable, "could not record the update; send it again")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// CarrierUpdate applies a booking's status as the carrier reported it (webhook): forward only,
// so a duplicate or an update older than what is known changes nothing.
func (s *Service) CarrierUpdate(ctx context.Context, b Booking) error {
	now := s.cfg.Now()
	to := b.State()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		sh, err := Get(ctx, tx, b.Reference)
		if errors.Is(err, ErrNoShipment) {
			s.logger.InfoContext(ctx, "carrier webhook for no shipment of ours", "reference", b.Reference)
			return nil
		}
		if err != nil {
			return err
		}
		if sh.CarrierRef != "" && b.ID != sh.CarrierRef {
			// Not the booking we hold (an old one, or one the carrier reused): its news is
			// not our parcel's.
			s.logger.WarnContext(ctx, "carrier webhook for a booking that is not the shipment's", "shipment", sh.ID,
				"booking", b.ID, "ours", sh.CarrierRef)
			s.cfg.Metrics.Consumed.WithLabelValues("carrier-webhook", "ignored").Inc()
			return nil
		}
		if to == "" || !Advance(sh.State, to) {
			s.cfg.Metrics.Consumed.WithLabelValues("carrier-webhook", "duplicate").Inc()
			return nil
		}
		return MoveTx(ctx, tx, sh.ID, sh.State, to, Change{CarrierRef: b.ID, Next: s.nextPoll(to, now), Detail: "carrier webhook: " + b.Status}, now)
	})
	if errors.Is(err, ErrMoved) {
		return nil
	}
	if err == nil {
		s.cfg.Metrics.Consumed.WithLabelValues("carrier-webhook", "ok").Inc()
	}
	return err
}

// webhookRefusal is what a webhook sender is told of a failed verification, in its words
// rather than the error's chain.
func webhookRefusal(err error) string {
	switch {
	case errors.Is(err, standardwebhook.ErrMissingHeader):
		return "missing webhook-id, webhook-timestamp or webhook-signature"
	case errors.Is(err, standardwebhook.ErrTimestamp):
		return "webhook-timestamp is not a Unix time within the tolerance"
	}
	return "no webhook signature matches"
}

func notFound(err error) error {
	if errors.Is(err, ErrNoShipment) {
		return fault.Wrap(fault.NotFound, "shipment not found", err)
	}
	return err
}

// Page lists shipments by ID after after: those in state, or every one not delivered or
// cancelled when state is "".
func Page(ctx context.Context, q store.Querier, state State, after string, limit int) ([]Shipment, error) {
	if state != "" {
		return list(ctx, q, `SELECT `+shipmentColumns+` FROM shipments WHERE state = $1 AND id > $2 ORDER BY id LIMIT $3`,
			string(state), after, limit)
	}
	return list(ctx, q, `SELECT `+shipmentColumns+` FROM shipments WHERE state NOT IN ('delivered', 'cancelled') AND id > $1 ORDER BY id LIMIT $2`,
		after, limit)
}
