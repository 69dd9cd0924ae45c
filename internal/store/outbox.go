package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// OutboxRow is one event waiting in the outbox.
type OutboxRow struct {
	Seq       int64
	ID        string
	Subject   string
	Payload   []byte
	CreatedAt time.Time
}

// UnsentOutbox returns up to limit unsent outbox rows, oldest first.
func (db *DB) UnsentOutbox(ctx context.Context, limit int) ([]OutboxRow, error) {
	rows, err := db.QueryContext(ctx,
		`SELECT seq, id, subject, payload, created_at FROM outbox
		 WHERE sent_at IS NULL ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: read outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		var r OutboxRow
		var payload string
		var created int64
		if err := rows.Scan(&r.Seq, &r.ID, &r.Subject, &payload, &created); err != nil {
			return nil, fmt.Errorf("store: scan outbox: %w", err)
		}
		r.Payload, r.CreatedAt = []byte(payload), Time(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkSent marks the outbox rows with the given sequence numbers as published.
func (db *DB) MarkSent(ctx context.Context, seqs []int64, at time.Time) error {
	if len(seqs) == 0 {
		return nil
	}
	return db.InTx(ctx, func(tx *Tx) error {
		ctx := tx.bind(ctx) // the prepared statement runs outside Tx's own methods
		stmt, err := tx.PrepareContext(ctx, `UPDATE outbox SET sent_at = $1 WHERE seq = $2`)
		if err != nil {
			return fmt.Errorf("store: mark sent: %w", err)
		}
		defer stmt.Close()
		for _, s := range seqs {
			if _, err := stmt.ExecContext(ctx, Now(at), s); err != nil {
				return fmt.Errorf("store: mark sent %d: %w", s, err)
			}
		}
		return nil
	})
}

// OldestUnsent returns the creation time of the oldest unsent outbox row, or false if none.
func (db *DB) OldestUnsent(ctx context.Context) (time.Time, bool, error) {
	var created sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT MIN(created_at) FROM outbox WHERE sent_at IS NULL`).Scan(&created)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: outbox age: %w", err)
	}
	if !created.Valid {
		return time.Time{}, false, nil
	}
	return Time(created.Int64), true, nil
}

// PruneSent deletes outbox rows sent before cutoff and processed-event records older than it.
func (db *DB) PruneSent(ctx context.Context, cutoff time.Time) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1`, Now(cutoff)); err != nil {
			return fmt.Errorf("store: prune outbox: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM processed_events WHERE processed_at < $1`, Now(cutoff)); err != nil {
			return fmt.Errorf("store: prune processed events: %w", err)
		}
		return nil
	})
}
