package store

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"time"

	"github.com/tiffin-dev/tiffin/internal/fault"
)

// The store's own versions of *sql.DB's methods bound every operation on PostgreSQL, so a
// server that stops answering costs a request well under two seconds, never a hang: while the
// server is known down they fail at once (fault.Down, "database unreachable"); an operation in
// flight when it is found down is cancelled; reads whose rows outlive the call are bounded by
// ReadTimeout instead. On SQLite they are *sql.DB's.

// QueryContext runs a query. Its rows must be read within ReadTimeout on PostgreSQL.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if db.health == nil {
		return db.DB.QueryContext(ctx, query, args...)
	}
	if err := db.health.check(); err != nil {
		return nil, err
	}
	done := db.health.watch()
	rows, err := db.DB.QueryContext(db.readContext(ctx), query, args...)
	return rows, done(err)
}

// QueryRowContext runs a query expected to return at most one row. While PostgreSQL is known
// down, the row's Scan fails at once with context.DeadlineExceeded (there is no time to wait
// for a server that is not answering); a *sql.Row can carry no other error before it is run.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if db.health == nil {
		return db.DB.QueryRowContext(ctx, query, args...)
	}
	if db.health.check() != nil {
		expired, cancel := context.WithDeadline(ctx, time.Unix(0, 0))
		defer cancel()
		return db.DB.QueryRowContext(expired, query, args...)
	}
	done := db.health.watch()
	row := db.DB.QueryRowContext(db.readContext(ctx), query, args...)
	done(row.Err())
	return row
}

// ExecContext runs a statement outside any transaction (through the reader pool on SQLite:
// use Write or InTx for writes there).
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.Do(ctx, func(ctx context.Context) error {
		var err error
		res, err = db.DB.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// PingContext checks that the database answers.
func (db *DB) PingContext(ctx context.Context) error {
	return db.Do(ctx, db.DB.PingContext)
}

// Do runs fn, work on the store that is finished when fn returns (a read whose rows are all
// consumed inside fn, say), under the same bounds as a transaction: on PostgreSQL it is
// refused at once while the server is known down, and cancelled if the server is found down
// while it runs; its error is a fault.Down ("database unreachable") when that is what it means.
func (db *DB) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if db.health == nil {
		return fn(ctx)
	}
	op, leave, err := db.health.enter(ctx)
	if err != nil {
		return err
	}
	return leave(fn(op))
}

// Down returns why the database is known to be unreachable (a fault.Down), or nil when it is
// not known to be: after a failed probe and until the next one succeeds. It never blocks.
func (db *DB) Down() error {
	if db.health == nil {
		return nil
	}
	return db.health.check()
}

// Classify is the package's Classify; while the server is known down it also takes a
// deadline exceeded for the database being unreachable, which is how a QueryRowContext row
// refused then reports it.
func (db *DB) Classify(err error) error {
	err = Classify(err)
	if errors.Is(err, context.DeadlineExceeded) && !Unreachable(err) {
		if db.Down() != nil {
			return &fault.Down{Dependency: Dependency, Err: err}
		}
	}
	return err
}

// readContext bounds a read whose rows are read after the call that starts it returns, so it
// can't be cancelled on return: its deadline releases it.
func (db *DB) readContext(ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, db.readTimeout) // #nosec G118 -- released by its deadline: cancelling on return would close the rows the caller reads
	_ = cancel                                              // released by the deadline; cancelling on return would close the rows
	return ctx
}

// bind returns ctx cancelled also when the transaction's own context ends (the server was
// found down), so a statement run with the caller's context can't outlive its transaction.
// The usual case, the context InTx was given, is the transaction's own context already.
func (tx *Tx) bind(ctx context.Context) context.Context {
	if tx.ctx == nil {
		return ctx
	}
	// Only pointers are compared: == on an interface holding an uncomparable value panics.
	if reflect.TypeOf(ctx).Kind() == reflect.Pointer && ctx == tx.parent {
		return tx.ctx
	}
	c, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(tx.ctx, func() { cancel(context.Cause(tx.ctx)) })
	tx.release = append(tx.release, func() {
		stop()
		cancel(nil)
	})
	return c
}
