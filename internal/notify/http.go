package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/auth"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/fault"
	"github.com/tiffin-dev/tiffin/internal/httpapi"
	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// notifyEndpoints writes a webhook message of e for every enabled endpoint subscribed to its
// type: those of the order's restaurant's owner, and those ops registered (integrators, who
// see every order).
func (s *Service) notifyEndpoints(ctx context.Context, tx *store.Tx, e event.Envelope, orderID string, o orderFacts, now time.Time) error {
	if s.senders[Webhook] == nil {
		return nil
	}
	rows, err := tx.QueryContext(ctx,
		`SELECT id, events, owner FROM webhook_endpoints WHERE enabled = 1 AND (owner = $1 OR owner LIKE 'ops:%')`,
		"restaurant:"+o.owner)
	if err != nil {
		return fmt.Errorf("webhook endpoints: %w", err)
	}
	type endpoint struct{ id, owner string }
	var eps []endpoint
	for rows.Next() {
		var ep endpoint
		var events string
		if err := rows.Scan(&ep.id, &events, &ep.owner); err != nil {
			rows.Close()
			return err
		}
		var want []string
		if json.Unmarshal([]byte(events), &want) == nil && slices.Contains(want, string(e.Type)) {
			eps = append(eps, ep)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(eps) == 0 {
		return err
	}
	full, err := json.Marshal(map[string]any{"type": e.Type, "id": e.ID, "timestamp": e.Time, "data": e.Data})
	if err != nil {
		return err
	}
	minimal, err := json.Marshal(map[string]any{"type": e.Type, "id": e.ID, "timestamp": e.Time, "data": restaurantData(e.Data)})
	if err != nil {
		return err
	}
	for _, ep := range eps {
		body := minimal
		if strings.HasPrefix(ep.owner, "ops:") {
			body = full
		}
		if err := s.write(ctx, tx, e, Webhook, ep.id, string(e.Type), orderID, body, now); err != nil {
			return err
		}
	}
	return nil
}

// restaurantData is an event's data as a restaurant's endpoint is sent it: without the
// customer's ID (docs/security.md, API3); what a restaurant needs to cook is the order itself.
func restaurantData(data json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return data
	}
	delete(m, "customer_id")
	out, err := json.Marshal(m)
	if err != nil {
		return data
	}
	return out
}

// Endpoint is a registered webhook endpoint.
type Endpoint struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description,omitempty"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	FailingSince   time.Time `json:"failing_since,omitzero"`
	CreatedAt      time.Time `json:"created_at"`
	// Secret is shown once, when the endpoint is created.
	Secret string `json:"secret,omitempty" doc:"The whsec_ signing secret; shown once, at creation."`
}

type createInput struct {
	Body struct {
		URL         string   `json:"url" minLength:"1" maxLength:"2048" doc:"https (or http) URL that receives the POSTs."`
		Events      []string `json:"events" minItems:"1" maxItems:"20" doc:"Event types wanted, e.g. order.accepted, shipment.shipped."`
		Description string   `json:"description,omitempty" maxLength:"200"`
	}
}

type endpointOutput struct {
	Status int
	Body   Endpoint
}

type endpointsOutput struct {
	Body struct {
		Endpoints []Endpoint `json:"endpoints"`
	}
}

type idInput struct {
	ID string `path:"id" maxLength:"64"`
}

type replayInput struct {
	ID    string    `path:"id" maxLength:"64"`
	Since time.Time `query:"since" required:"true" doc:"RFC 3339: replay every message to this endpoint written since then."`
}

type replayOutput struct {
	Body struct {
		Replayed int64 `json:"replayed"`
	}
}

type deliveriesInput struct {
	ID    string `path:"id" maxLength:"64"`
	State string `query:"state" enum:"pending,sent,dead"`
	After string `query:"after" maxLength:"64"`
	Limit int    `query:"limit" minimum:"0" maximum:"500"`
}

// DeliveryView is one message to an endpoint.
type DeliveryView struct {
	ID        string `json:"id" doc:"Also its webhook-id."`
	EventType string `json:"event_type"`
	OrderID   string `json:"order_id,omitempty"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts" doc:"Failed attempts (since the last replay)."`
	LastError string `json:"last_error,omitempty"`
	// NextAttemptAt is when a pending delivery is tried next.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
}

type deliveriesOutput struct {
	Body struct {
		Deliveries []DeliveryView `json:"deliveries"`
		Next       string         `json:"next,omitempty"`
	}
}

// Notification is one entry of an inbox.
type Notification struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	OrderID   string    `json:"order_id,omitempty"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

type inboxInput struct {
	After string `query:"after" maxLength:"64" doc:"The last ID of the previous page (newest first)."`
	Limit int    `query:"limit" minimum:"0" maximum:"100"`
}

type inboxOutput struct {
	Body struct {
		Notifications []Notification `json:"notifications"`
		Next          string         `json:"next,omitempty"`
	}
}

// Register adds GET /v1/notifications (any signed-in principal: their inbox, newest first)
// and the webhook routes: POST/GET /v1/webhooks, GET/DELETE /v1/webhooks/{id},
// GET /v1/webhooks/{id}/deliveries and POST /v1/webhooks/{id}/replay (restaurants for their
// restaurants' orders, ops for every order).
func (s *Service) Register(srv *httpapi.Server) {
	owners := []auth.Role{auth.Restaurant, auth.Ops}
	tags := []string{"notifications"}

	httpapi.Handle(srv, huma.Operation{
		OperationID: "list-notifications", Method: http.MethodGet, Path: "/v1/notifications", Tags: tags,
		Summary: "list the in-app notifications of the signed-in principal, newest first",
	}, []auth.Role{auth.Customer, auth.Restaurant, auth.Courier, auth.Ops}, func(ctx context.Context, p auth.Principal, in *inboxInput) (*inboxOutput, error) {
		limit := cmpOr(in.Limit, 50)
		q := `SELECT id, kind, order_id, title, body, created_at FROM notifications WHERE recipient = $1 AND ($2 = '' OR id < $3) ORDER BY id DESC LIMIT $4`
		rows, err := s.db.QueryContext(ctx, q, principal(p), in.After, in.After, limit+1)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := &inboxOutput{}
		out.Body.Notifications = []Notification{}
		for rows.Next() {
			var n Notification
			var at int64
			if err := rows.Scan(&n.ID, &n.Kind, &n.OrderID, &n.Title, &n.Body, &at); err != nil {
				return nil, err
			}
			n.CreatedAt = store.Time(at)
			if len(out.Body.Notifications) == limit {
				out.Body.Next = out.Body.Notifications[limit-1].ID
				break
			}
			out.Body.Notifications = append(out.Body.Notifications, n)
		}
		return out, rows.Err()
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "create-webhook", Method: http.MethodPost, Path: "/v1/webhooks", Tags: tags,
		Summary:       "register a webhook endpoint",
		Description:   "Deliveries are signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256 under the returned whsec_ secret), retried with backoff for up to 3 days, in order per order. URLs that resolve to loopback, private, link-local or metadata addresses are refused, at registration and at every delivery (redirects too).",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusUnprocessableEntity},
	}, owners, func(ctx context.Context, p auth.Principal, in *createInput) (*endpointOutput, error) {
		ep, err := s.CreateEndpoint(ctx, p, in.Body.URL, in.Body.Events, in.Body.Description)
		if err != nil {
			return nil, err
		}
		return &endpointOutput{Status: http.StatusCreated, Body: ep}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "list-webhooks", Method: http.MethodGet, Path: "/v1/webhooks", Tags: tags, Summary: "list your webhook endpoints",
	}, owners, func(ctx context.Context, p auth.Principal, _ *struct{}) (*endpointsOutput, error) {
		list, err := s.endpoints(ctx, `owner = $1`, principal(p))
		if err != nil {
			return nil, err
		}
		out := &endpointsOutput{}
		out.Body.Endpoints = list
		return out, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "get-webhook", Method: http.MethodGet, Path: "/v1/webhooks/{id}", Tags: tags, Summary: "read a webhook endpoint",
		Errors: []int{http.StatusNotFound},
	}, owners, func(ctx context.Context, p auth.Principal, in *idInput) (*endpointOutput, error) {
		ep, err := s.endpointOf(ctx, p, in.ID)
		if err != nil {
			return nil, err
		}
		return &endpointOutput{Status: http.StatusOK, Body: ep}, nil
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/v1/webhooks/{id}", Tags: tags,
		Summary: "remove a webhook endpoint (its pending deliveries are dropped)", DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}, owners, func(ctx context.Context, p auth.Principal, in *idInput) (*struct{}, error) {
		if _, err := s.endpointOf(ctx, p, in.ID); err != nil {
			return nil, err
		}
		return nil, s.db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, in.ID); err != nil {
				return err
			}
			if err := audit.Record(ctx, tx, principal(p), "webhook.delete", "webhook:"+in.ID, nil, s.cfg.Now()); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE notify_messages SET state = 'dead', next_attempt_at = NULL, last_error = 'endpoint removed'
				WHERE channel = 'webhook' AND recipient = $1 AND state = 'pending'`, in.ID)
			return err
		})
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/v1/webhooks/{id}/deliveries", Tags: tags,
		Summary: "list an endpoint's deliveries (state=dead: its dead letters)", Errors: []int{http.StatusNotFound},
	}, owners, func(ctx context.Context, p auth.Principal, in *deliveriesInput) (*deliveriesOutput, error) {
		if _, err := s.endpointOf(ctx, p, in.ID); err != nil {
			return nil, err
		}
		limit := cmpOr(in.Limit, 100)
		rows, err := s.db.QueryContext(ctx,
			`SELECT id, kind, order_id, state, attempts, last_error, created_at, next_attempt_at FROM notify_messages
			 WHERE channel = 'webhook' AND recipient = $1 AND ($2 = '' OR state = $3) AND id > $4 ORDER BY id LIMIT $5`,
			in.ID, in.State, in.State, in.After, limit+1)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := &deliveriesOutput{}
		out.Body.Deliveries = []DeliveryView{}
		for rows.Next() {
			var d DeliveryView
			var at int64
			var next *int64
			if err := rows.Scan(&d.ID, &d.EventType, &d.OrderID, &d.State, &d.Attempts, &d.LastError, &at, &next); err != nil {
				return nil, err
			}
			d.CreatedAt = store.Time(at)
			if next != nil && d.State == "pending" {
				d.NextAttemptAt = store.Time(*next)
			}
			if len(out.Body.Deliveries) == limit {
				out.Body.Next = out.Body.Deliveries[limit-1].ID
				break
			}
			out.Body.Deliveries = append(out.Body.Deliveries, d)
		}
		return out, rows.Err()
	})

	httpapi.Handle(srv, huma.Operation{
		OperationID: "replay-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{id}/replay", Tags: tags,
		Summary:     "deliver again every message to this endpoint written since a time",
		Description: "Sent and dead messages written since `since` are delivered again, with their original webhook-id (so a receiver that keeps them can tell repeats), in order per order; a disabled endpoint is enabled again.",
		Errors:      []int{http.StatusNotFound},
	}, owners, func(ctx context.Context, p auth.Principal, in *replayInput) (*replayOutput, error) {
		if _, err := s.endpointOf(ctx, p, in.ID); err != nil {
			return nil, err
		}
		n, err := s.Replay(ctx, in.ID, in.Since, principal(p))
		if err != nil {
			return nil, err
		}
		out := &replayOutput{}
		out.Body.Replayed = n
		return out, nil
	})
}

func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func principal(p auth.Principal) string { return string(p.Role) + ":" + p.Subject }

// CreateEndpoint registers url for p's events. The URL must be http(s) with a host that
// resolves only to addresses the service may dial (Config.Policy).
func (s *Service) CreateEndpoint(ctx context.Context, p auth.Principal, raw string, events []string, description string) (Endpoint, error) {
	if err := s.checkURL(ctx, raw); err != nil {
		return Endpoint{}, err
	}
	if len(events) == 0 {
		return Endpoint{}, fault.Field("body.events", nil, "at least one event type; known: %s", eventNames())
	}
	for i, e := range events {
		if !slices.Contains(WebhookEvents, event.Type(e)) {
			return Endpoint{}, fault.Field(fmt.Sprintf("body.events[%d]", i), e, "unknown event type; known: %s", eventNames())
		}
	}
	slices.Sort(events)
	events = slices.Compact(events)
	secret := standardwebhook.NewSecret()
	now := s.cfg.Now()
	ep := Endpoint{ID: event.NewID("whe"), URL: raw, Events: events, Description: description, Enabled: true, CreatedAt: now, Secret: secret.String()}
	evs, _ := json.Marshal(events)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO webhook_endpoints (id, owner, url, events, secret, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			ep.ID, principal(p), raw, string(evs), ep.Secret, description, store.Now(now), store.Now(now)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, principal(p), "webhook.create", "webhook:"+ep.ID, map[string]any{"events": events}, now)
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("create webhook endpoint: %w", err)
	}
	return ep, nil
}

func eventNames() string {
	out := make([]string, len(WebhookEvents))
	for i, t := range WebhookEvents {
		out[i] = string(t)
	}
	return strings.Join(out, ", ")
}

// checkURL refuses a URL that is not http(s), or whose host is (or resolves to) an address
// the policy refuses. The dial-time check (netguard) stays the guard: a name may resolve
// elsewhere later.
func (s *Service) checkURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fault.Field("body.url", nil, "an http or https URL without credentials is required")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fault.Field("body.url", nil, "the port must be 1 to 65535")
		}
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if addrs, err = net.DefaultResolver.LookupNetIP(rctx, "ip", host); err != nil || len(addrs) == 0 {
			return fault.Field("body.url", nil, "the URL's host does not resolve")
		}
	}
	for _, ip := range addrs {
		if why := s.cfg.Policy.Refused(ip.Unmap()); why != "" {
			return fault.Field("body.url", nil, "refused: the host is (or resolves to) a %s address", why)
		}
	}
	return nil
}

// endpointOf returns endpoint id if p may manage it (its owner, or ops); NotFound otherwise.
func (s *Service) endpointOf(ctx context.Context, p auth.Principal, id string) (Endpoint, error) {
	list, err := s.endpoints(ctx, `id = $1`, id)
	if err != nil {
		return Endpoint{}, err
	}
	if len(list) == 0 {
		return Endpoint{}, fault.Errorf(fault.NotFound, "no webhook endpoint %s", id)
	}
	var owner string
	if err := s.db.QueryRowContext(ctx, `SELECT owner FROM webhook_endpoints WHERE id = $1`, id).Scan(&owner); err != nil {
		return Endpoint{}, err
	}
	if p.Role != auth.Ops && owner != principal(p) {
		return Endpoint{}, fault.Errorf(fault.NotFound, "no webhook endpoint %s", id)
	}
	return list[0], nil
}

func (s *Service) endpoints(ctx context.Context, where string, arg any) ([]Endpoint, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, url, events, description, enabled, disabled_reason, failing_since, created_at FROM webhook_endpoints WHERE `+where+` ORDER BY id`, arg)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints: %w", err)
	}
	defer rows.Close()
	out := []Endpoint{}
	for rows.Next() {
		var ep Endpoint
		var events string
		var enabled int
		var failing *int64
		var created int64
		if err := rows.Scan(&ep.ID, &ep.URL, &events, &ep.Description, &enabled, &ep.DisabledReason, &failing, &created); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(events), &ep.Events); err != nil {
			return nil, fmt.Errorf("endpoint %s events: %w", ep.ID, err)
		}
		ep.Enabled, ep.CreatedAt = enabled == 1, store.Time(created)
		if failing != nil {
			ep.FailingSince = store.Time(*failing)
		}
		out = append(out, ep)
	}
	return out, rows.Err()
}

// Replay makes every sent or dead message to endpoint id written since due again (same IDs),
// and enables the endpoint. It returns how many.
func (s *Service) Replay(ctx context.Context, id string, since time.Time, actor string) (int64, error) {
	now := s.cfg.Now()
	var n int64
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET enabled = 1, disabled_reason = '', failing_since = NULL, updated_at = $1 WHERE id = $2`,
			store.Now(now), id); err != nil {
			return err
		}
		var err error
		n, err = tx.Write(ctx,
			`UPDATE notify_messages SET state = 'pending', attempts = 0, next_attempt_at = $1, last_error = '', created_at = CASE WHEN created_at < $2 THEN $3 ELSE created_at END
			 WHERE channel = 'webhook' AND recipient = $4 AND state IN ('sent', 'dead') AND created_at >= $5`,
			store.Now(now), store.Now(now.Add(-s.cfg.GiveUpAfter)), store.Now(now), id, store.Now(since))
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "webhook.replay", "webhook:"+id, map[string]any{"since": since, "messages": n}, now)
	})
	if err != nil {
		return 0, fmt.Errorf("replay webhook endpoint %s: %w", id, err)
	}
	return n, nil
}
