// Package notify is the notification service: it tells customers, restaurants and
// integrators what happened to orders, on three channels behind one Sender interface: in-app
// (an inbox per principal, GET /v1/notifications), e-mail (SMTP, templates per event and
// language, package email) and webhooks (endpoints registered with POST /v1/webhooks, signed
// per Standard Webhooks). Each notification is one row per (event, recipient, channel),
// written in the transaction that consumes the event, so a redelivered event notifies no one
// twice; a leased sweep claims the rows due and a River job delivers each, retried with
// backoff for up to GiveUpAfter (3 days) and then dead. Webhooks of one endpoint about one
// order go out in order; an endpoint failing for DisableAfter is disabled and its owner told.
package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/jobs"
	"github.com/tiffin-dev/tiffin/internal/netguard"
	"github.com/tiffin-dev/tiffin/internal/notify/email"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
)

// Consumer is the durable consumer name notify reads events with.
const Consumer = "notify"

// Channels.
const (
	InApp   = "in_app"
	Email   = "email"
	Webhook = "webhook"
)

// ErrPermanent, wrapped by a Sender's error, says retrying cannot help: the message is dead
// at once (an address the mail server refuses).
var ErrPermanent = errors.New("notify: permanent failure")

// Message is one notification to one recipient on one channel.
type Message struct {
	ID        string // also the e-mail's Message-ID and the webhook's webhook-id
	EventID   string
	Channel   string
	Recipient string // a principal (in_app), an address (email), an endpoint ID (webhook)
	Kind      string // accepted, courier_assigned, ... (in_app, email); the event type (webhook)
	OrderID   string
	Payload   json.RawMessage // Content (in_app, email); the webhook body (webhook)
	Attempts  int
	Claim     int64
	CreatedAt time.Time
}

// Content is what an in-app or e-mail notification says: the template data and language.
type Content struct {
	Lang string     `json:"lang,omitempty"`
	Name string     `json:"name,omitempty"` // the recipient's display name
	Data email.Data `json:"data"`
}

// Sender delivers one message on its channel. An error wrapping ErrPermanent is not retried.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Config configures the service. The zero value works except for the senders: a channel
// without one is not used.
type Config struct {
	// Senders by channel. InApp is built in (the inbox table); Email and Webhook come from the
	// app (NewSMTPSender, NewWebhookSender).
	Senders map[string]Sender
	// Retry is the delay after the n-th failed attempt: 5 s doubling to 1 h, ±20% (backoff).
	// GiveUpAfter: a message not delivered this long after it was written is dead. Default 72 h.
	RetryInitial, RetryMax time.Duration
	GiveUpAfter            time.Duration
	// DisableAfter: a webhook endpoint whose every delivery has failed for this long is
	// disabled (its pending messages dead, replayable) and its owner told. Default 72 h.
	DisableAfter time.Duration
	// ClaimFor is how long a claimed delivery may run before another process takes it over.
	// Default 2 minutes.
	ClaimFor time.Duration
	// SweepEvery is how often due messages are claimed. Default 250 ms. Batch bounds a sweep.
	// Default 500.
	SweepEvery time.Duration
	Batch      int
	// Policy says which webhook URLs may be registered (the senders' dials are checked by
	// their own policy). The zero value refuses every address that is not globally reachable.
	Policy netguard.Policy
	// Now is the clock. Default time.Now.
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *telemetry.Metrics
	// Lead runs fn while this process holds the named lease. Default: run fn directly.
	Lead func(ctx context.Context, name string, fn func(context.Context) error) error
}

func (c *Config) defaults() {
	if c.RetryInitial <= 0 {
		c.RetryInitial = 5 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Hour
	}
	if c.GiveUpAfter <= 0 {
		c.GiveUpAfter = 72 * time.Hour
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = 72 * time.Hour
	}
	if c.ClaimFor <= 0 {
		c.ClaimFor = 2 * time.Minute
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = 250 * time.Millisecond
	}
	if c.Batch <= 0 {
		c.Batch = 500
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = telemetry.NewMetrics()
	}
	if c.Lead == nil {
		c.Lead = func(ctx context.Context, _ string, fn func(context.Context) error) error { return fn(ctx) }
	}
}

// Service is the notification service.
type Service struct {
	db      *store.DB
	bus     *bus.Bus
	jobs    *jobs.Queue
	cfg     Config
	senders map[string]Sender
	logger  *slog.Logger
	tmpl    *email.Templates
}

// New returns the service; it registers its job worker on q, so call it before q.Open.
func New(db *store.DB, b *bus.Bus, q *jobs.Queue, cfg Config) (*Service, error) {
	cfg.defaults()
	tmpl, err := email.NewTemplates()
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	s := &Service{db: db, bus: b, jobs: q, cfg: cfg, logger: cfg.Logger.With("service", "notify"), tmpl: tmpl,
		senders: map[string]Sender{}}
	for ch, snd := range cfg.Senders {
		s.senders[ch] = snd
	}
	s.senders[InApp] = inAppSender{s}
	jobs.Register(q, &deliverWorker{s: s})
	return s, nil
}

// Run consumes the events that notify and runs the sweep (under the "notify-sweep" lease)
// until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var consumeErr error
	var wg sync.WaitGroup
	if s.bus != nil {
		wg.Go(func() {
			defer cancel()
			consumeErr = s.bus.Consume(ctx, Consumer, subjects, s.handle)
		})
	}
	if err := s.cfg.Lead(ctx, "notify-sweep", s.sweepLoop); err != nil && ctx.Err() == nil {
		s.logger.ErrorContext(ctx, "notify sweep stopped", "err", err)
	}
	cancel()
	wg.Wait()
	if consumeErr != nil {
		return fmt.Errorf("notify consumer: %w", consumeErr)
	}
	return nil
}

// WebhookEvents are the event types webhook endpoints may subscribe to.
var WebhookEvents = []event.Type{
	event.OrderAccepted, event.OrderPickedUp, event.OrderDelivered, event.OrderCancelled, event.OrderRejected,
	event.DeliveryAssigned,
	event.ShipmentBooked, event.ShipmentShipped, event.ShipmentDelivered, event.ShipmentCancelled, event.ShipmentFailed,
	event.PaymentRefunded,
}

var subjects = func() []string {
	out := make([]string, len(WebhookEvents))
	for i, t := range WebhookEvents {
		out[i] = event.SubjectAll(t)
	}
	return out
}()

// customerKinds is the customer notification each event gives (none for the others).
var customerKinds = map[event.Type]string{
	event.OrderAccepted: "accepted", event.DeliveryAssigned: "courier_assigned", event.OrderPickedUp: "picked_up",
	event.OrderDelivered: "delivered", event.OrderCancelled: "cancelled", event.OrderRejected: "cancelled",
	event.ShipmentShipped: "shipped", event.PaymentRefunded: "refunded",
}

func (s *Service) handle(ctx context.Context, e event.Envelope) error {
	first := false
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if first, err = tx.Processed(ctx, Consumer, e.ID); err != nil || !first {
			return err
		}
		return s.notifyTx(ctx, tx, e)
	})
	switch {
	case err != nil:
		s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "error").Inc()
		return fmt.Errorf("notify: %s %s: %w", e.Type, e.ID, err)
	case !first:
		s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "duplicate").Inc()
	default:
		s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "ok").Inc()
	}
	return nil
}

// orderFacts is what notifications say about an order.
type orderFacts struct {
	customer, restaurant, restaurantName, owner, fulfilment, currency, reason string
	total                                                                     int64
}

// notifyTx writes the notifications event e gives, in tx.
func (s *Service) notifyTx(ctx context.Context, tx *store.Tx, e event.Envelope) error {
	var ref struct {
		OrderID    string `json:"order_id"`
		CarrierRef string `json:"carrier_ref"`
	}
	if err := json.Unmarshal(e.Data, &ref); err != nil || ref.OrderID == "" {
		return nil // nothing about an order: nothing to say
	}
	var o orderFacts
	err := tx.QueryRowContext(ctx,
		`SELECT o.customer_id, o.restaurant_id, r.name, r.owner_id, o.fulfilment, o.currency, o.reason, o.total
		 FROM orders o JOIN restaurants r ON r.id = o.restaurant_id WHERE o.id = $1`, ref.OrderID).
		Scan(&o.customer, &o.restaurant, &o.restaurantName, &o.owner, &o.fulfilment, &o.currency, &o.reason, &o.total)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read order %s: %w", ref.OrderID, err)
	}
	now := s.cfg.Now()
	if kind, ok := customerKinds[e.Type]; ok && !(kind == "picked_up" && o.fulfilment == "carrier") {
		// A carrier order's pickup is its shipment's: "shipped" says it.
		if err := s.notifyCustomer(ctx, tx, e, kind, o, ref.CarrierRef, now); err != nil {
			return err
		}
	}
	return s.notifyEndpoints(ctx, tx, e, ref.OrderID, o, now)
}

func (s *Service) notifyCustomer(ctx context.Context, tx *store.Tx, e event.Envelope, kind string, o orderFacts, carrierRef string, now time.Time) error {
	var name, addr, lang, prefs string
	err := tx.QueryRowContext(ctx, `SELECT name, email, language, notify FROM customers WHERE id = $1`, o.customer).
		Scan(&name, &addr, &lang, &prefs)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read customer %s: %w", o.customer, err)
	}
	want := struct {
		Email *bool `json:"email"`
		InApp *bool `json:"in_app"`
	}{}
	if prefs != "" {
		_ = json.Unmarshal([]byte(prefs), &want) // kept valid by the customer service; unknown is default
	}
	c := Content{Lang: lang, Name: name, Data: email.Data{
		CustomerName: name, OrderID: orderIDOf(e), RestaurantName: o.restaurantName, Total: o.total,
		Currency: o.currency, CarrierRef: carrierRef, Reason: o.reason, At: e.Time,
	}}
	payload, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if want.InApp == nil || *want.InApp {
		if err := s.write(ctx, tx, e, InApp, "customer:"+o.customer, kind, c.Data.OrderID, payload, now); err != nil {
			return err
		}
	}
	if addr != "" && s.senders[Email] != nil && (want.Email == nil || *want.Email) {
		if err := s.write(ctx, tx, e, Email, addr, kind, c.Data.OrderID, payload, now); err != nil {
			return err
		}
	}
	return nil
}

// write records one message, due now; a second for the same (event, recipient, channel) is
// not written.
func (s *Service) write(ctx context.Context, tx *store.Tx, e event.Envelope, channel, recipient, kind, orderID string, payload []byte, now time.Time) error {
	// created_at orders a recipient's notices about an order (the sweep sends them in that
	// order): after the last one written, even within one millisecond.
	created := store.Now(now)
	var last int64
	if err := tx.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(created_at), 0) FROM notify_messages WHERE channel = $1 AND recipient = $2 AND order_id = $3`,
		channel, recipient, orderID).Scan(&last); err != nil {
		return fmt.Errorf("write %s notification: %w", channel, err)
	}
	created = max(created, last+1)
	_, err := tx.ExecContext(ctx,
		`INSERT INTO notify_messages (id, event_id, channel, recipient, kind, order_id, payload, state, next_attempt_at, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9) ON CONFLICT (event_id, recipient, channel) DO NOTHING`,
		event.NewID("ntf"), e.ID, channel, recipient, kind, orderID, string(payload), store.Now(now), created)
	if err != nil {
		return fmt.Errorf("write %s notification: %w", channel, err)
	}
	return nil
}

func orderIDOf(e event.Envelope) string {
	var ref struct {
		OrderID string `json:"order_id"`
	}
	_ = json.Unmarshal(e.Data, &ref)
	return ref.OrderID
}

// Backoff is the delay after the attempts-th failed delivery: RetryInitial doubling to
// RetryMax, each ±20% (cenkalti/backoff's exponential backoff).
func (s *Service) Backoff(attempts int) time.Duration {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.Multiplier, b.RandomizationFactor = s.cfg.RetryInitial, s.cfg.RetryMax, 2, 0.2
	b.Reset()
	d := b.NextBackOff()
	for range min(attempts, 64) - 1 {
		d = b.NextBackOff()
	}
	return d
}
