package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// River returns the driver that River (tiffin's durable job queue, package jobs) runs on: this
// store's own write connections, so a job inserted with InsertTx on a Tx's *sql.Tx exists
// exactly when the transaction that decided it commits. On SQLite that is the single writer
// connection (never call a River method that is not a ...Tx variant inside InTx: it would wait
// for the connection the transaction holds); on PostgreSQL it is database/sql over the pgx
// pool, with the pool itself used for River's LISTEN connection. See docs/decisions/river.md.
func (db *DB) River() riverdriver.Driver[*sql.Tx] {
	if db.dialect == Postgres {
		return riverdatabasesql.NewWithPgxListener(db.writer, db.pool)
	}
	return riversqlite.New(db.writer)
}

// riverLockKey is the advisory lock that serialises River's migrations across replicas
// starting together (rivermigrate takes no lock of its own).
const riverLockKey = 7_311_950_001

// migrateRiver brings River's own tables (river_job, river_queue, river_leader, ...) up to
// the version the linked River needs. River versions its schema itself (river_migration);
// goose does not know of it. On PostgreSQL each version runs in its own transaction
// (rivermigrate's Migrate, not MigrateTx: a later version uses an enum value an earlier one
// adds, which PostgreSQL refuses in one transaction), under a session advisory lock.
func (db *DB) migrateRiver(ctx context.Context) error {
	if db.dialect == Postgres {
		conn, err := db.writer.Conn(ctx)
		if err != nil {
			return fmt.Errorf("store: river migration lock: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, riverLockKey); err != nil {
			return fmt.Errorf("store: river migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, riverLockKey) //nolint:errcheck // the session ends with the connection anyway
	}
	m, err := rivermigrate.New(db.River(), nil)
	if err != nil {
		return fmt.Errorf("store: river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("store: migrate river: %w", err)
	}
	return nil
}
