package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tiffin-dev/tiffin/internal/event"
)

// Tx is one write transaction. Besides the usual query methods it takes outbox events (Emit),
// processed-event records (Processed) and functions to run once it has committed (AfterCommit).
// Use its own query methods, not those of the *sql.Tx inside: they bind each statement to the
// transaction, so none outlives it when the server stops answering.
type Tx struct {
	*sql.Tx
	dialect     Dialect
	ctx         context.Context // the transaction's; nil on SQLite
	parent      context.Context // the one InTx was given
	release     []func()        // undo bind's contexts when the transaction ends
	cache       *stmtCache
	unprepared  []string
	emitted     int
	afterCommit []func()
}

// InTx runs fn in a write transaction and commits it when fn returns nil. Everything fn wrote,
// outbox rows included, becomes visible at once or not at all. Under a context from
// WithFence, a transaction whose lease has passed to another holder is refused (ErrFenced).
// On PostgreSQL it is refused at once while the server is known down and rolled back if the
// server is found down while it runs (see Do); the error is then a fault.Down.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	if db.health == nil {
		return db.inTx(ctx, nil, fn)
	}
	op, leave, err := db.health.enter(ctx)
	if err != nil {
		return err
	}
	return leave(db.inTx(ctx, op, fn))
}

// inTx runs the transaction under op (the caller's ctx on SQLite, where op is nil).
func (db *DB) inTx(ctx, op context.Context, fn func(tx *Tx) error) error {
	begin := op
	if begin == nil {
		begin = ctx
	}
	sqlTx, err := db.writer.BeginTx(begin, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{Tx: sqlTx, dialect: db.dialect, ctx: op, parent: ctx}
	defer func() {
		for _, f := range tx.release {
			f()
		}
	}()
	if db.dialect == SQLite {
		tx.cache = &db.stmts
		defer func() { db.stmts.prepare(context.WithoutCancel(ctx), db.writer, tx.unprepared) }()
	}
	defer func() {
		// A panicking fn must not leave the transaction open: on SQLite it would hold the
		// writer's only connection forever.
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	err = tx.checkFence(ctx)
	if err == nil {
		err = fn(tx)
	}
	if err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("store: rollback: %w", rbErr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	if tx.emitted > 0 {
		select {
		case db.outbox <- struct{}{}:
		default:
		}
	}
	for _, f := range tx.afterCommit {
		f()
	}
	return nil
}

// Write runs one statement on its own (autocommit) through the writer and returns the number
// of rows it affected. Use it for single-statement writes that need no outbox row. It is
// bounded like InTx.
func (db *DB) Write(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := db.Do(ctx, func(ctx context.Context) error {
		res, err := db.writer.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("store: write: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("store: write: %w", err)
		}
		return nil
	})
	return n, err
}

// Write runs one statement in the transaction and returns the number of rows it affected.
func (tx *Tx) Write(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Querier is what a read needs: a *DB, or a *Tx to read inside a transaction.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Dialect reports which engine the transaction runs on.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// AfterCommit registers f to run after the transaction commits; it never runs on rollback.
func (tx *Tx) AfterCommit(f func()) { tx.afterCommit = append(tx.afterCommit, f) }

// Emit writes e to the outbox in this transaction. The relay publishes it after commit.
func (tx *Tx) Emit(ctx context.Context, e event.Envelope) error {
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("store: encode event %s: %w", e.Type, err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO outbox (id, subject, payload, created_at) VALUES ($1, $2, $3, $4)`,
		e.ID, e.Subject(), string(payload), Now(time.Now()))
	if err != nil {
		return fmt.Errorf("store: outbox insert %s: %w", e.Type, err)
	}
	tx.emitted++
	return nil
}

// EmitNew builds an event from payload and writes it to the outbox.
func (tx *Tx) EmitNew(ctx context.Context, t event.Type, region string, at time.Time, payload any) error {
	e, err := event.New(t, region, at, payload)
	if err != nil {
		return err
	}
	return tx.Emit(ctx, e)
}

// Processed records that consumer has handled eventID. It reports false when the record was
// already there: the event is a redelivery and the caller should do nothing.
func (tx *Tx) Processed(ctx context.Context, consumer, eventID string) (bool, error) {
	res, err := tx.ExecContext(ctx,
		`INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, $3)
		 ON CONFLICT (consumer, event_id) DO NOTHING`,
		consumer, eventID, Now(time.Now()))
	if err != nil {
		return false, fmt.Errorf("store: record processed %s/%s: %w", consumer, eventID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: record processed: %w", err)
	}
	return n == 1, nil
}

// Strings runs query on q and returns its rows' single text column.
func Strings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
