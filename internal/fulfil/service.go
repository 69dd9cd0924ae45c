package fulfil

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/sony/gobreaker/v2"

	"github.com/tiffin-dev/tiffin/internal/audit"
	"github.com/tiffin-dev/tiffin/internal/bus"
	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/jobs"
	"github.com/tiffin-dev/tiffin/internal/standardwebhook"
	"github.com/tiffin-dev/tiffin/internal/store"
	"github.com/tiffin-dev/tiffin/internal/telemetry"
)

// Consumer is the durable consumer name fulfil reads order events with.
const Consumer = "fulfil"

// Config configures the fulfil service. The zero value works: every default is written beside
// its field.
type Config struct {
	// CarrierName names the carrier shipments go to. Default "carrier".
	CarrierName string
	// Retry is when a failed carrier call is tried again. Default DefaultRetrySchedule.
	Retry RetrySchedule
	// PollEvery is how often a booked or shipped shipment's status is asked of the carrier, in
	// case its webhooks do not arrive. Default 5 minutes.
	PollEvery time.Duration
	// ClaimFor is how long a claimed attempt may run before another process may take it over
	// (its process died). Default 2 minutes; longer than the carrier client's timeout.
	ClaimFor time.Duration
	// SweepEvery is how often due shipments are claimed and handed to the job queue. Default 1 s.
	SweepEvery time.Duration
	// Batch is how many due shipments one sweep claims at most. Default 200.
	Batch int
	// WebhookSecret verifies the carrier's status webhooks (Standard Webhooks). Without it
	// the webhook route refuses everything and status comes from polls alone.
	WebhookSecret standardwebhook.Secret
	// WebhookTolerance is how far a webhook's timestamp may be from now. Default 5 minutes.
	WebhookTolerance time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger, Metrics: defaults slog.Default() and fresh instruments.
	Logger  *slog.Logger
	Metrics *telemetry.Metrics
	// Lead runs fn while this process holds the named lease (lease.Elector.Run), so one
	// replica sweeps at a time. Default: run fn directly.
	Lead func(ctx context.Context, name string, fn func(context.Context) error) error
}

func (c *Config) defaults() {
	if c.CarrierName == "" {
		c.CarrierName = "carrier"
	}
	if c.Retry == (RetrySchedule{}) {
		c.Retry = DefaultRetrySchedule
	}
	if c.PollEvery <= 0 {
		c.PollEvery = 5 * time.Minute
	}
	if c.ClaimFor <= 0 {
		c.ClaimFor = 2 * time.Minute
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 200
	}
	if c.WebhookTolerance <= 0 {
		c.WebhookTolerance = 5 * time.Minute
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

// Service ships orders through an outside carrier. Orders that ship by carrier get a shipment
// when their restaurant accepts them; a sweep (one replica at a time) claims the shipments
// whose next attempt is due and hands each to the job queue as one step; a step makes one
// carrier call (book, poll or cancel) and records its outcome, fenced by its claim. While the
// carrier's breaker is open the sweep claims nothing, so an outage of days is a backlog of
// rows that costs nothing; when it lets a probe through the sweep claims one shipment, and
// once the probe succeeds the whole backlog is due at once.
type Service struct {
	db      *store.DB
	bus     *bus.Bus
	jobs    *jobs.Queue
	carrier Carrier
	cfg     Config
	logger  *slog.Logger

	mu         sync.Mutex
	probeUntil time.Time // a probe was claimed while the breaker was half-open; none more till then
}

// New returns the service. It registers its job worker on q, so call it before q.Open. With
// a nil carrier (a process that has none configured) it serves the ops routes only: it works
// no steps and must not Run.
func New(db *store.DB, b *bus.Bus, q *jobs.Queue, carrier Carrier, cfg Config) *Service {
	cfg.defaults()
	s := &Service{db: db, bus: b, jobs: q, carrier: carrier, cfg: cfg, logger: cfg.Logger.With("service", "fulfil")}
	if carrier != nil {
		jobs.Register(q, &stepWorker{s: s})
	}
	return s
}

// BreakerChanged is the HTTPCarrierConfig.OnBreakerChange of the service's carrier: it logs
// the change and sets the breaker gauge.
func BreakerChanged(logger *slog.Logger, m *telemetry.Metrics) func(name string, from, to gobreaker.State) {
	return func(name string, from, to gobreaker.State) {
		m.CarrierBreaker.WithLabelValues(name).Set(float64(breakerLevel(to)))
		switch {
		case to == gobreaker.StateOpen && from == gobreaker.StateClosed:
			logger.Warn("carrier breaker open: calls stop until a probe succeeds", "carrier", name)
		case to == gobreaker.StateOpen:
			// A failed probe: every 30 s for as long as the outage lasts.
			logger.Debug("carrier probe failed: breaker open again", "carrier", name)
		case to == gobreaker.StateClosed:
			logger.Info("carrier breaker closed: the carrier answers again", "carrier", name)
		}
	}
}

func breakerLevel(s gobreaker.State) int {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	}
	return 0
}

// Run consumes the order events that start or cancel shipments and runs the sweep (under the
// "fulfil-sweep" lease) until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var consumeErr error
	var wg sync.WaitGroup
	if s.bus != nil {
		wg.Go(func() {
			defer cancel()
			consumeErr = s.bus.Consume(ctx, Consumer, orderSubjects, s.handle)
		})
	}
	if err := s.cfg.Lead(ctx, "fulfil-sweep", s.sweepLoop); err != nil && ctx.Err() == nil {
		s.logger.ErrorContext(ctx, "fulfil sweep stopped", "err", err)
	}
	cancel()
	wg.Wait()
	if consumeErr != nil {
		return fmt.Errorf("fulfil consumer: %w", consumeErr)
	}
	return nil
}

// orderSubjects are the order events fulfil acts on: acceptance starts a carrier order's
// shipment, an end cancels it.
var orderSubjects = []string{
	event.SubjectAll(event.OrderAccepted), event.SubjectAll(event.OrderCancelled),
	event.SubjectAll(event.OrderRejected), event.SubjectAll(event.OrderFailed),
}

func (s *Service) handle(ctx context.Context, e event.Envelope) error {
	var o event.Order
	if err := e.Payload(&o); err != nil {
		s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "error").Inc()
		return err
	}
	first := false
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if first, err = tx.Processed(ctx, Consumer, e.ID); err != nil || !first {
			return err
		}
		if e.Type == event.OrderAccepted {
			return s.requestTx(ctx, tx, o.OrderID)
		}
		return s.cancelTx(ctx, tx, o.OrderID, "order "+o.Status)
	})
	switch {
	case err != nil:
		s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "error").Inc()
		return fmt.Errorf("fulfil: handle %s %s: %w", e.Type, e.ID, err)
	case !first:
		s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "duplicate").Inc()
	default:
		s.cfg.Metrics.Consumed.WithLabelValues(Consumer, "ok").Inc()
	}
	return nil
}

// requestTx requests the shipment of orderID if the order ships by carrier and is accepted
// (or further on, before pickup); it does nothing otherwise.
func (s *Service) requestTx(ctx context.Context, tx *store.Tx, orderID string) error {
	var (
		fulfilment, status, region, address, customer, restaurant, rName string
		lat, lng, rLat, rLng                                             float64
	)
	err := tx.QueryRowContext(ctx,
		`SELECT o.fulfilment, o.status, o.region, o.delivery_address, o.delivery_lat, o.delivery_lng, o.customer_id,
		        r.id, r.name, r.lat, r.lng
		 FROM orders o JOIN restaurants r ON r.id = o.restaurant_id WHERE o.id = $1`, orderID).
		Scan(&fulfilment, &status, &region, &address, &lat, &lng, &customer, &restaurant, &rName, &rLat, &rLng)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read order %s: %w", orderID, err)
	}
	if fulfilment != "carrier" || !shippable[status] {
		return nil
	}
	addr := map[string]any{}
	if address != "" {
		if err := json.Unmarshal([]byte(address), &addr); err != nil {
			return fmt.Errorf("order %s: delivery address: %w", orderID, err)
		}
	}
	addr["lat"], addr["lng"] = lat, lng
	recipient := map[string]any{"customer_id": customer}
	var name, phone string
	switch err := tx.QueryRowContext(ctx, `SELECT name, phone FROM customers WHERE id = $1`, customer).Scan(&name, &phone); {
	case err == nil:
		recipient["name"], recipient["phone"] = name, phone
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("order %s: read customer: %w", orderID, err)
	}
	_, err = Request(ctx, tx, NewShipment{
		OrderID: orderID, Carrier: s.cfg.CarrierName, Region: region,
		Booking: BookingRequest{
			Recipient: recipient, Address: addr,
			Parcel: map[string]any{"order_id": orderID, "pickup": map[string]any{
				"restaurant_id": restaurant, "name": rName, "lat": rLat, "lng": rLng}},
		},
	}, s.cfg.Now())
	return err
}

// shippable are the order statuses in which a carrier order needs its shipment.
var shippable = map[string]bool{"accepted": true, "preparing": true, "ready": true}

// cancelTx cancels the shipment of orderID, if it has one the carrier may still cancel: at
// once when no booking call was ever made, else through Cancelling (the carrier is asked,
// with retries).
func (s *Service) cancelTx(ctx context.Context, tx *store.Tx, orderID, why string) error {
	sh, err := ByOrder(ctx, tx, orderID)
	if errors.Is(err, ErrNoShipment) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	switch {
	case sh.State == Requested && sh.Claim == 0:
		err = MoveTx(ctx, tx, sh.ID, Requested, Cancelled, Change{Detail: why + "; never sent to the carrier"}, now)
	case sh.State == Requested || sh.State == Booked || sh.State == Failed && sh.CarrierRef == "" && sh.Claim == 0:
		to := Cancelling
		if sh.State == Failed {
			to = Cancelled
		}
		err = MoveTx(ctx, tx, sh.ID, sh.State, to, Change{Next: now, Detail: why}, now)
	default:
		return nil // shipped, delivered, being cancelled or cancelled already
	}
	if errors.Is(err, ErrMoved) {
		return nil
	}
	return err
}

// Cancel cancels shipment id (ops): as when its order ends.
func (s *Service) Cancel(ctx context.Context, id, actor string) (Shipment, error) {
	var sh Shipment
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if sh, err = Get(ctx, tx, id); err != nil {
			return err
		}
		if err := s.cancelTx(ctx, tx, sh.OrderID, "cancelled by "+actor); err != nil {
			return err
		}
		before := sh.State
		if sh, err = Get(ctx, tx, id); err != nil || sh.State == before {
			return err // nothing done (too late, or cancelled already): nothing to audit
		}
		return audit.Record(ctx, tx, actor, "shipment.cancel", "shipment:"+id, map[string]string{"from": string(before), "to": string(sh.State)}, s.cfg.Now())
	})
	return sh, err
}

// sweepLoop sweeps every SweepEvery until ctx ends.
func (s *Service) sweepLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for pass := 0; ; pass++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if ctx.Err() != nil {
			return nil
		}
		if s.db.Down() != nil {
			continue
		}
		if pass%10 == 0 {
			s.reconcileOrders(ctx)
			s.countBacklog(ctx)
		}
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "fulfil sweep", "err", err)
		}
	}
}

// reconcileOrders is the safety net behind the order events: carrier orders accepted without
// a shipment get one, and shipments of orders that ended are cancelled.
func (s *Service) reconcileOrders(ctx context.Context) {
	var missing, ended []string
	err := func() error {
		var err error
		if missing, err = store.Strings(ctx, s.db,
			`SELECT o.id FROM orders o WHERE o.fulfilment = 'carrier' AND o.status IN ('accepted', 'preparing', 'ready')
			   AND NOT EXISTS (SELECT 1 FROM shipments sh WHERE sh.order_id = o.id) LIMIT 200`); err != nil {
			return err
		}
		ended, err = store.Strings(ctx, s.db,
			`SELECT sh.order_id FROM shipments sh JOIN orders o ON o.id = sh.order_id
			 WHERE sh.state IN ('requested', 'booked') AND o.status IN ('cancelled', 'rejected', 'failed') LIMIT 200`)
		return err
	}()
	if err != nil {
		if ctx.Err() == nil {
			s.logger.WarnContext(ctx, "fulfil reconcile", "err", err)
		}
		return
	}
	for _, id := range missing {
		if err := s.db.InTx(ctx, func(tx *store.Tx) error { return s.requestTx(ctx, tx, id) }); err != nil {
			s.logger.WarnContext(ctx, "request missing shipment", "order", id, "err", err)
		} else {
			s.cfg.Metrics.Reconciled.WithLabelValues("shipment_requested").Inc()
		}
	}
	for _, id := range ended {
		if err := s.db.InTx(ctx, func(tx *store.Tx) error { return s.cancelTx(ctx, tx, id, "order ended") }); err != nil {
			s.logger.WarnContext(ctx, "cancel shipment of ended order", "order", id, "err", err)
		} else {
			s.cfg.Metrics.Reconciled.WithLabelValues("shipment_cancelled").Inc()
		}
	}
}

// countBacklog sets the shipment gauges.
func (s *Service) countBacklog(ctx context.Context) {
	counts, oldest, err := Backlog(ctx, s.db, s.cfg.Now())
	if err != nil {
		return
	}
	for _, st := range States {
		s.cfg.Metrics.Shipments.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
	s.cfg.Metrics.ShipmentOldestPending.Set(oldest.Seconds())
}

// gate is how many carrier calls the sweep may start now: none while the carrier's breaker is
// open, one (the probe) when it is half-open and no probe is out, Batch when it is closed.
func (s *Service) gate(now time.Time) int {
	b, ok := s.carrier.(interface{ BreakerState() gobreaker.State })
	if !ok {
		return s.cfg.Batch
	}
	st := b.BreakerState()
	s.cfg.Metrics.CarrierBreaker.WithLabelValues(s.cfg.CarrierName).Set(float64(breakerLevel(st)))
	switch st {
	case gobreaker.StateOpen:
		return 0
	case gobreaker.StateHalfOpen:
		s.mu.Lock()
		defer s.mu.Unlock()
		if now.Before(s.probeUntil) {
			return 0
		}
		s.probeUntil = now.Add(s.cfg.ClaimFor)
		return 1
	}
	return s.cfg.Batch
}

// probeDone lets the sweep send another probe.
func (s *Service) probeDone() {
	s.mu.Lock()
	s.probeUntil = time.Time{}
	s.mu.Unlock()
}

// Sweep claims the shipments whose next attempt is due, as many as the carrier's breaker lets
// through, and inserts one step job for each in the same transaction. It returns how many it
// claimed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	limit := s.gate(now)
	if limit == 0 {
		return 0, nil
	}
	claimed := 0
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		claimed = 0
		due, err := Due(ctx, tx, now, limit)
		if err != nil {
			return err
		}
		params := make([]river.InsertManyParams, 0, len(due))
		for _, sh := range due {
			token, ok, err := Claim(ctx, tx, sh, now.Add(s.cfg.ClaimFor))
			if err != nil {
				return err
			}
			if ok {
				params = append(params, river.InsertManyParams{Args: StepArgs{ShipmentID: sh.ID, Claim: token, Resumed: sh.Calling}})
			}
		}
		if len(params) == 0 {
			return nil
		}
		if _, err := s.jobs.Client().InsertManyTx(ctx, tx.Tx, params); err != nil {
			return fmt.Errorf("insert shipment steps: %w", err)
		}
		claimed = len(params)
		return nil
	})
	if err != nil || claimed == 0 {
		if limit == 1 {
			s.probeDone()
		}
	}
	return claimed, err
}

// StepArgs is the job of one carrier call for one claimed shipment attempt.
type StepArgs struct {
	ShipmentID string `json:"shipment_id"`
	Claim      int64  `json:"claim"`
	// Resumed says the claim before this one made a call whose outcome was never recorded
	// (its process died, or its job was lost).
	Resumed bool `json:"resumed,omitempty"`
}

// Kind implements river.JobArgs.
func (StepArgs) Kind() string { return "fulfil.step" }

// InsertOpts puts steps on the fulfil queue. A step whose worker fails (the store, not the
// carrier: carrier failures are recorded on the shipment) is retried by River a few times;
// after that the claim's hold runs out and the sweep claims the shipment again.
func (StepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueFulfil, MaxAttempts: 5}
}

type stepWorker struct {
	river.WorkerDefaults[StepArgs]
	s *Service
}

// Work runs one step.
func (w *stepWorker) Work(ctx context.Context, job *river.Job[StepArgs]) error {
	return w.s.Step(ctx, job.Args)
}

// Step makes the carrier call that shipment id's claimed attempt (claim) is for and records
// its outcome: book a requested shipment (looking our reference up first when an earlier
// attempt's outcome is unknown), ask the carrier the status of a booked or shipped one, cancel
// one being cancelled. A step whose claim was taken over does nothing.
func (s *Service) Step(ctx context.Context, a StepArgs) error {
	sh, err := Get(ctx, s.db, a.ShipmentID)
	if err != nil {
		if errors.Is(err, ErrNoShipment) {
			return nil
		}
		return err
	}
	if sh.Claim != a.Claim {
		return nil // a later claim took this attempt over
	}
	probe := false
	defer func() {
		if probe {
			s.probeDone()
		}
	}()
	if b, ok := s.carrier.(interface{ BreakerState() gobreaker.State }); ok && b.BreakerState() != gobreaker.StateClosed {
		probe = true
	}
	switch sh.State {
	case Requested:
		return s.book(ctx, sh, a.Resumed)
	case Booked, Shipped:
		return s.poll(ctx, sh)
	case Cancelling:
		return s.cancelAtCarrier(ctx, sh)
	}
	return nil
}

func (s *Service) book(ctx context.Context, sh Shipment, resumed bool) error {
	// An earlier attempt's outcome is unknown when its call failed (attempts > 0: a timeout
	// may have booked) or its claim never recorded anything: ask the carrier first.
	b, err := BookOnce(ctx, s.carrier, sh.ID, sh.Booking, resumed || sh.Attempts > 0)
	s.countCall("book", err)
	now := s.cfg.Now()
	if err != nil {
		return s.failed(ctx, sh, err, now)
	}
	detail := "booked as " + b.ID
	return s.record(ctx, sh, Booked, Change{CarrierRef: b.ID, Next: now.Add(s.cfg.PollEvery), Detail: detail, Claim: sh.Claim}, now)
}

func (s *Service) poll(ctx context.Context, sh Shipment) error {
	now := s.cfg.Now()
	b, err := s.carrier.Status(ctx, sh.CarrierRef)
	s.countCall("status", err)
	if err == nil && b.Reference != sh.ID {
		// The carrier answers for a booking that is not ours (it reused an ID after losing
		// ours): ours is gone.
		err = fmt.Errorf("%w: booking %s is now %q's", ErrNotFound, sh.CarrierRef, b.Reference)
	}
	switch {
	case errors.Is(err, ErrNotFound) && sh.State == Booked:
		// The carrier lost the booking (it answered, then forgot): book again. The lookup
		// by reference before booking keeps this from booking twice if it was only slow.
		return s.record(ctx, sh, Requested, Change{Next: now, Detail: "the carrier lost booking " + sh.CarrierRef + "; booking again", Claim: sh.Claim}, now)
	case err != nil:
		return s.failed(ctx, sh, err, now)
	}
	to := b.State()
	if to == "" || !Advance(sh.State, to) {
		return s.record(ctx, sh, sh.State, Change{Next: now.Add(s.cfg.PollEvery), Claim: sh.Claim}, now)
	}
	return s.record(ctx, sh, to, Change{Next: s.nextPoll(to, now), Detail: "carrier says " + b.Status, Claim: sh.Claim}, now)
}

func (s *Service) cancelAtCarrier(ctx context.Context, sh Shipment) error {
	now := s.cfg.Now()
	ref := sh.CarrierRef
	if ref == "" {
		// A booking call was made but its answer never recorded: find what the carrier holds.
		found, err := s.carrier.FindByReference(ctx, sh.ID)
		s.countCall("lookup", err)
		if err != nil {
			return s.failed(ctx, sh, err, now)
		}
		for _, b := range found {
			if b.State() != Cancelled {
				ref = b.ID
			}
		}
		if ref == "" {
			return s.record(ctx, sh, Cancelled, Change{Detail: "the carrier holds no booking", Claim: sh.Claim}, now)
		}
	}
	b, err := s.carrier.Cancel(ctx, ref)
	s.countCall("cancel", err)
	switch {
	case errors.Is(err, ErrNotFound):
		return s.record(ctx, sh, Cancelled, Change{CarrierRef: ref, Detail: "the carrier holds no booking " + ref, Claim: sh.Claim}, now)
	case errors.Is(err, ErrTooLate):
		return s.record(ctx, sh, Shipped, Change{CarrierRef: ref, Next: now.Add(s.cfg.PollEvery), Detail: "too late to cancel: the carrier has the parcel", Claim: sh.Claim}, now)
	case err != nil:
		return s.failed(ctx, sh, err, now)
	}
	to := b.State()
	if to == "" {
		to = Cancelled
	}
	if to != Cancelled && !CanMove(Cancelling, to) {
		to = Cancelled
	}
	return s.record(ctx, sh, to, Change{CarrierRef: ref, Next: s.nextPoll(to, now), Detail: "carrier says " + b.Status, Claim: sh.Claim}, now)
}

// nextPoll is when a shipment now in st is next asked about: never once it has ended.
func (s *Service) nextPoll(st State, now time.Time) time.Time {
	if st.Terminal() || st == Failed {
		return time.Time{}
	}
	return now.Add(s.cfg.PollEvery)
}

// failed records a failed call: ErrRejected fails the shipment (a dead letter for ops), any
// other failure is retried on the schedule.
func (s *Service) failed(ctx context.Context, sh Shipment, cause error, now time.Time) error {
	if errors.Is(cause, ErrRejected) && sh.State == Requested {
		return s.record(ctx, sh, Failed, Change{Failed: true, LastError: cause.Error(), Detail: "the carrier refused the booking: " + cause.Error(), Claim: sh.Claim}, now)
	}
	next := now.Add(s.cfg.Retry.Delay(sh.Attempts + 1))
	return s.record(ctx, sh, sh.State, Change{Failed: true, LastError: cause.Error(), Next: next, Claim: sh.Claim}, now)
}

// record moves the shipment as its claimed attempt decided. A claim taken over, or a state
// moved meanwhile by a webhook, leaves the record out: the shipment has moved on.
func (s *Service) record(ctx context.Context, sh Shipment, to State, c Change, now time.Time) error {
	err := Move(ctx, s.db, sh.ID, sh.State, to, c, now)
	if errors.Is(err, ErrMoved) {
		s.logger.DebugContext(ctx, "shipment moved meanwhile; outcome not recorded", "shipment", sh.ID)
		return nil
	}
	return err
}

func (s *Service) countCall(op string, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, ErrBreakerOpen):
		result = "breaker_open"
	case errors.Is(err, ErrUnavailable):
		result = "unavailable"
	case errors.Is(err, ErrRejected):
		result = "rejected"
	case errors.Is(err, ErrNotFound):
		result = "not_found"
	case errors.Is(err, ErrTooLate):
		result = "too_late"
	default:
		result = "error"
	}
	s.cfg.Metrics.CarrierCalls.WithLabelValues(s.cfg.CarrierName, op, result).Inc()
}

// FailedShipments lists up to limit failed shipments (the fulfil dead letters) by ID after
// after.
func (s *Service) FailedShipments(ctx context.Context, after string, limit int) ([]Shipment, error) {
	return Page(ctx, s.db, Failed, after, limit)
}

// FailedCount is how many shipments are failed.
func (s *Service) FailedCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM shipments WHERE state = 'failed'`).Scan(&n)
	return n, err
}

// RedriveFailed sends failed shipments back to requested (every failed one when ids is nil),
// returning the IDs it moved; each is booked again after a lookup of our reference.
func (s *Service) RedriveFailed(ctx context.Context, ids []string, actor string) ([]string, error) {
	if ids == nil {
		var err error
		if ids, err = store.Strings(ctx, s.db, `SELECT id FROM shipments WHERE state = 'failed' ORDER BY id`); err != nil {
			return nil, err
		}
	}
	var done []string
	for _, id := range ids {
		sh, err := Get(ctx, s.db, id)
		if errors.Is(err, ErrNoShipment) || (err == nil && sh.State != Failed) {
			continue
		}
		if err != nil {
			return done, err
		}
		if _, ok, err := Retry(ctx, s.db, id, actor, s.cfg.Now()); err != nil {
			return done, err
		} else if ok {
			done = append(done, id)
		}
	}
	return done, nil
}

// DB is the service's store (for the dead-letter view's reads).
func (s *Service) DB() *store.DB { return s.db }
