package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tiffin-dev/tiffin/internal/store"
)

// Relay timings that are not in Config.
const (
	// relayPruneEvery is how often the relay deletes old sent rows.
	relayPruneEvery = time.Minute
	// relayRetain is how long sent outbox rows and processed-event records are kept. Consumers'
	// processed-event records must outlive any redelivery, so this is far longer than the
	// stream's dedupe window.
	relayRetain = 24 * time.Hour
	// relayMaxBackoff caps the wait between failed publish rounds.
	relayMaxBackoff = 5 * time.Second
)

// Relay moves committed events from the store's outbox to the event stream. Each row is
// published with its stored payload verbatim and Nats-Msg-Id = its event ID, then marked sent;
// a row is marked only once the stream has acknowledged it, so a crash or broker outage at any
// point republishes rather than loses, and the stream's dedupe window absorbs the repeats.
type Relay struct {
	db        *store.DB
	bus       *Bus
	log       *slog.Logger
	now       func() time.Time
	published atomic.Uint64
}

// NewRelay returns a relay from db's outbox to b. Its poll interval and batch size come from
// b's Config. A nil logger discards.
func NewRelay(db *store.DB, b *Bus, logger *slog.Logger) *Relay {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Relay{db: db, bus: b, log: logger.With("svc", "relay"), now: time.Now}
}

// Published is the number of outbox rows the relay has published and marked sent.
func (r *Relay) Published() uint64 { return r.published.Load() }

// OutboxAge is how long the oldest unsent outbox row has waited, or 0 when none is waiting.
func (r *Relay) OutboxAge(ctx context.Context) (time.Duration, error) {
	oldest, ok, err := r.db.OldestUnsent(ctx)
	if err != nil || !ok {
		return 0, err
	}
	return max(r.now().Sub(oldest), 0), nil
}

// Run relays until ctx ends, then returns nil. It publishes whenever a commit signals the
// outbox and at least every PollInterval; after a failed round it backs off (capped at 5s) and
// tries again, never skipping a row. Once a minute it prunes rows sent over a day ago.
func (r *Relay) Run(ctx context.Context) error {
	poll := time.NewTicker(r.bus.cfg.PollInterval)
	defer poll.Stop()
	prune := time.NewTicker(relayPruneEvery)
	defer prune.Stop()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 50 * time.Millisecond
	bo.Multiplier = 2
	bo.MaxInterval = relayMaxBackoff
	bo.Reset()

	for {
		n, full, err := r.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && n == 0:
			wait := bo.NextBackOff()
			r.log.Warn("outbox relay failed", "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			case <-prune.C:
				r.prune(ctx)
			}
			continue
		case err != nil:
			// Some rows went out: keep going so one bad row doesn't hold the rest back.
			r.log.Warn("outbox relay published part of a batch", "published", n, "err", err)
			continue
		case full:
			bo.Reset()
			continue
		}
		bo.Reset()
		select {
		case <-ctx.Done():
			return nil
		case <-r.db.OutboxSignal():
		case <-poll.C:
		case <-prune.C:
			r.prune(ctx)
		}
	}
}

// round publishes one batch of unsent rows and marks the acknowledged ones sent. It reports how
// many were marked and whether the batch was full (more rows are likely waiting).
func (r *Relay) round(ctx context.Context) (n int, full bool, err error) {
	limit := r.bus.cfg.RelayBatch
	rows, err := r.db.UnsentOutbox(ctx, limit)
	if err != nil {
		return 0, false, fmt.Errorf("bus: relay: %w", err)
	}
	if len(rows) == 0 {
		return 0, false, nil
	}
	futures := make([]jetstream.PubAckFuture, 0, len(rows))
	var errs []error
	for _, row := range rows {
		f, err := r.bus.js.PublishMsgAsync(&nats.Msg{Subject: row.Subject, Data: row.Payload}, jetstream.WithMsgID(row.ID))
		if err != nil {
			// Stop issuing: later rows wait for the next round, keeping order where we can.
			errs = append(errs, fmt.Errorf("bus: relay publish %s on %s: %w", row.ID, row.Subject, err))
			break
		}
		futures = append(futures, f)
	}
	sent := make([]int64, 0, len(futures))
	for i, f := range futures {
		select {
		case <-f.Ok():
			sent = append(sent, rows[i].Seq)
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("bus: relay publish %s on %s: %w", rows[i].ID, rows[i].Subject, err))
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
	if err := r.db.MarkSent(ctx, sent, r.now()); err != nil {
		return 0, false, errors.Join(append(errs, fmt.Errorf("bus: relay: %w", err))...)
	}
	r.published.Add(uint64(len(sent)))
	return len(sent), len(rows) == limit, errors.Join(errs...)
}

func (r *Relay) prune(ctx context.Context) {
	if err := r.db.PruneSent(ctx, r.now().Add(-relayRetain)); err != nil && ctx.Err() == nil {
		r.log.Warn("prune outbox", "err", err)
	}
}
