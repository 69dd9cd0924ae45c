package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/tiffin-dev/tiffin/internal/event"
	"github.com/tiffin-dev/tiffin/internal/jobs"
	"github.com/tiffin-dev/tiffin/internal/store"
)

// sweepLoop sweeps every SweepEvery until ctx ends.
func (s *Service) sweepLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
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
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "notify sweep", "err", err)
		}
	}
}

// Sweep claims the messages due now and inserts one delivery job for each in the same
// transaction; it returns how many. A message waits while an older one to the same recipient
// on the same channel about the same order is still pending (so each order's notices reach
// a recipient in order: "shipped" before "delivered"), and a webhook while its endpoint is
// disabled. Messages past GiveUpAfter are dead.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	if err := s.giveUp(ctx, now); err != nil {
		return 0, err
	}
	if err := s.disableFailing(ctx, now); err != nil {
		return 0, err
	}
	claimed := 0
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		claimed = 0
		rows, err := tx.QueryContext(ctx,
			`SELECT m.id, m.claim, m.channel FROM notify_messages m
			 WHERE m.next_attempt_at <= $1 AND m.state = 'pending'
			   AND (m.channel <> 'webhook' OR EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = m.recipient AND w.enabled = 1))
			   AND NOT EXISTS (SELECT 1 FROM notify_messages o WHERE o.channel = m.channel AND o.recipient = m.recipient
			       AND o.order_id = m.order_id AND o.state = 'pending'
			       AND (o.created_at < m.created_at OR (o.created_at = m.created_at AND o.id < m.id)))
			 ORDER BY m.next_attempt_at LIMIT $2`, store.Now(now), s.cfg.Batch)
		if err != nil {
			return fmt.Errorf("due notifications: %w", err)
		}
		type due struct {
			id, channel string
			claim       int64
		}
		var list []due
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.id, &d.claim, &d.channel); err != nil {
				rows.Close()
				return err
			}
			list = append(list, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		params := make([]river.InsertManyParams, 0, len(list))
		for _, d := range list {
			n, err := tx.Write(ctx,
				`UPDATE notify_messages SET claim = claim + 1, calling = 1, next_attempt_at = $1
				 WHERE id = $2 AND claim = $3 AND state = 'pending'`,
				store.Now(now.Add(s.cfg.ClaimFor)), d.id, d.claim)
			if err != nil {
				return fmt.Errorf("claim notification %s: %w", d.id, err)
			}
			if n == 1 {
				params = append(params, river.InsertManyParams{Args: DeliverArgs{MessageID: d.id, Claim: d.claim + 1}})
			}
		}
		if len(params) == 0 {
			return nil
		}
		if _, err := s.jobs.Client().InsertManyTx(ctx, tx.Tx, params); err != nil {
			return fmt.Errorf("insert deliveries: %w", err)
		}
		claimed = len(params)
		return nil
	})
	return claimed, err
}

// giveUp marks dead every pending message written more than GiveUpAfter ago and not under
// way.
func (s *Service) giveUp(ctx context.Context, now time.Time) error {
	rows, err := s.db.QueryContext(ctx,
		`SELECT channel, COUNT(*) FROM notify_messages WHERE state = 'pending' AND calling = 0 AND created_at < $1 GROUP BY channel`,
		store.Now(now.Add(-s.cfg.GiveUpAfter)))
	if err != nil {
		return fmt.Errorf("notifications to give up: %w", err)
	}
	counts := map[string]int{}
	for rows.Next() {
		var ch string
		var n int
		if err := rows.Scan(&ch, &n); err != nil {
			rows.Close()
			return err
		}
		counts[ch] = n
	}
	rows.Close()
	if len(counts) == 0 {
		return nil
	}
	if _, err := s.db.Write(ctx,
		`UPDATE notify_messages SET state = 'dead', next_attempt_at = NULL,
		   last_error = CASE WHEN last_error = '' THEN 'not delivered in time' ELSE last_error END
		 WHERE state = 'pending' AND calling = 0 AND created_at < $1`,
		store.Now(now.Add(-s.cfg.GiveUpAfter))); err != nil {
		return fmt.Errorf("give up notifications: %w", err)
	}
	for ch, n := range counts {
		s.cfg.Metrics.Notifications.WithLabelValues(ch, "dead").Add(float64(n))
		s.logger.WarnContext(ctx, "notifications given up: not delivered in time", "channel", ch, "messages", n, "after", s.cfg.GiveUpAfter)
	}
	return nil
}

// DeliverArgs is the job of one claimed delivery attempt.
type DeliverArgs struct {
	MessageID string `json:"message_id"`
	Claim     int64  `json:"claim"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "notify.deliver" }

// InsertOpts puts deliveries on the notify queue; a worker error (the store, not the
// channel: channel failures are recorded on the message) is retried by River a few times,
// then the claim's hold runs out and the sweep claims the message again.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueNotify, MaxAttempts: 5}
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

// Work delivers one message.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.s.Deliver(ctx, job.Args)
}

// Deliver makes the claimed attempt a of a message and records its outcome, fenced by the
// claim: sent; failed, to be retried after Backoff; or dead (a permanent failure).
func (s *Service) Deliver(ctx context.Context, a DeliverArgs) error {
	m, err := s.message(ctx, a.MessageID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Claim != a.Claim {
		return nil // taken over
	}
	snd := s.senders[m.Channel]
	if snd == nil {
		err = fmt.Errorf("%w: no %s sender configured", ErrPermanent, m.Channel)
	} else {
		err = snd.Send(ctx, m)
	}
	now := s.cfg.Now()
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		var n int64
		var werr error
		result := "sent"
		switch {
		case err == nil:
			n, werr = tx.Write(ctx, `UPDATE notify_messages SET state = 'sent', calling = 0, next_attempt_at = NULL, sent_at = $1, last_error = ''
				WHERE id = $2 AND claim = $3`, store.Now(now), m.ID, m.Claim)
		case errors.Is(err, ErrPermanent) || now.Sub(m.CreatedAt) >= s.cfg.GiveUpAfter:
			result = "dead"
			n, werr = tx.Write(ctx, `UPDATE notify_messages SET state = 'dead', calling = 0, next_attempt_at = NULL, attempts = attempts + 1, last_error = $1
				WHERE id = $2 AND claim = $3`, clip(err.Error()), m.ID, m.Claim)
		default:
			result = "failed"
			next := now.Add(s.Backoff(m.Attempts + 1))
			n, werr = tx.Write(ctx, `UPDATE notify_messages SET calling = 0, next_attempt_at = $1, attempts = attempts + 1, last_error = $2
				WHERE id = $3 AND claim = $4`, store.Now(next), clip(err.Error()), m.ID, m.Claim)
		}
		if werr != nil || n == 0 {
			return werr
		}
		tx.AfterCommit(func() { s.cfg.Metrics.Notifications.WithLabelValues(m.Channel, result).Inc() })
		if m.Channel == Webhook {
			return s.endpointOutcome(ctx, tx, m.Recipient, err == nil, now)
		}
		return nil
	})
}

func (s *Service) message(ctx context.Context, id string) (Message, error) {
	var m Message
	var payload string
	var created int64
	err := s.db.QueryRowContext(ctx,
		`SELECT id, event_id, channel, recipient, kind, order_id, payload, attempts, claim, created_at FROM notify_messages WHERE id = $1`, id).
		Scan(&m.ID, &m.EventID, &m.Channel, &m.Recipient, &m.Kind, &m.OrderID, &payload, &m.Attempts, &m.Claim, &created)
	m.Payload, m.CreatedAt = []byte(payload), store.Time(created)
	return m, err
}

// endpointOutcome keeps an endpoint's run of failures: a success ends it; a failure starts
// it, or, once it has lasted DisableAfter, disables the endpoint (disableIfFailing).
func (s *Service) endpointOutcome(ctx context.Context, tx *store.Tx, endpointID string, ok bool, now time.Time) error {
	if ok {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, endpointID)
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2 AND failing_since IS NULL`,
		store.Now(now), endpointID); err != nil {
		return err
	}
	return s.disableIfFailing(ctx, tx, endpointID, now)
}

// disableFailing disables every enabled endpoint that has failed for DisableAfter, also
// those that have no message left to fail (their messages gave up first).
func (s *Service) disableFailing(ctx context.Context, now time.Time) error {
	ids, err := store.Strings(ctx, s.db, `SELECT id FROM webhook_endpoints WHERE enabled = 1 AND failing_since < $1`,
		store.Now(now.Add(-s.cfg.DisableAfter)))
	if err != nil {
		return fmt.Errorf("failing webhook endpoints: %w", err)
	}
	for _, id := range ids {
		if err := s.db.InTx(ctx, func(tx *store.Tx) error { return s.disableIfFailing(ctx, tx, id, now) }); err != nil {
			return err
		}
	}
	return nil
}

// disableIfFailing disables endpoint id if it is enabled and has failed for DisableAfter:
// its pending messages are dead (replayable), and its owner is told in-app, besides the log
// and the metric.
func (s *Service) disableIfFailing(ctx context.Context, tx *store.Tx, endpointID string, now time.Time) error {
	var owner, url string
	var since int64
	err := tx.QueryRowContext(ctx, `SELECT owner, url, failing_since FROM webhook_endpoints WHERE id = $1 AND enabled = 1 AND failing_since IS NOT NULL`, endpointID).
		Scan(&owner, &url, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if now.Sub(store.Time(since)) < s.cfg.DisableAfter {
		return nil
	}
	reason := fmt.Sprintf("every delivery failed since %s", store.Time(since).Format(time.RFC3339))
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 WHERE id = $3`,
		reason, store.Now(now), endpointID); err != nil {
		return err
	}
	dead, err := tx.Write(ctx, `UPDATE notify_messages SET state = 'dead', next_attempt_at = NULL, last_error = 'endpoint disabled'
		WHERE channel = 'webhook' AND recipient = $1 AND state = 'pending' AND calling = 0`, endpointID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO notifications (id, recipient, kind, title, body, created_at) VALUES ($1, $2, 'webhook_disabled', $3, $4, $5)`,
		event.NewID("ntf"), owner, "Webhook endpoint disabled",
		fmt.Sprintf("Endpoint %s (%s) was disabled: %s. Fix the receiver, then replay: POST /v1/webhooks/%s/replay?since=...", endpointID, url, reason, endpointID),
		store.Now(now)); err != nil {
		return err
	}
	tx.AfterCommit(func() {
		s.cfg.Metrics.WebhookEndpointsDisabled.Inc()
		s.cfg.Metrics.Notifications.WithLabelValues(Webhook, "dead").Add(float64(dead))
		s.logger.Error("webhook endpoint disabled after sustained failure", "endpoint", endpointID, "owner", owner,
			"failing_since", store.Time(since), "messages_dead", dead)
	})
	return nil
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}

// DeadMessage is a notification given up on.
type DeadMessage struct {
	Message
	LastError string
	Payload   string
}

// Dead lists up to limit dead notifications by ID after after.
func (s *Service) Dead(ctx context.Context, after string, limit int) ([]DeadMessage, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, event_id, channel, recipient, kind, order_id, payload, attempts, created_at, last_error
		 FROM notify_messages WHERE state = 'dead' AND id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("dead notifications: %w", err)
	}
	defer rows.Close()
	var out []DeadMessage
	for rows.Next() {
		var d DeadMessage
		var created int64
		if err := rows.Scan(&d.ID, &d.EventID, &d.Channel, &d.Recipient, &d.Kind, &d.OrderID, &d.Payload, &d.Attempts, &created, &d.LastError); err != nil {
			return nil, err
		}
		d.CreatedAt = store.Time(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeadCount is how many notifications are dead.
func (s *Service) DeadCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notify_messages WHERE state = 'dead'`).Scan(&n)
	return n, err
}

// RedriveDead makes dead notifications due again with their IDs (every dead one when ids is
// nil) and another GiveUpAfter to be delivered in, returning the IDs it moved. A webhook
// whose endpoint is disabled stays waiting until the endpoint is replayed.
func (s *Service) RedriveDead(ctx context.Context, ids []string) ([]string, error) {
	if ids == nil {
		var err error
		if ids, err = store.Strings(ctx, s.db, `SELECT id FROM notify_messages WHERE state = 'dead' ORDER BY id`); err != nil {
			return nil, err
		}
	}
	now := store.Now(s.cfg.Now())
	var done []string
	for _, id := range ids {
		n, err := s.db.Write(ctx, `UPDATE notify_messages SET state = 'pending', attempts = 0, next_attempt_at = $1, created_at = $2, last_error = ''
			WHERE id = $3 AND state = 'dead'`, now, now, id)
		if err != nil {
			return done, fmt.Errorf("redrive notification %s: %w", id, err)
		}
		if n == 1 {
			done = append(done, id)
		}
	}
	return done, nil
}
